"""Who may be called, and when: contact-local calling hours, DNC skips, and what a contact waits for."""

from alembic import op

revision = "execution_0004"
down_revision = "execution_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The program's calling hours (campaign_rules.calling_hours stored form); NULL: none.
    op.execute("ALTER TABLE executions ADD COLUMN calling_hours jsonb")
    # The distinct zone keys of its contacts (campaign_rules.contact_zones), kept while it has
    # calling hours: the dispatch asks each key once per pass instead of each contact.
    op.execute("ALTER TABLE executions ADD COLUMN zone_keys text[]")
    # Contacts skipped because their number is on the organization's do-not-call list; the other
    # skips (cancelled, stopped) take their reason from the execution's ending.
    op.execute("ALTER TABLE executions ADD COLUMN contacts_skipped_dnc integer NOT NULL DEFAULT 0")
    # NULL unless the execution has calling hours: the contact's zones as one key.
    op.execute("ALTER TABLE execution_contacts ADD COLUMN zone_key text")
    op.execute("ALTER TABLE execution_contacts ADD COLUMN skipped_reason text")
    # The due contacts of one zone key: those of a closed key are moved to its opening without
    # reading the others. Only contacts of executions with calling hours have a key.
    op.execute("""
    CREATE INDEX execution_contacts_zone_due ON execution_contacts (execution_id, zone_key, next_attempt_at)
        WHERE state = 'pending' AND zone_key IS NOT NULL""")


def downgrade() -> None:
    op.execute("DROP INDEX execution_contacts_zone_due")
    op.execute("ALTER TABLE execution_contacts DROP COLUMN skipped_reason")
    op.execute("ALTER TABLE execution_contacts DROP COLUMN zone_key")
    op.execute("ALTER TABLE executions DROP COLUMN contacts_skipped_dnc")
    op.execute("ALTER TABLE executions DROP COLUMN zone_keys")
    op.execute("ALTER TABLE executions DROP COLUMN calling_hours")
