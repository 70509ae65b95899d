"""Credits end to end: a campaign runs out of credits, pauses, and completes once credits are added."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections import Counter

import psycopg
import pytest

from tests.support.campaigns import Tenant
from tests.support.system import HANG_GUARD_SECONDS, System, wait_until

pytestmark = pytest.mark.e2e

# Every call is answered and talks 90 s: two started minutes, two credits.
SIM_RULES = {"default": {"outcomes": ["answered"], "ringSeconds": 1, "talkSeconds": 90, "digits": []}, "rules": []}


@pytest.fixture(scope="module")
def fast(system_factory) -> System:
    return system_factory(clock_speed=300, sim_rules=SIM_RULES)


class CreditWatch:
    """Polls GET /api/credits until stopped; every balance seen is kept."""

    def __init__(self, tenant: Tenant):
        self.tenant = tenant
        self.seen: list[dict] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> CreditWatch:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            answer = self.tenant.org.get("/credits")
            if answer.status_code == 200:
                self.seen.append(answer.json())
            self._stop.wait(0.02)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(HANG_GUARD_SECONDS)

    def never_negative(self) -> bool:
        return bool(self.seen) and all(
            c["balance"] >= 0 and c["reserved"] >= 0 and c["available"] >= 0
            and c["available"] == c["balance"] - c["reserved"] for c in self.seen)


def attempts(system: System, execution_id: str) -> list[tuple[str, int]]:
    with psycopg.connect(system.database_url) as conn:
        return conn.execute("SELECT state, attempt FROM execution.execution_contacts WHERE execution_id = %s",
                            (execution_id,)).fetchall()


def admin_add_credits(system: System, org_id: str, amount: int) -> None:
    done = subprocess.run([sys.executable, "-m", "outbound_cli.main", "admin", "credits", "add", "--org", org_id,
                           "--amount", str(amount)], env={**os.environ, **system.env}, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_out_of_credits_pauses_and_credits_added_then_resume_completes(fast: System):
    tenant = Tenant(fast, credits=3)
    program = tenant.program(tenant.audience(5), maxConcurrentCalls=1)
    with CreditWatch(tenant) as watch:
        execution_id = tenant.launch(program["id"])
        # 3 credits: the first call costs 2, the second only the 1 left (never overdrawn); the
        # third cannot be covered, is not placed, and the execution pauses.
        paused = wait_until(lambda: (e := tenant.execution(execution_id))["status"] == "paused_no_credits"
                            and e["contactsInProgress"] == 0 and e, message="paused_no_credits")
        assert (paused["contactsCompleted"], paused["contactsPending"]) == (2, 3)
        assert tenant.org.get("/credits").json() == {"balance": 0, "reserved": 0, "available": 0}
        calls = tenant.calls(execution_id)
        assert len(calls) == 2 and all(c["attempt"] == 1 and c["talkSeconds"] == 90 for c in calls)
        # No attempt lost: the refused call gave its attempt back.
        assert sorted(attempts(fast, execution_id)) == [("completed", 1)] * 2 + [("pending", 0)] * 3

        # Resume with credits still missing: paused again at once, same status, nothing dialled.
        again = tenant.org.patch(f"/program-executions/{execution_id}/resume")
        assert again.status_code == 200 and again.json()["status"] == "paused_no_credits", again.text
        assert len(tenant.calls(execution_id)) == 2

        admin_add_credits(fast, tenant.org.id, 20)
        assert tenant.org.get("/credits").json()["available"] == 20
        resumed = tenant.org.patch(f"/program-executions/{execution_id}/resume")
        assert resumed.status_code == 200 and resumed.json()["status"] == "running", resumed.text
        done = tenant.wait_status(execution_id, "completed")
    assert done["contactsCompleted"] == 5 and done["contactsFailed"] == 0
    calls = tenant.calls(execution_id)
    per_contact = Counter(c["contactId"] for c in calls)
    assert len(per_contact) == 5 and set(per_contact.values()) == {1}
    assert all(c["attempt"] == 1 for c in calls)
    assert sorted(attempts(fast, execution_id)) == [("completed", 1)] * 5
    # Three more calls at two credits each.
    assert tenant.org.get("/credits").json() == {"balance": 14, "reserved": 0, "available": 14}
    assert watch.never_negative(), [c for c in watch.seen if c["balance"] < 0 or c["available"] < 0]


def test_many_calls_settling_at_once_never_overdraw(fast: System):
    # 20 credits cover 20 calls' first minute; 30 calls are requested at once; each placed call
    # talks two minutes, so the 20 settlements together ask for twice the balance.
    tenant = Tenant(fast, credits=20)
    program = tenant.program(tenant.audience(30), maxConcurrentCalls=30)
    with CreditWatch(tenant) as watch:
        execution_id = tenant.launch(program["id"])
        paused = wait_until(lambda: (e := tenant.execution(execution_id))["status"] == "paused_no_credits"
                            and e["contactsInProgress"] == 0 and e, message="calls settled, execution paused")
    assert watch.never_negative(), [c for c in watch.seen if c["balance"] < 0 or c["available"] < 0]
    assert max(c["reserved"] for c in watch.seen) <= 20
    assert paused["contactsCompleted"] == 20 and paused["contactsPending"] == 10
    assert tenant.org.get("/credits").json() == {"balance": 0, "reserved": 0, "available": 0}
    assert len(tenant.calls(execution_id)) == 20
    rows = Counter(attempts(fast, execution_id))
    assert rows == {("completed", 1): 20, ("pending", 0): 10}
    assert tenant.org.delete(f"/program-executions/{execution_id}").status_code == 204
