"""Checks put off: disclosures naming a consent the history has not heard of yet.

Such a disclosure waits on its own (up to ``AUDIT_CHECK_UNKNOWN_AFTER_SECONDS``) while
the entries behind it are judged on time; this table remembers which ones wait. Unlike
the log's tables it is working state: a row is deleted once its check is made.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE TABLE checks_deferred (seq bigint PRIMARY KEY, deferred_at timestamptz NOT NULL)"
    )


def downgrade() -> None:
    op.execute("DROP TABLE checks_deferred")
