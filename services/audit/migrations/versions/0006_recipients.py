"""Recipient notices (GDPR Art. 17(2) and 19): who must be told of an erasure, a
rectification or a restriction, what they were asked, and what they answered.

Every table is evidence and append-only, like the log: the triggering events, the
sweeps that looked for recipients, the requests, the notifier's outcomes, the answers
and the escalations. A request's state (outstanding, overdue, confirmed, kept) is
derived by query. The ``clock`` table is the stored clock the escalation job may run
on (tests, the demo); in production the service runs on the system's clock.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

from shared.clock import CLOCK_DDL

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TABLES = (
    "recipient_triggers",
    "recipient_sweeps",
    "recipient_requests",
    "recipient_outcomes",
    "recipient_answers",
    "recipient_escalations",
)
"""In creation order; every one is append-only."""

STATEMENTS = (
    *CLOCK_DDL,
    """
    CREATE TABLE recipient_triggers (
        event_id      uuid PRIMARY KEY,
        user_id       text NOT NULL,
        action        text NOT NULL CHECK (action IN ('erase', 'rectify', 'restrict', 'none')),
        categories    text[],
        restricted    boolean,
        objected      boolean,
        occurred_at   timestamptz NOT NULL,
        received_at   timestamptz NOT NULL,
        settle_at     timestamptz NOT NULL,
        recheck_at    timestamptz NOT NULL
    )
    """,
    "CREATE INDEX recipient_triggers_user ON recipient_triggers (user_id, occurred_at)",
    "CREATE INDEX recipient_triggers_due ON recipient_triggers (settle_at) WHERE action <> 'none'",
    """
    CREATE TABLE recipient_sweeps (
        event_id   uuid NOT NULL REFERENCES recipient_triggers (event_id),
        pass       text NOT NULL CHECK (pass IN ('first', 'final')),
        swept_at   timestamptz NOT NULL,
        requests   integer NOT NULL,
        PRIMARY KEY (event_id, pass)
    )
    """,
    """
    CREATE TABLE recipient_requests (
        seq              bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        request_id       uuid PRIMARY KEY,
        request_key      text NOT NULL UNIQUE,
        trigger_event_id uuid NOT NULL REFERENCES recipient_triggers (event_id),
        user_id          text NOT NULL,
        organisation     text NOT NULL,
        action           text NOT NULL CHECK (action IN ('erase', 'rectify', 'restrict')),
        data_categories  text[] NOT NULL,
        last_received_at timestamptz NOT NULL,
        requested_at     timestamptz NOT NULL,
        created_at       timestamptz NOT NULL,
        respond_by       timestamptz NOT NULL
    )
    """,
    "CREATE INDEX recipient_requests_organisation ON recipient_requests (organisation, seq)",
    "CREATE INDEX recipient_requests_user ON recipient_requests (user_id, seq)",
    "CREATE INDEX recipient_requests_respond_by ON recipient_requests (respond_by)",
    """
    CREATE TABLE recipient_outcomes (
        event_id   uuid PRIMARY KEY,
        request_id uuid NOT NULL REFERENCES recipient_requests (request_id),
        outcome    text NOT NULL CHECK (outcome IN ('delivered', 'failed')),
        at         timestamptz NOT NULL,
        reason     text,
        detail     text,
        message_id text
    )
    """,
    "CREATE INDEX recipient_outcomes_request ON recipient_outcomes (request_id, at)",
    """
    CREATE TABLE recipient_answers (
        request_id  uuid PRIMARY KEY REFERENCES recipient_requests (request_id),
        answer      text NOT NULL CHECK (answer IN ('confirmed', 'kept')),
        reference   text CHECK (answer <> 'kept' OR reference IS NOT NULL),
        answered_by text NOT NULL,
        answered_at timestamptz NOT NULL
    )
    """,
    """
    CREATE TABLE recipient_escalations (
        request_id   uuid PRIMARY KEY REFERENCES recipient_requests (request_id),
        escalated_at timestamptz NOT NULL
    )
    """,
    *(
        statement
        for table in TABLES
        for statement in (
            f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
                FOR EACH ROW EXECUTE FUNCTION audit_append_only()""",
            f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
                FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()""",
        )
    ),
)


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    for table in reversed(TABLES):
        op.execute(f"DROP TABLE {table}")
    op.execute("DROP TABLE clock")
