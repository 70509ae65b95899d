"""The organization's contact limits (frequency cap per phone number): both numbers or neither."""

from alembic import op

revision = "account_0002"
down_revision = "account_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL, NULL: no cap. The bounds are the domain's (campaign_rules.contact_limits); the table
    # only refuses a half-set or non-positive pair.
    op.execute("""
        ALTER TABLE organizations
            ADD COLUMN contact_max_attempts integer,
            ADD COLUMN contact_per_days integer,
            ADD CONSTRAINT organizations_contact_limits_paired
                CHECK ((contact_max_attempts IS NULL) = (contact_per_days IS NULL)),
            ADD CONSTRAINT organizations_contact_limits_positive
                CHECK (contact_max_attempts >= 1 AND contact_per_days >= 1)
    """)


def downgrade() -> None:
    op.execute("""
        ALTER TABLE organizations
            DROP CONSTRAINT organizations_contact_limits_positive,
            DROP CONSTRAINT organizations_contact_limits_paired,
            DROP COLUMN contact_per_days,
            DROP COLUMN contact_max_attempts
    """)
