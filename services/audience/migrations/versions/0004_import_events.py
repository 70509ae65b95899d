"""The contact.created events of imports, a row per thousand contacts.

An import creates up to millions of contacts in one transaction; rather than one outbox row per
contact, each applied batch records the ids it created here, in parts of at most a thousand, in
the same statement that creates them. The relay publishes each part's events and deletes it."""

from alembic import op

revision = "audience_0004"
down_revision = "audience_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        CREATE TABLE import_events (
            id               uuid PRIMARY KEY,
            organization_id  uuid NOT NULL,
            occurred_at      timestamptz NOT NULL,
            contact_ids      uuid[] NOT NULL,
            created_at       timestamptz NOT NULL DEFAULT now()
        )
    """)
    op.execute("CREATE INDEX import_events_age ON import_events (created_at)")


def downgrade() -> None:
    op.execute("DROP TABLE import_events")
