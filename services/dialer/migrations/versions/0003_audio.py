"""Uploaded audio: each organization's WAV and MP3 prompts, stored converted to 8 kHz WAV.

Revision ID: dialer_0003
"""

from alembic import op

revision = "dialer_0003"
down_revision = "dialer_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Written once, never updated: a flow that names an audio plays exactly what was uploaded.
    op.execute("""
        CREATE TABLE audio_files (
            id uuid PRIMARY KEY,
            organization_id uuid NOT NULL,
            name text NOT NULL,
            format text NOT NULL CHECK (format IN ('wav', 'mp3')),
            duration_ms integer NOT NULL CHECK (duration_ms > 0),
            wav bytea NOT NULL,
            created_at timestamptz NOT NULL
        )
    """)
    op.execute("CREATE INDEX audio_files_org ON audio_files (organization_id, id)")


def downgrade() -> None:
    op.execute("DROP TABLE audio_files")
