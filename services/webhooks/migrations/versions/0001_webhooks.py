"""endpoints, events and deliveries: one delivery per (endpoint, event), Postgres is the truth.

A pending delivery's next_attempt_at is both when it is due and, while an attempt is under way,
the end of that attempt's lease: a replica that dies mid-attempt leaves it due again later.
"""

from alembic import op

revision = "webhooks_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        CREATE TABLE endpoints (
            id              uuid PRIMARY KEY,
            organization_id text NOT NULL,
            url             text NOT NULL,
            events          text[] NOT NULL,
            description     text,
            enabled         boolean NOT NULL DEFAULT true,
            secret          text NOT NULL,
            created_at      timestamptz NOT NULL,
            updated_at      timestamptz NOT NULL
        )
    """)
    op.execute("CREATE INDEX endpoints_listing ON endpoints (organization_id, created_at DESC, id DESC)")
    op.execute("""
        CREATE TABLE events (
            id              uuid PRIMARY KEY,
            organization_id text NOT NULL,
            type            text NOT NULL,
            created_at      timestamptz NOT NULL,
            body            bytea NOT NULL
        )
    """)
    op.execute("""
        CREATE TABLE deliveries (
            id              uuid PRIMARY KEY,
            endpoint_id     uuid NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
            event_id        uuid NOT NULL REFERENCES events (id),
            type            text NOT NULL,
            status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
            attempts        integer NOT NULL DEFAULT 0,
            response_code   integer,
            last_error      text NOT NULL DEFAULT '',
            next_attempt_at timestamptz,
            created_at      timestamptz NOT NULL,
            delivered_at    timestamptz,
            UNIQUE (endpoint_id, event_id)
        )
    """)
    # The workers' claim: due pending deliveries, soonest first.
    op.execute("CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending'")
    op.execute("CREATE INDEX deliveries_listing ON deliveries (endpoint_id, created_at DESC, id DESC)")
    op.execute("CREATE INDEX deliveries_event ON deliveries (event_id)")


def downgrade() -> None:
    op.execute("DROP TABLE deliveries")
    op.execute("DROP TABLE events")
    op.execute("DROP TABLE endpoints")
