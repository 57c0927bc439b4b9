"""Re-sends and the mail server's outages (issue 21).

``affected.resends`` counts the re-sends asked for a person's notice (each is the n-th
attempt of the same notice: same notice id, same Message-ID). ``mail_servers`` holds
each mail server the notifier reported unreachable, and until when, from
``notifier.smtp_unavailable`` and ``notifier.smtp_recovered``.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UPGRADE = (
    "ALTER TABLE affected ADD COLUMN resends integer NOT NULL DEFAULT 0",
    """
    CREATE TABLE mail_servers (
        server      text PRIMARY KEY,
        down_since  timestamptz,
        reason      text,
        changed_at  timestamptz NOT NULL
    )
    """,
)


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE mail_servers")
    op.execute("ALTER TABLE affected DROP COLUMN resends")
