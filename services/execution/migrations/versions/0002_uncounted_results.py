"""Auto-pause: call results whose nodes could not be counted in Redis yet."""

from alembic import op

revision = "execution_0002"
down_revision = "execution_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Results applied while Redis did not answer keep their executed nodes here until they are
    # counted; an execution with any of them dispatches no call (its count is not known).
    op.execute("ALTER TABLE executions ADD COLUMN uncounted_results integer NOT NULL DEFAULT 0")
    op.execute("CREATE INDEX executions_uncounted ON executions (id) WHERE uncounted_results > 0")
    op.execute("""
    CREATE TABLE uncounted_results (
        execution_id uuid NOT NULL,
        attempt_id text NOT NULL,
        node_ids jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (execution_id, attempt_id)
    )""")


def downgrade() -> None:
    op.execute("DROP TABLE uncounted_results")
    op.execute("DROP INDEX executions_uncounted")
    op.execute("ALTER TABLE executions DROP COLUMN uncounted_results")
