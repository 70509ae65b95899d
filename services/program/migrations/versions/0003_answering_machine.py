"""programs.answering_machine: the answering-machine handling, JSONB in the API's shape (null: none)."""

from alembic import op

revision = "program_0003"
down_revision = "program_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE programs ADD COLUMN answering_machine jsonb")


def downgrade() -> None:
    op.execute("ALTER TABLE programs DROP COLUMN answering_machine")
