"""Organisations and their privacy contacts, and the organisation a notice went to.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UPGRADE = (
    # Kept from the consent service's organisation.* events: the whole entry as it stood
    # after the newest change read (changed_at), never a diff.
    """
    CREATE TABLE organisations (
        organisation    text PRIMARY KEY,
        name            text NOT NULL,
        country         text,
        privacy_contact text,
        retired_at      timestamptz,
        changed_at      timestamptz NOT NULL
    )
    """,
    "ALTER TABLE deliveries ADD COLUMN organisation text",
)


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    op.execute("ALTER TABLE deliveries DROP COLUMN organisation")
    op.execute("DROP TABLE organisations")
