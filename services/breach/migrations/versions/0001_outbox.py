"""The outbox and the consumer inbox.

Revision ID: 0001
Revises:
"""

from shared.outbox import create_outbox_tables, drop_outbox_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

upgrade = create_outbox_tables
downgrade = drop_outbox_tables
