"""Witnesses' cosignatures of the log's checkpoints (c2sp.org/tlog-cosignature): one
line a witness and checkpoint size, as the witness returned it, served with the
checkpoint. Evidence, append-only like the log; the audit role may only add and read.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE checkpoint_cosignatures (
            tree_size   bigint NOT NULL REFERENCES tree_heads (tree_size),
            witness     text NOT NULL,
            line        text NOT NULL,
            cosigned_at timestamptz NOT NULL,
            PRIMARY KEY (tree_size, witness)
        )
        """
    )
    op.execute(
        """CREATE TRIGGER checkpoint_cosignatures_append_only BEFORE UPDATE OR DELETE
            ON checkpoint_cosignatures FOR EACH ROW EXECUTE FUNCTION audit_append_only()"""
    )
    op.execute(
        """CREATE TRIGGER checkpoint_cosignatures_no_truncate BEFORE TRUNCATE
            ON checkpoint_cosignatures FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()"""
    )


def downgrade() -> None:
    op.execute("DROP TABLE checkpoint_cosignatures")
