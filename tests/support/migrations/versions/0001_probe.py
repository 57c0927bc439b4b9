"""Outbox, inbox, and the table the probe consumer writes.

Revision ID: 0001
Revises:
"""

from alembic import op

from shared.outbox import create_outbox_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_outbox_tables()
    # No unique constraint on purpose: a duplicate delivery would show as a second row.
    op.execute(
        "CREATE TABLE probe_rows (id serial PRIMARY KEY, event_id uuid NOT NULL, n int NOT NULL,"
        " trace_id text)"
    )


def downgrade() -> None:
    op.execute("DROP TABLE probe_rows")
