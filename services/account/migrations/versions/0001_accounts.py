"""Organizations with their credit balance, hashed API keys, credit reservations."""

from alembic import op

revision = "account_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        CREATE TABLE organizations (
            id          uuid PRIMARY KEY,
            name        text NOT NULL,
            balance     bigint NOT NULL DEFAULT 0,
            reserved    bigint NOT NULL DEFAULT 0,
            created_at  timestamptz NOT NULL,
            CONSTRAINT organizations_balance_non_negative CHECK (balance >= 0),
            CONSTRAINT organizations_reserved_non_negative CHECK (reserved >= 0),
            CONSTRAINT organizations_available_non_negative CHECK (balance - reserved >= 0)
        )
    """)
    op.execute("""
        CREATE TABLE api_keys (
            id               text PRIMARY KEY,
            organization_id  uuid NOT NULL REFERENCES organizations (id),
            name             text NOT NULL DEFAULT '',
            secret_sha256    bytea NOT NULL,
            created_at       timestamptz NOT NULL,
            revoked_at       timestamptz
        )
    """)
    op.execute("CREATE INDEX api_keys_organization ON api_keys (organization_id)")
    op.execute("""
        CREATE TABLE reservations (
            reservation_id   text PRIMARY KEY,
            organization_id  uuid NOT NULL REFERENCES organizations (id),
            amount           bigint NOT NULL CHECK (amount >= 0),
            state            text NOT NULL CHECK (state IN ('held', 'refused', 'settled', 'released')),
            charged          bigint NOT NULL DEFAULT 0 CHECK (charged >= 0),
            created_at       timestamptz NOT NULL,
            closed_at        timestamptz
        )
    """)
    op.execute("CREATE INDEX reservations_open ON reservations (organization_id) WHERE state = 'held'")


def downgrade() -> None:
    op.execute("DROP TABLE reservations")
    op.execute("DROP TABLE api_keys")
    op.execute("DROP TABLE organizations")
