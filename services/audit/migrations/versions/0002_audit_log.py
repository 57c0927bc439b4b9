"""The audit log: entries, their erasable personal part, tree nodes, signed tree heads,
the consent history copied from events, and the after-the-fact checks.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

APPEND_ONLY = ("entries", "tree_nodes", "tree_heads", "consent_changes", "checks")

STATEMENTS = (
    """
    CREATE TABLE entries (
        seq bigint PRIMARY KEY CHECK (seq >= 0),
        event_id uuid NOT NULL UNIQUE,
        producer text NOT NULL,
        accessed_at timestamptz NOT NULL,
        recorded_at timestamptz NOT NULL,
        organisation_id text NOT NULL,
        organisation_country char(2),
        actor text NOT NULL,
        subject_id text NOT NULL,
        fields text[] NOT NULL,
        purpose text NOT NULL,
        legal_basis text NOT NULL,
        legal_reference text,
        channel text NOT NULL,
        decision text NOT NULL,
        decision_reason text,
        consent_id text,
        consent_version integer,
        grant_id text,
        personal_digest bytea NOT NULL,
        leaf_hash bytea NOT NULL
    )
    """,
    "CREATE INDEX entries_subject ON entries (subject_id, seq)",
    "CREATE INDEX entries_organisation ON entries (organisation_id, seq)",
    "CREATE INDEX entries_accessed ON entries (accessed_at, seq)",
    """
    CREATE TABLE entry_personal (
        seq bigint PRIMARY KEY REFERENCES entries (seq),
        subject_id text NOT NULL,
        salt bytea NOT NULL,
        subject_country char(2)
    )
    """,
    "CREATE INDEX entry_personal_subject ON entry_personal (subject_id)",
    """
    CREATE TABLE tree_nodes (
        level smallint NOT NULL, idx bigint NOT NULL, hash bytea NOT NULL,
        PRIMARY KEY (level, idx)
    )
    """,
    """
    CREATE TABLE tree_heads (
        tree_size bigint PRIMARY KEY, root_hash bytea NOT NULL,
        signed_at timestamptz NOT NULL, signature bytea NOT NULL, key_id text NOT NULL
    )
    """,
    """
    CREATE TABLE consent_changes (
        consent_id text NOT NULL, version integer NOT NULL, action text NOT NULL,
        user_id text NOT NULL, purpose text NOT NULL, organisation text, country char(2),
        at timestamptz NOT NULL, valid_until timestamptz,
        PRIMARY KEY (consent_id, version)
    )
    """,
    """
    CREATE TABLE checks (
        seq bigint PRIMARY KEY REFERENCES entries (seq),
        verdict text NOT NULL CHECK (verdict IN ('valid', 'violation', 'not_disclosed')),
        reason text NOT NULL, checked_at timestamptz NOT NULL
    )
    """,
    "CREATE INDEX checks_violations ON checks (seq) WHERE verdict = 'violation'",
    "CREATE TABLE erasures (user_id text PRIMARY KEY, erased_at timestamptz NOT NULL)",
    """
    CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'the audit log is append-only: % on % refused', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END $$
    """,
    *(
        statement
        for table in APPEND_ONLY
        for statement in (
            f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
                FOR EACH ROW EXECUTE FUNCTION audit_append_only()""",
            f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
                FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()""",
        )
    ),
    # The personal part may only be deleted (erasure), never changed.
    """CREATE TRIGGER entry_personal_no_update BEFORE UPDATE ON entry_personal
        FOR EACH ROW EXECUTE FUNCTION audit_append_only()""",
    """CREATE TRIGGER entry_personal_no_truncate BEFORE TRUNCATE ON entry_personal
        FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()""",
)


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    for table in (
        "erasures",
        "checks",
        "consent_changes",
        "tree_heads",
        "tree_nodes",
        "entry_personal",
        "entries",
    ):
        op.execute(f"DROP TABLE {table}")
    op.execute("DROP FUNCTION audit_append_only")
