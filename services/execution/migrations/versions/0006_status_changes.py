"""execution_status_changes: the log of every status change of an execution, written by a trigger.

A deferred constraint trigger on executions (after the insert, and after an update of status
that changes it) adds one row per change in the transaction that made it, whichever statement
wrote the status. It fires at commit, so its snapshot is the row as the transaction leaves it
(the launch's totals, the contacts a cancel skipped). occurred_at is the row's updated_at, which
every status change sets to the virtual clock's now.

seq follows commit order per execution: a change holds the execution's row lock until commit
and the trigger takes its seq then, so a later change of the same execution always gets a
higher seq once it is visible.
"""

from alembic import op

revision = "execution_0006"
down_revision = "execution_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE execution_status_changes (
        seq bigserial PRIMARY KEY,
        execution_id uuid NOT NULL,
        organization_id text NOT NULL,
        program_id text NOT NULL,
        previous_status text,            -- NULL: the execution was created with `status`
        status text NOT NULL,
        occurred_at timestamptz NOT NULL,  -- virtual clock
        snapshot jsonb NOT NULL,         -- the executions row at commit of the change
        published boolean NOT NULL DEFAULT false,
        published_at timestamptz         -- real time, for the retention of published rows
    )""")
    op.execute("CREATE INDEX execution_status_changes_by_execution ON execution_status_changes (execution_id, seq)")
    op.execute("""CREATE INDEX execution_status_changes_unpublished ON execution_status_changes (seq)
                  WHERE NOT published""")
    op.execute("CREATE INDEX execution_status_changes_published_at ON execution_status_changes (published_at)")
    # SET search_path FROM CURRENT: the function finds the tables of this schema whoever writes.
    op.execute("""
    CREATE FUNCTION log_execution_status_change() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
    DECLARE
        current_row executions;
    BEGIN
        SELECT * INTO current_row FROM executions WHERE id = NEW.id;
        IF NOT FOUND THEN
            RETURN NULL;  -- deleted in the same transaction (a launch discarded): nothing happened
        END IF;
        INSERT INTO execution_status_changes (execution_id, organization_id, program_id, previous_status,
                                              status, occurred_at, snapshot)
        VALUES (NEW.id, NEW.organization_id, NEW.program_id,
                CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END, NEW.status, NEW.updated_at,
                to_jsonb(current_row));
        RETURN NULL;
    END $$""")
    op.execute("""
    CREATE CONSTRAINT TRIGGER executions_status_created AFTER INSERT ON executions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION log_execution_status_change()""")
    op.execute("""
    CREATE CONSTRAINT TRIGGER executions_status_changed AFTER UPDATE OF status ON executions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION log_execution_status_change()""")


def downgrade() -> None:
    op.execute("DROP TRIGGER executions_status_changed ON executions")
    op.execute("DROP TRIGGER executions_status_created ON executions")
    op.execute("DROP FUNCTION log_execution_status_change()")
    op.execute("DROP TABLE execution_status_changes")
