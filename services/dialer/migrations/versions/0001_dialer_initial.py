"""DIDs, flows, call records.

Revision ID: dialer_0001
"""

from alembic import op

revision = "dialer_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        CREATE TABLE dids (
            id uuid PRIMARY KEY,
            number text NOT NULL,
            country char(2) NOT NULL,
            status text NOT NULL CHECK (status IN ('active', 'inactive')),
            organization_id uuid NULL,
            created_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL,
            deleted_at timestamptz NULL
        )
    """)
    op.execute("CREATE UNIQUE INDEX dids_number_live ON dids (number) WHERE deleted_at IS NULL")
    op.execute("CREATE INDEX dids_org ON dids (organization_id) WHERE deleted_at IS NULL")

    op.execute("""
        CREATE TABLE flows (
            id uuid PRIMARY KEY,
            organization_id uuid NOT NULL,
            name text NOT NULL,
            start_node_id text NOT NULL,
            nodes jsonb NOT NULL,
            created_at timestamptz NOT NULL
        )
    """)
    op.execute("CREATE INDEX flows_org_created ON flows (organization_id, created_at, id)")

    # One row per attempt id: the row, not the message, decides whether a call happened.
    # state: claimed (no call yet) → placing (credits reserved, call may be live) →
    # finished; or rejected (no call; a later request for the same attempt may place it).
    op.execute("""
        CREATE TABLE call_records (
            id uuid PRIMARY KEY,
            attempt_id text NOT NULL UNIQUE,
            execution_id text NOT NULL,
            organization_id uuid NOT NULL,
            contact_id text NOT NULL,
            phone text NOT NULL,
            attempt integer NOT NULL,
            state text NOT NULL CHECK (state IN ('claimed', 'placing', 'finished', 'rejected')),
            owner text NOT NULL,
            lease_expires_at timestamptz NOT NULL,
            did_id uuid NULL,
            did_number text NULL,
            reservation_id text NULL,
            settled boolean NOT NULL DEFAULT false,
            outcome text NULL,
            reason text NULL,
            rejections integer NOT NULL DEFAULT 0,
            rejected_stream_seq bigint NULL,
            started_at timestamptz NULL,
            answered_at timestamptz NULL,
            ended_at timestamptz NULL,
            talk_seconds integer NOT NULL DEFAULT 0,
            node_ids jsonb NOT NULL DEFAULT '[]'::jsonb,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        )
    """)
    op.execute("""CREATE INDEX call_records_execution ON call_records (execution_id, created_at, id)
                  WHERE state = 'finished'""")
    op.execute("""CREATE INDEX call_records_unsettled ON call_records (updated_at)
                  WHERE state = 'finished' AND NOT settled AND reservation_id IS NOT NULL""")
    op.execute("CREATE INDEX call_records_live ON call_records (lease_expires_at) WHERE state = 'placing'")


def downgrade() -> None:
    op.execute("DROP TABLE call_records")
    op.execute("DROP TABLE flows")
    op.execute("DROP TABLE dids")
