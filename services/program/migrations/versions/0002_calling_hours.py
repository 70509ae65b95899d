"""programs.calling_hours: the contact-local calling hours, JSONB in the API's shape (null: none).
retryStrategy.retryOn lives inside retry_strategy and needs no column."""

from alembic import op

revision = "program_0002"
down_revision = "program_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE programs ADD COLUMN calling_hours jsonb")


def downgrade() -> None:
    op.execute("ALTER TABLE programs DROP COLUMN calling_hours")
