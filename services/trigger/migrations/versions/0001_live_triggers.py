"""Live executions and their contact triggers."""

from alembic import op

revision = "trigger_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE live_executions (
        execution_id uuid PRIMARY KEY,
        program_id uuid NOT NULL,
        organization_id uuid NOT NULL,
        attribute_slug text NOT NULL,
        direction text NOT NULL CHECK (direction IN ('before', 'after')),
        offset_days integer NOT NULL,
        offset_hours integer NOT NULL,
        offset_minutes integer NOT NULL,
        output_audience_id text NOT NULL DEFAULT '',
        active boolean NOT NULL DEFAULT true,
        precomputed boolean NOT NULL DEFAULT false,
        triggers_created integer NOT NULL DEFAULT 0,
        snapshot_at timestamptz,
        created_at timestamptz NOT NULL,
        ended_at timestamptz
    )""")
    op.execute("CREATE INDEX live_executions_org_active ON live_executions (organization_id) WHERE active")
    op.execute("CREATE INDEX live_executions_program ON live_executions (organization_id, program_id, created_at)")
    # An end that arrives before the start: the start then creates nothing.
    op.execute("""
    CREATE TABLE ended_executions (
        execution_id uuid PRIMARY KEY,
        ended_at timestamptz NOT NULL DEFAULT now()
    )""")
    op.execute("""
    CREATE TABLE triggers (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        execution_id uuid NOT NULL REFERENCES live_executions (execution_id) ON DELETE CASCADE,
        program_id uuid NOT NULL,
        organization_id uuid NOT NULL,
        contact_id uuid NOT NULL,
        contact_name text,
        contact_phone text NOT NULL,
        contact_country text NOT NULL DEFAULT '',
        attribute_value timestamptz NOT NULL,
        trigger_at timestamptz NOT NULL,
        status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'triggered', 'cancelled')),
        triggered_at timestamptz,
        published boolean NOT NULL DEFAULT false,
        publish_lease_until timestamptz,
        source_at timestamptz,
        created_at timestamptz NOT NULL
    )""")
    op.execute("""CREATE UNIQUE INDEX triggers_one_pending ON triggers (execution_id, contact_id)
                  WHERE status = 'pending'""")
    op.execute("CREATE INDEX triggers_due ON triggers (trigger_at) WHERE status = 'pending'")
    op.execute("""CREATE INDEX triggers_unpublished ON triggers (publish_lease_until)
                  WHERE status = 'triggered' AND NOT published""")
    op.execute("CREATE INDEX triggers_contact ON triggers (contact_id, execution_id, created_at)")
    op.execute("CREATE INDEX triggers_listing ON triggers (execution_id, trigger_at, id)")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS triggers")
    op.execute("DROP TABLE IF EXISTS ended_executions")
    op.execute("DROP TABLE IF EXISTS live_executions")
