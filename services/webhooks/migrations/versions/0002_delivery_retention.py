"""Retention: finished deliveries (delivered or failed) found by age, for the retention sweep."""

from alembic import op

revision = "webhooks_0002"
down_revision = "webhooks_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX deliveries_finished_age ON deliveries (created_at) WHERE status <> 'pending'")


def downgrade() -> None:
    op.execute("DROP INDEX deliveries_finished_age")
