"""Custom attributes, contacts, audiences and members, and the event outbox."""

from alembic import op

revision = "audience_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        CREATE TABLE attributes (
            id               uuid PRIMARY KEY,
            organization_id  uuid NOT NULL,
            name             text NOT NULL,
            slug             text NOT NULL,
            type             text NOT NULL CHECK (type IN ('date', 'number', 'boolean', 'text')),
            created_at       timestamptz NOT NULL,
            CONSTRAINT attributes_slug_unique UNIQUE (organization_id, slug)
        )
    """)
    op.execute("CREATE INDEX attributes_page ON attributes (organization_id, created_at, id)")
    op.execute("""
        CREATE TABLE contacts (
            id               uuid PRIMARY KEY,
            organization_id  uuid NOT NULL,
            phone            text NOT NULL,
            name             text,
            country          text NOT NULL DEFAULT '',
            attributes       jsonb NOT NULL DEFAULT '{}'::jsonb,
            created_at       timestamptz NOT NULL,
            updated_at       timestamptz NOT NULL,
            CONSTRAINT contacts_phone_unique UNIQUE (organization_id, phone)
        )
    """)
    op.execute("CREATE INDEX contacts_page ON contacts (organization_id, created_at, id)")
    op.execute("CREATE INDEX contacts_org_id ON contacts (organization_id, id)")
    op.execute("""
        CREATE TABLE audiences (
            id               uuid PRIMARY KEY,
            organization_id  uuid NOT NULL,
            name             text NOT NULL,
            description      text NOT NULL DEFAULT '',
            contact_count    integer NOT NULL DEFAULT 0 CHECK (contact_count >= 0),
            created_at       timestamptz NOT NULL,
            updated_at       timestamptz NOT NULL
        )
    """)
    op.execute("CREATE INDEX audiences_page ON audiences (organization_id, created_at, id)")
    op.execute("""
        CREATE TABLE audience_members (
            audience_id  uuid NOT NULL REFERENCES audiences (id) ON DELETE CASCADE,
            contact_id   uuid NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
            added_at     timestamptz NOT NULL,
            PRIMARY KEY (audience_id, contact_id)
        )
    """)
    op.execute("CREATE INDEX audience_members_contact ON audience_members (contact_id)")
    # Events written in the transaction of the change, published after commit, deleted once
    # published; leftovers (a crash between commit and publish) are republished by a loop.
    op.execute("""
        CREATE TABLE outbox (
            id          uuid PRIMARY KEY,
            subject     text NOT NULL,
            payload     bytea NOT NULL,
            created_at  timestamptz NOT NULL DEFAULT now()
        )
    """)
    op.execute("CREATE INDEX outbox_age ON outbox (created_at)")


def downgrade() -> None:
    for table in ("outbox", "audience_members", "audiences", "contacts", "attributes"):
        op.execute(f"DROP TABLE {table}")
