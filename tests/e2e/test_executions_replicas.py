"""Two replicas of the execution and dialer services share one campaign: no attempt is dialled
twice and no contact gets more attempts than its retry strategy allows (checked in the database)."""

from __future__ import annotations

import psycopg
import pytest

from tests.support.campaigns import ALWAYS_BUSY, ANSWER, RETRY_THEN_ANSWER, SIM_RULES, Tenant
from tests.support.system import System

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def replicated(system_factory) -> System:
    return system_factory(clock_speed=120, sim_rules=SIM_RULES, replicas={"execution": 2, "dialer": 2})


def test_two_replicas_never_double_dial(replicated: System):
    tenant = Tenant(replicated)
    audience = tenant.audience(200, ANSWER)
    for kind in (RETRY_THEN_ANSWER, ALWAYS_BUSY):
        extra = tenant.org.post("/contacts/bulk", json={
            "contacts": [{"phone": f"+2126{kind}{9_900_000 + i:07d}"} for i in range(50)], "audienceId": audience})
        assert extra.status_code == 201, extra.text
    program = tenant.program(audience, maxConcurrentCalls=60,
                             retryStrategy={"type": "fixed_delay", "delayMinutes": 1, "maxRetries": 2})
    execution_id = tenant.launch(program["id"])
    done = tenant.wait_status(execution_id, "completed")
    assert (done["totalContacts"], done["contactsCompleted"], done["contactsFailed"]) == (300, 250, 50)

    with psycopg.connect(replicated.database_url, autocommit=True) as conn:
        rows = conn.execute("""
            SELECT contact_ref, state, attempt FROM execution.execution_contacts
            WHERE execution_id = %s""", (execution_id,)).fetchall()
        assert len(rows) == 300 and max(r[2] for r in rows) <= 3
        duplicates = conn.execute("""
            SELECT contact_id, attempt, count(*) FROM dialer.call_records
            WHERE execution_id = %s GROUP BY contact_id, attempt HAVING count(*) > 1""", (execution_id,)).fetchall()
        assert duplicates == []
        per_contact = dict(conn.execute("""
            SELECT contact_id, max(attempt) FROM dialer.call_records WHERE execution_id = %s
            GROUP BY contact_id""", (execution_id,)).fetchall())
        calls = conn.execute("SELECT count(*) FROM dialer.call_records WHERE execution_id = %s AND outcome IS NOT NULL",
                             (execution_id,)).fetchone()[0]
    assert len(per_contact) == 300 and max(per_contact.values()) <= 3
    attempts = {r[0]: r[2] for r in rows}
    assert per_contact == attempts  # batch rows: contact_ref is the contact id
    assert calls == sum(attempts.values()) == 200 + 50 * 3 + 50 * 3
    logs = replicated.logs()
    assert "execution-0.log" in logs and "execution-1.log" in logs
