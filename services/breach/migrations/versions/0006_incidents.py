"""Triage of detected incidents (issue 25).

``incidents`` holds one row per incident detection raised (its alerts merged: rules,
window, categories), its escalation, and the decision on it: declared (with the breach)
or dismissed (with the reason, kept: GDPR Art. 33(5)). ``incident_alerts`` keeps every
alert as received, append only (its ``alert_id`` makes a redelivered alert harmless).

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

UPGRADE = (
    """
    CREATE TABLE incidents (
        incident_id        uuid PRIMARY KEY,
        status             text NOT NULL DEFAULT 'open'
                           CHECK (status IN ('open', 'declared', 'dismissed')),
        organisation_id    text,
        producer           text,
        channel            text,
        rules              text[] NOT NULL,
        data_categories    text[] NOT NULL,
        window_start       timestamptz NOT NULL,
        window_end         timestamptz NOT NULL,
        first_detected_at  timestamptz NOT NULL,
        last_detected_at   timestamptz NOT NULL,
        received_at        timestamptz NOT NULL,
        alerts             integer NOT NULL,
        summary            text NOT NULL,
        escalated_at       timestamptz,
        decided_at         timestamptz,
        decided_by         text,
        reason             text,
        breach_id          uuid,
        CHECK (status <> 'dismissed' OR reason IS NOT NULL),
        CHECK (status <> 'declared' OR breach_id IS NOT NULL)
    )
    """,
    "CREATE INDEX incidents_waiting ON incidents (received_at) WHERE status = 'open'",
    """
    CREATE TABLE incident_alerts (
        alert_id     uuid PRIMARY KEY,
        incident_id  uuid NOT NULL REFERENCES incidents,
        rule         text NOT NULL,
        detected_at  timestamptz NOT NULL,
        received_at  timestamptz NOT NULL,
        payload      jsonb NOT NULL
    )
    """,
    "CREATE INDEX incident_alerts_incident ON incident_alerts (incident_id, detected_at)",
)


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE incident_alerts")
    op.execute("DROP TABLE incidents")
