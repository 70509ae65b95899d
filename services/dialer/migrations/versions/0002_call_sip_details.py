"""Call records: the far end's SIP status and Q.850 cause.

Revision ID: dialer_0002
"""

from alembic import op

revision = "dialer_0002"
down_revision = "dialer_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL when the carrier does not say (the simulated carrier, calls never placed or lost).
    op.execute("ALTER TABLE call_records ADD COLUMN sip_code integer NULL, ADD COLUMN q850_cause integer NULL")


def downgrade() -> None:
    op.execute("ALTER TABLE call_records DROP COLUMN q850_cause, DROP COLUMN sip_code")
