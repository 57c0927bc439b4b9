"""A failed notice may be sent again when the security team asks (issue 21): the row
counts the re-sends it took, so that the same re-send read twice reopens it once.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE deliveries ADD COLUMN resends integer NOT NULL DEFAULT 0")


def downgrade() -> None:
    op.execute("ALTER TABLE deliveries DROP COLUMN resends")
