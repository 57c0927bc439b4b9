"""The detection service's schema: the outbox and inbox, the hourly history its baselines
are learned from, what it has seen, the grants, incidents and alerts, the stored clock.

Revision ID: 0001
Revises:
"""

from alembic import op

from shared.clock import CLOCK_DDL
from shared.outbox import create_outbox_tables, drop_outbox_tables, drop_outbox_trigger

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

STATEMENTS = (
    # One row per organisation and hour of event time: the baselines' history.
    """
    CREATE TABLE activity (
        organisation_id text NOT NULL,
        hour            timestamptz NOT NULL,
        reads           bigint NOT NULL DEFAULT 0,
        refusals        bigint NOT NULL DEFAULT 0,
        subjects        bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (organisation_id, hour)
    )
    """,
    # Since when each organisation ('' for the platform) is watched: nothing is new
    # before its learning period has passed.
    """
    CREATE TABLE watched (
        organisation_id text PRIMARY KEY,
        first_at        timestamptz NOT NULL
    )
    """,
    # Producers ('' organisation: platform-wide), channels and purposes seen.
    """
    CREATE TABLE seen (
        kind            text NOT NULL,
        organisation_id text NOT NULL,
        value           text NOT NULL,
        first_at        timestamptz NOT NULL,
        PRIMARY KEY (kind, organisation_id, value)
    )
    """,
    """
    CREATE TABLE grants (
        grant_id        text PRIMARY KEY,
        organisation_id text NOT NULL,
        data_categories text[] NOT NULL,
        valid_from      timestamptz NOT NULL,
        valid_until     timestamptz NOT NULL,
        revoked_at      timestamptz
    )
    """,
    """
    CREATE TABLE incidents (
        incident_id     uuid PRIMARY KEY,
        family          text NOT NULL,
        organisation_id text,
        producer        text,
        opened_at       timestamptz NOT NULL,
        last_alert_at   timestamptz NOT NULL,
        alerts          integer NOT NULL DEFAULT 0,
        closed_at       timestamptz,
        decision        text,
        breach_id       text
    )
    """,
    # One open incident per family and organisation (and producer): later alerts merge.
    """
    CREATE UNIQUE INDEX incidents_open ON incidents
        (family, coalesce(organisation_id, ''), coalesce(producer, ''))
        WHERE closed_at IS NULL
    """,
    """
    CREATE TABLE alerts (
        alert_id        uuid PRIMARY KEY,
        incident_id     uuid NOT NULL REFERENCES incidents,
        rule            text NOT NULL,
        organisation_id text,
        detected_at     timestamptz NOT NULL,
        payload         jsonb NOT NULL
    )
    """,
    "CREATE INDEX alerts_incident ON alerts (incident_id)",
    *CLOCK_DDL,
)


def upgrade() -> None:
    create_outbox_tables()
    drop_outbox_trigger()
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    for table in ("clock", "alerts", "incidents", "grants", "seen", "watched", "activity"):
        op.execute(f"DROP TABLE {table}")
    drop_outbox_tables()
