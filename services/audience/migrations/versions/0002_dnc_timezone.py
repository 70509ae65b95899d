"""Do-not-call lists, and the contact's time zone."""

from alembic import op

revision = "audience_0002"
down_revision = "audience_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # IANA name, NULL when unset (the execution then derives the zones from the number).
    op.execute("ALTER TABLE contacts ADD COLUMN timezone text")
    # The primary key is the only index: claim-time checks ask `phone = ANY(array)` within one
    # organization, and the list pages by phone.
    op.execute("""
        CREATE TABLE dnc (
            organization_id  uuid NOT NULL,
            phone            text NOT NULL,
            reason           text,
            created_at       timestamptz NOT NULL,
            PRIMARY KEY (organization_id, phone)
        )
    """)


def downgrade() -> None:
    op.execute("DROP TABLE dnc")
    op.execute("ALTER TABLE contacts DROP COLUMN timezone")
