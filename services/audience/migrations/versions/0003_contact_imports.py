"""Contact imports from CSV: the job, its counters and its first errors.

The rows of an import are staged in a temporary table of the import's own transaction (dropped
at its end), so no staging table lives here."""

from alembic import op

revision = "audience_0003"
down_revision = "audience_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        CREATE TABLE contact_imports (
            id               uuid PRIMARY KEY,
            organization_id  uuid NOT NULL,
            status           text NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
            audience_id      uuid,
            on_duplicate     text NOT NULL CHECK (on_duplicate IN ('skip', 'update', 'fail')),
            atomic           boolean NOT NULL,
            rows_read        bigint NOT NULL DEFAULT 0,
            created          bigint NOT NULL DEFAULT 0,
            updated          bigint NOT NULL DEFAULT 0,
            skipped          bigint NOT NULL DEFAULT 0,
            error_count      bigint NOT NULL DEFAULT 0,
            errors           jsonb NOT NULL DEFAULT '[]'::jsonb,
            created_at       timestamptz NOT NULL,
            finished_at      timestamptz
        )
    """)
    op.execute("CREATE INDEX contact_imports_running ON contact_imports (created_at) WHERE status = 'running'")


def downgrade() -> None:
    op.execute("DROP TABLE contact_imports")
