"""executions.answering_machine: the program's answering-machine handling snapshotted at launch."""

from alembic import op

revision = "execution_0005"
down_revision = "execution_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # campaign_rules.answering_machine stored form; NULL: the program had none (no detection).
    op.execute("ALTER TABLE executions ADD COLUMN answering_machine jsonb")


def downgrade() -> None:
    op.execute("ALTER TABLE executions DROP COLUMN answering_machine")
