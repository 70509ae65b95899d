"""programs: one row per program; nested configuration as JSONB in the API's shape."""

from alembic import op

revision = "program_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        CREATE TABLE programs (
            id                   uuid PRIMARY KEY,
            organization_id      text NOT NULL,
            name                 text NOT NULL,
            mode                 text NOT NULL CHECK (mode IN ('batch', 'live')),
            status               text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'active', 'archived')),
            audience_id          text NOT NULL,
            flow_id              text NOT NULL,
            trigger_condition    jsonb,
            start_at             timestamptz NOT NULL,
            stop_at              timestamptz,
            did_pool             jsonb NOT NULL,
            retry_strategy       jsonb NOT NULL,
            pause_windows        jsonb,
            auto_pause_rules     jsonb,
            timezone             text NOT NULL DEFAULT 'UTC',
            max_concurrent_calls integer NOT NULL DEFAULT 10,
            created_at           timestamptz NOT NULL,
            updated_at           timestamptz NOT NULL,
            archived_at          timestamptz
        )
    """)
    # The list: an organization's live programs, newest first, keyset-paged.
    op.execute("""
        CREATE INDEX programs_listing ON programs (organization_id, created_at DESC, id DESC)
        WHERE status <> 'archived'
    """)


def downgrade() -> None:
    op.execute("DROP TABLE programs")
