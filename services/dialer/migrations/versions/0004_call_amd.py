"""Call records: what answering-machine detection decided.

Revision ID: dialer_0004
"""

from alembic import op

revision = "dialer_0004"
down_revision = "dialer_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL when no detection ran (the program did not ask for it, or the call was not answered).
    op.execute("""
        ALTER TABLE call_records
            ADD COLUMN amd_result text NULL CHECK (amd_result IN ('human', 'machine', 'unknown')),
            ADD COLUMN amd_decision_ms integer NULL,
            ADD COLUMN amd_features jsonb NULL""")


def downgrade() -> None:
    op.execute("ALTER TABLE call_records DROP COLUMN amd_features, DROP COLUMN amd_decision_ms, DROP COLUMN amd_result")
