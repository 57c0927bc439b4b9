"""Outbox rows are no longer announced by a NOTIFY trigger in their transaction.

A NOTIFY makes PostgreSQL serialise the commit, WAL flush included, with every other
such commit in the cluster; the relay is now woken by the process that committed (see
shared.outbox).

Revision ID: 0004
Revises: 0003
"""

from shared.outbox import drop_outbox_trigger, restore_outbox_trigger

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    drop_outbox_trigger()


def downgrade() -> None:
    restore_outbox_trigger()
