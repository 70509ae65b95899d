"""Executions and their per-contact call state."""

from alembic import op

revision = "execution_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE executions (
        id uuid PRIMARY KEY,
        organization_id text NOT NULL,
        program_id text NOT NULL,
        audience_id text NOT NULL DEFAULT '',
        flow_id text NOT NULL,
        mode text NOT NULL,
        status text NOT NULL,
        timezone text NOT NULL DEFAULT 'UTC',
        did_pool jsonb NOT NULL,
        retry_strategy jsonb NOT NULL,
        pause_windows jsonb,
        auto_pause_rules jsonb,
        trigger_condition jsonb,
        max_concurrent_calls integer NOT NULL,
        total_contacts integer NOT NULL DEFAULT 0,
        contacts_completed integer NOT NULL DEFAULT 0,
        contacts_failed integer NOT NULL DEFAULT 0,
        contacts_pending integer NOT NULL DEFAULT 0,
        contacts_in_progress integer NOT NULL DEFAULT 0,
        contacts_skipped integer NOT NULL DEFAULT 0,
        scheduled_start_at timestamptz NOT NULL,
        scheduled_stop_at timestamptz,
        actual_start_at timestamptz,
        actual_end_at timestamptz,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        -- Outbox flags: side effects after commit (program activation, events, live
        -- triggers) are retried by the orchestrator until done. inserted_at is real time.
        launch_notified boolean NOT NULL DEFAULT false,
        end_notified boolean NOT NULL DEFAULT false,
        inserted_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT counters_sum CHECK (
            total_contacts = contacts_completed + contacts_failed + contacts_pending
                             + contacts_in_progress + contacts_skipped)
    )""")
    op.execute("""
    CREATE UNIQUE INDEX executions_one_active_per_program ON executions (program_id)
        WHERE status IN ('scheduled', 'running', 'paused', 'paused_no_credits', 'paused_threshold')""")
    op.execute("CREATE INDEX executions_org_created ON executions (organization_id, created_at DESC, id DESC)")
    op.execute("CREATE INDEX executions_program ON executions (program_id, created_at DESC)")
    op.execute("""
    CREATE INDEX executions_live_status ON executions (status)
        WHERE status IN ('scheduled', 'running', 'paused', 'paused_no_credits', 'paused_threshold')""")
    op.execute("CREATE INDEX executions_unnotified ON executions (id) WHERE NOT launch_notified OR NOT end_notified")

    op.execute("""
    CREATE TABLE execution_contacts (
        id bigserial PRIMARY KEY,
        execution_id uuid NOT NULL,  -- no FK: COPY of a million rows stays fast
        contact_ref text NOT NULL,
        contact_id text NOT NULL,
        phone text NOT NULL,
        country text NOT NULL DEFAULT '',
        state text NOT NULL,
        attempt integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL,
        lease_until timestamptz,
        last_outcome text,
        updated_at timestamptz NOT NULL,
        CONSTRAINT execution_contacts_ref UNIQUE (execution_id, contact_ref),
        CONSTRAINT execution_contacts_state CHECK (
            state IN ('pending', 'in_progress', 'completed', 'failed', 'skipped'))
    )""")
    op.execute("""
    CREATE INDEX execution_contacts_due ON execution_contacts (execution_id, next_attempt_at)
        WHERE state = 'pending'""")
    op.execute("""
    CREATE INDEX execution_contacts_leases ON execution_contacts (lease_until)
        WHERE state = 'in_progress'""")


def downgrade() -> None:
    op.execute("DROP TABLE execution_contacts")
    op.execute("DROP TABLE executions")
