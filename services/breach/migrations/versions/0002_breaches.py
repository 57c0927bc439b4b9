"""Breaches, their scopes and affected people, the evidence of each notice, the clock's
marks, the subjects list, the append-only timeline, and the stored clock.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from shared.clock import CLOCK_DDL

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

APPEND_ONLY = ("timeline", "outcomes")

STATEMENTS = (
    "CREATE SEQUENCE breach_reference",
    """
    CREATE TABLE breaches (
        breach_id uuid PRIMARY KEY,
        reference text NOT NULL UNIQUE,
        idempotency_key text UNIQUE,
        request_digest text,
        title text NOT NULL,
        what_happened text NOT NULL,
        kinds text[] NOT NULL,
        started_at timestamptz,
        ended_at timestamptz,
        detected_at timestamptz NOT NULL,
        aware_at timestamptz NOT NULL,
        data_categories text[] NOT NULL,
        approximate_records bigint CHECK (approximate_records >= 0),
        likely_consequences text NOT NULL,
        measures_taken text NOT NULL,
        what_you_can_do text NOT NULL,
        contact_point text NOT NULL,
        declared_by text NOT NULL,
        declared_at timestamptz NOT NULL,
        closed_at timestamptz,
        closed_by text,
        announcement_text text,
        announcement_where text,
        announcement_published_at timestamptz,
        announcement_recorded_at timestamptz,
        decision text CHECK (decision IN ('report', 'not_report')),
        decision_reason text,
        authority text,
        reported_at timestamptz,
        delay_reasons text,
        decided_at timestamptz,
        decided_by text
    )
    """,
    "CREATE INDEX breaches_open ON breaches (aware_at) WHERE closed_at IS NULL",
    """
    CREATE TABLE scopes (
        scope_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        breach_id uuid NOT NULL REFERENCES breaches (breach_id),
        kind text NOT NULL CHECK (kind IN ('users', 'organisation', 'country', 'everyone')),
        spec jsonb NOT NULL,
        cursor text,
        done boolean NOT NULL DEFAULT false,
        found bigint NOT NULL DEFAULT 0,
        added bigint NOT NULL DEFAULT 0,
        pages bigint NOT NULL DEFAULT 0,
        last_error text,
        added_by text NOT NULL,
        created_at timestamptz NOT NULL,
        finished_at timestamptz
    )
    """,
    "CREATE INDEX scopes_pending ON scopes (scope_id) WHERE NOT done",
    "CREATE INDEX scopes_breach ON scopes (breach_id, scope_id)",
    """
    CREATE TABLE affected (
        breach_id uuid NOT NULL REFERENCES breaches (breach_id),
        user_id text NOT NULL,
        scope_id bigint NOT NULL REFERENCES scopes (scope_id),
        data_categories text[] NOT NULL,
        state text NOT NULL DEFAULT 'requested'
            CHECK (state IN ('requested', 'delivered', 'uncertain', 'failed')),
        requested_at timestamptz NOT NULL,
        outcome_at timestamptz,
        delivered_at timestamptz,
        failed_at timestamptz,
        attempts integer NOT NULL DEFAULT 0,
        message_id text,
        smtp_code integer,
        smtp_reply text,
        queue_id text,
        reason text,
        detail text,
        PRIMARY KEY (breach_id, user_id)
    )
    """,
    "CREATE INDEX affected_state ON affected (breach_id, state, user_id)",
    """
    CREATE TABLE outcomes (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        event_id uuid NOT NULL UNIQUE,
        breach_id uuid NOT NULL,
        user_id text NOT NULL,
        outcome text NOT NULL CHECK (outcome IN ('delivered', 'failed')),
        at timestamptz NOT NULL,
        applied boolean NOT NULL,
        payload jsonb NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    "CREATE INDEX outcomes_person ON outcomes (breach_id, user_id, seq)",
    """
    CREATE TABLE clock_marks (
        breach_id uuid NOT NULL REFERENCES breaches (breach_id),
        mark text NOT NULL CHECK (mark IN ('warning', 'missed')),
        point_hours integer NOT NULL,
        fired_at timestamptz NOT NULL,
        pending bigint NOT NULL,
        PRIMARY KEY (breach_id, mark, point_hours)
    )
    """,
    """
    CREATE TABLE subjects (
        user_id text PRIMARY KEY,
        country char(2),
        country_at timestamptz NOT NULL,
        registered_at timestamptz NOT NULL,
        erased_at timestamptz
    )
    """,
    "CREATE INDEX subjects_country ON subjects (country, user_id)",
    """
    CREATE TABLE timeline (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        breach_id uuid NOT NULL REFERENCES breaches (breach_id),
        at timestamptz NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT now(),
        actor text NOT NULL,
        action text NOT NULL,
        detail jsonb NOT NULL DEFAULT '{}'
    )
    """,
    "CREATE INDEX timeline_breach ON timeline (breach_id, seq)",
    """
    CREATE FUNCTION breach_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'the breach % is append-only: % refused', TG_TABLE_NAME, TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END $$
    """,
    *(
        statement
        for table in APPEND_ONLY
        for statement in (
            f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
                FOR EACH ROW EXECUTE FUNCTION breach_append_only()""",
            f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
                FOR EACH STATEMENT EXECUTE FUNCTION breach_append_only()""",
        )
    ),
    *CLOCK_DDL,
)


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    for table in (
        "clock",
        "timeline",
        "subjects",
        "clock_marks",
        "outcomes",
        "affected",
        "scopes",
        "breaches",
    ):
        op.execute(f"DROP TABLE {table}")
    op.execute("DROP FUNCTION breach_append_only")
    op.execute("DROP SEQUENCE breach_reference")
