"""Call safety: a status version for the call gate, and launches confirmed by the program."""

from alembic import op

revision = "execution_0003"
down_revision = "execution_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every status change increments status_version; the call gate in Redis carries it, so a
    # late "open" written for an older status can never reopen a gate closed since.
    op.execute("ALTER TABLE executions ADD COLUMN status_version bigint NOT NULL DEFAULT 0")
    # A launch dispatches nothing until the program service has confirmed the program is still
    # there (MarkProgramActive after the commit); a program deleted meanwhile cancels it.
    op.execute("ALTER TABLE executions ADD COLUMN program_confirmed boolean NOT NULL DEFAULT true")


def downgrade() -> None:
    op.execute("ALTER TABLE executions DROP COLUMN program_confirmed")
    op.execute("ALTER TABLE executions DROP COLUMN status_version")
