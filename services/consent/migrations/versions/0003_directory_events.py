"""The organisation's privacy contact, and what makes directory changes events.

``privacy_contact``: where notices about a person's data go (GDPR Art. 19).
``updated_at``: stamped by the database, under the row's lock, at every change; the
change's event carries it, so a replica applies an organisation's changes in order even
when they arrive on different topics. ``announced_at``: when ``organisation.registered``
was staged for the row; organisations seeded before this revision are announced (with
their seeded privacy contact) at the next start.

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
        ALTER TABLE organisations
            ADD COLUMN privacy_contact text CHECK (length(privacy_contact) <= 254),
            ADD COLUMN updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            ADD COLUMN announced_at timestamptz
        """
    )


def downgrade() -> None:
    op.execute(
        "ALTER TABLE organisations DROP COLUMN privacy_contact, DROP COLUMN updated_at, "
        "DROP COLUMN announced_at"
    )
