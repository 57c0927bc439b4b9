"""Visibility consents keep their end and whether they were scoped.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE visibility_consents
            ADD COLUMN valid_until timestamptz,
            ADD COLUMN scoped boolean NOT NULL DEFAULT false
        """
    )


def downgrade() -> None:
    op.execute("ALTER TABLE visibility_consents DROP COLUMN valid_until, DROP COLUMN scoped")
