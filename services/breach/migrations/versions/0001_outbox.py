"""The outbox and the consumer inbox.

Revision ID: 0001
Revises:
"""

from alembic import op

from shared.outbox import OUTBOX_DDL

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    for statement in OUTBOX_DDL:
        op.execute(statement)


def downgrade() -> None:
    for table in ("processed_events", "outbox"):
        op.execute(f"DROP TABLE {table}")
    op.execute("DROP FUNCTION outbox_notify")
