"""A live execution through REST: fired triggers join the execution and are dialled; it never
completes on its own; cancelling ends it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kernel.timefmt import iso
from tests.support.campaigns import SIM_RULES, Tenant, serial
from tests.support.system import System, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def live_system(system_factory) -> System:
    return system_factory(clock_speed=120, sim_rules=SIM_RULES)


def test_live_execution_calls_fired_triggers(live_system: System):
    tenant = Tenant(live_system)
    made = tenant.org.post("/custom-attributes", json={"name": "Due date", "slug": "due_date", "type": "date"})
    assert made.status_code == 201, made.text
    now = live_system.now()
    due_now = [{"phone": f"+21269{next(serial):07d}",
                "attributes": {"due_date": iso(now + timedelta(days=1))}} for _ in range(3)]
    later = [{"phone": f"+21269{next(serial):07d}", "attributes": {"due_date": iso(now + timedelta(days=30))}}]
    answer = tenant.org.post("/contacts/bulk", json={"contacts": due_now + later})
    assert answer.status_code == 201, answer.text
    program = tenant.org.post("/programs", json={
        "name": "Reminder", "mode": "live", "flowId": tenant.flow_id,
        "triggerCondition": {"type": "date", "attributeName": "due_date", "direction": "before",
                             "offset": {"days": 2, "hours": 0, "minutes": 0}},
        "startAt": iso(now - timedelta(minutes=1)), "didPool": [d.id for d in tenant.dids],
        "retryStrategy": {"type": "none"}})
    assert program.status_code == 201, program.text
    execution_id = tenant.launch(program.json()["id"])
    done = wait_until(lambda: (e := tenant.execution(execution_id))["contactsCompleted"] == 3 and e,
                      message="three fired triggers called")
    assert done["totalContacts"] == 3 and done["status"] == "running"
    assert len(tenant.calls(execution_id)) == 3
    assert tenant.org.delete(f"/program-executions/{execution_id}").status_code == 204
    ended = tenant.execution(execution_id)
    assert ended["status"] == "cancelled" and ended["totalContacts"] == 3
    pending = tenant.org.get(f"/programs/{program.json()['id']}/triggers", params={"status": "pending"})
    wait_until(lambda: tenant.org.get(f"/programs/{program.json()['id']}/triggers",
                                      params={"status": "pending"}).json() == [],
               message=f"pending triggers cancelled (was {pending.text})")
