"""A number the carrier says does not exist (`invalid_number`) is called once, whatever the retry
strategy allows, and its contact ends failed; the call history shows the outcome, with sipCode and
q850Cause null because the simulated carrier reports no SIP details."""

from __future__ import annotations

from collections import defaultdict

import pytest

from tests.support.campaigns import ANSWER, Tenant, serial
from tests.support.system import System

pytestmark = pytest.mark.e2e

INVALID = "4"  # +21264…: the number does not exist
SIM_RULES = {
    "default": {"outcomes": ["answered"], "ringSeconds": 1, "talkSeconds": 5, "digits": []},
    "rules": [{"match": r"^\+21264", "outcomes": ["invalid_number"], "ringSeconds": 1}],
}


@pytest.fixture(scope="module")
def tenant(system_factory) -> Tenant:
    system: System = system_factory(clock_speed=120, sim_rules=SIM_RULES)
    return Tenant(system)


def test_invalid_numbers_are_called_once_and_fail_while_others_complete(tenant: Tenant):
    audience = tenant.audience(4, INVALID)
    answering = [{"phone": f"+2126{ANSWER}{next(serial):07d}"} for _ in range(2)]
    added = tenant.org.post("/contacts/bulk", json={"contacts": answering, "audienceId": audience})
    assert added.status_code == 201, added.text
    program = tenant.program(audience, retryStrategy={"type": "fixed_delay", "delayMinutes": 1, "maxRetries": 3})
    execution_id = tenant.launch(program["id"])

    done = tenant.wait_status(execution_id, "completed")
    assert [done[k] for k in ("contactsCompleted", "contactsFailed", "contactsPending", "contactsInProgress",
                              "contactsSkipped")] == [2, 4, 0, 0, 0]

    by_phone: dict[str, list[dict]] = defaultdict(list)
    for call in tenant.calls(execution_id):
        by_phone[call["phone"]].append(call)
    invalid = {p: c for p, c in by_phone.items() if p.startswith(f"+2126{INVALID}")}
    assert len(invalid) == 4 and len(by_phone) == 6
    for calls in invalid.values():
        [call] = calls  # never retried although three retries were allowed
        assert (call["attempt"], call["outcome"], call["talkSeconds"]) == (1, "invalid_number", 0)
        assert call["sipCode"] is None and call["q850Cause"] is None
        assert call["answeredAt"] is None and call["nodeIds"] == []
    for phone, calls in by_phone.items():
        if phone not in invalid:
            assert [(c["outcome"], c["sipCode"], c["q850Cause"]) for c in calls] == [("answered", None, None)]

