"""A leaner personal part: no foreign key, no subject column or index.

Each row of ``entry_personal`` cost four index and trigger visits on the ingestion path
(the foreign key's check on ``entries``, its own key, the subject index). Both tables are
written in the same transaction by the same statement sequence, so the foreign key
guarded nothing the append does not already guarantee, and erasure finds a subject's
rows through ``entries_subject``.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE entry_personal DROP CONSTRAINT entry_personal_seq_fkey")
    op.execute("DROP INDEX entry_personal_subject")
    op.execute("ALTER TABLE entry_personal DROP COLUMN subject_id")


def downgrade() -> None:
    op.execute("ALTER TABLE entry_personal ADD COLUMN subject_id text")
    op.execute(
        "UPDATE entry_personal p SET subject_id = e.subject_id FROM entries e WHERE e.seq = p.seq"
    )
    op.execute("ALTER TABLE entry_personal ALTER COLUMN subject_id SET NOT NULL")
    op.execute("CREATE INDEX entry_personal_subject ON entry_personal (subject_id)")
    op.execute(
        "ALTER TABLE entry_personal ADD CONSTRAINT entry_personal_seq_fkey "
        "FOREIGN KEY (seq) REFERENCES entries (seq)"
    )
