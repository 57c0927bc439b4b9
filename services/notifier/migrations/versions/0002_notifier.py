"""Contacts, erasure tombstones and deliveries (one row per notice, its idempotency key).

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UPGRADE = (
    """
    CREATE TABLE contacts (
        user_id    text PRIMARY KEY,
        email      text,
        full_name  text,
        language   text,
        changed_at timestamptz NOT NULL
    )
    """,
    # Pseudonymous: the id and the time only. A late user.registered for an erased
    # person (another topic, another order) is turned away by it.
    """
    CREATE TABLE erased_users (
        user_id   text PRIMARY KEY,
        erased_at timestamptz NOT NULL
    )
    """,
    """
    CREATE TABLE deliveries (
        notice_id         text PRIMARY KEY,
        kind              text NOT NULL,
        breach_id         text,
        user_id           text,
        message_id        text NOT NULL UNIQUE,
        state             text NOT NULL
            CHECK (state IN ('claimed', 'accepted', 'failed', 'bounced')),
        uncertain         boolean NOT NULL DEFAULT false,
        claims            integer NOT NULL DEFAULT 1,
        attempts          integer NOT NULL DEFAULT 0,
        claimed_by        text NOT NULL,
        language          text,
        requested_at      timestamptz NOT NULL,
        claimed_at        timestamptz NOT NULL,
        started_at        timestamptz,
        accepted_at       timestamptz,
        failed_at         timestamptz,
        bounced_at        timestamptz,
        smtp_code         integer,
        smtp_reply        text,
        queue_id          text,
        reason            text,
        detail            text,
        bounce_status     text
    )
    """,
    "CREATE INDEX deliveries_breach ON deliveries (breach_id, notice_id)",
)


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE deliveries")
    op.execute("DROP TABLE erased_users")
    op.execute("DROP TABLE contacts")
