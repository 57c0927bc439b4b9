"""Purposes, organisations, access grants, consent history, subjects.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

STATEMENTS = (
    """
    CREATE TABLE purposes (
        code text PRIMARY KEY, title text NOT NULL, description text NOT NULL,
        legal_basis text NOT NULL, implied_by_registration boolean NOT NULL,
        data_categories text[] NOT NULL, notice_text text NOT NULL, notice_version text NOT NULL
    )
    """,
    """
    CREATE TABLE organisations (
        slug text PRIMARY KEY, name text NOT NULL, country char(2), kind text NOT NULL,
        standing_access boolean NOT NULL DEFAULT false, retired_at timestamptz
    )
    """,
    """
    CREATE TABLE access_grants (
        grant_id uuid PRIMARY KEY,
        organisation text NOT NULL REFERENCES organisations (slug),
        data_categories text[] NOT NULL,
        valid_from timestamptz NOT NULL, valid_until timestamptz NOT NULL,
        revoked_at timestamptz, created_by text NOT NULL, created_at timestamptz NOT NULL,
        CHECK (valid_until > valid_from)
    )
    """,
    """
    CREATE TABLE consent_history (
        change_id uuid PRIMARY KEY,
        seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        consent_id uuid NOT NULL, version int NOT NULL, user_id text NOT NULL,
        purpose text NOT NULL REFERENCES purposes (code),
        action text NOT NULL CHECK (action IN ('granted', 'withdrawn')),
        at timestamptz NOT NULL, organisation text, country char(2),
        data_categories text[] NOT NULL, notice_version text NOT NULL,
        valid_until timestamptz, reason text, receipt jsonb NOT NULL,
        UNIQUE (consent_id, version)
    )
    """,
    "CREATE INDEX consent_history_user ON consent_history (user_id, seq)",
    """
    CREATE FUNCTION consent_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'consent_history is append-only: % refused', TG_OP;
    END $$
    """,
    """
    CREATE TRIGGER consent_history_append_only BEFORE UPDATE OR DELETE ON consent_history
        FOR EACH ROW EXECUTE FUNCTION consent_history_append_only()
    """,
    """
    CREATE TRIGGER consent_history_no_truncate BEFORE TRUNCATE ON consent_history
        FOR EACH STATEMENT EXECUTE FUNCTION consent_history_append_only()
    """,
    """
    CREATE TABLE subjects (
        user_id text PRIMARY KEY, country char(2),
        restricted boolean NOT NULL DEFAULT false, objected boolean NOT NULL DEFAULT false,
        erased_at timestamptz
    )
    """,
)


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    for table in ("subjects", "consent_history", "access_grants", "organisations", "purposes"):
        op.execute(f"DROP TABLE {table}")
    op.execute("DROP FUNCTION consent_history_append_only")
