"""The organization's dispatch limits: three nullable columns, NULL = the deployment's default.

Columns on `organizations` rather than a table of their own: every organization has limits (a
NULL column follows the default, so there is no row to create, and none to forget, for an
organization made before this release), the execution service reads the limits of many
organizations in one indexed query on the primary key, and contact limits already live there.
An operator's change is a rare one-row UPDATE; the credit transactions that lock the same row
hold it for milliseconds. Adding nullable columns keeps the previous release working.
"""

from alembic import op

revision = "account_0003"
down_revision = "account_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The bounds are the domain's (services/account/domain/dispatch_limits.py); the table only
    # refuses values no release could mean. NULL passes a CHECK: it follows the default.
    op.execute("""
        ALTER TABLE organizations
            ADD COLUMN max_concurrent_calls integer,
            ADD COLUMN max_calls_per_second integer,
            ADD COLUMN dispatch_weight integer,
            ADD CONSTRAINT organizations_dispatch_limits_valid
                CHECK (max_concurrent_calls >= 0 AND max_calls_per_second >= 0
                       AND dispatch_weight BETWEEN 1 AND 1000)
    """)


def downgrade() -> None:
    op.execute("""
        ALTER TABLE organizations
            DROP CONSTRAINT organizations_dispatch_limits_valid,
            DROP COLUMN dispatch_weight,
            DROP COLUMN max_calls_per_second,
            DROP COLUMN max_concurrent_calls
    """)
