"""Answering machines end to end through REST with the simulated carrier on a fast clock: the
program's `answeringMachine` (read back, PATCH, every rule), and campaigns whose numbers a machine
answers — hung up on and retried, left a message that completes the contact or not, or heard the
flow when the program does not detect — with `amd` in the call history."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.campaigns import SIM_RULES as BASE_RULES
from tests.support.campaigns import Tenant, serial
from tests.support.system import System

pytestmark = pytest.mark.e2e

MACHINE, PERSON = "7", "9"  # the digit after +2126 in the tenant's numbers
SIM_RULES = {
    "default": {**BASE_RULES["default"], "amdDecisionSeconds": 2},
    "rules": [{"match": r"^\+21267", "answeredBy": "machine"}],
}
FLOW = {
    "name": "Reminder with voicemail",
    "startNodeId": "welcome",
    "nodes": [
        {"id": "welcome", "type": "say", "text": "Hello, this is your reminder", "next": "bye"},
        {"id": "vm", "type": "say", "text": "Sorry we missed you", "next": "vm-2"},
        {"id": "vm-2", "type": "say", "text": "We will call again", "next": "bye"},
        {"id": "menu", "type": "gather", "prompt": "Press 1", "options": {"1": "bye"}, "noInput": "bye"},
        {"id": "bye", "type": "hangup"},
    ],
}
MESSAGE = ["vm", "vm-2", "bye"]
HANG_UP = {"detect": True, "onMachine": "hangup"}
LEAVE = {"detect": True, "onMachine": "leave_message", "messageNodeId": "vm"}
RETRY_ONCE = {"type": "fixed_delay", "delayMinutes": 1, "maxRetries": 1}


@pytest.fixture(scope="module")
def fast(system_factory) -> System:
    return system_factory(clock_speed=120, sim_rules=SIM_RULES)


class VoicemailTenant(Tenant):
    """A tenant whose programs run the flow with a message chain."""

    def __init__(self, system: System):
        super().__init__(system)
        flow = self.org.post("/flows", json=FLOW)
        assert flow.status_code == 201, flow.text
        self.flow_id = flow.json()["id"]

    def people(self, machines: int, persons: int) -> tuple[str, list[str], list[str]]:
        """An audience of `machines` numbers a machine answers and `persons` a person answers."""
        made = self.org.post("/audiences", json={"name": "Customers"})
        assert made.status_code == 201, made.text
        audience_id = made.json()["id"]
        phones = {kind: [f"+2126{kind}{next(serial):07d}" for _ in range(n)]
                  for kind, n in ((MACHINE, machines), (PERSON, persons))}
        answer = self.org.post("/contacts/bulk", json={
            "contacts": [{"phone": p} for p in phones[MACHINE] + phones[PERSON]], "audienceId": audience_id})
        assert answer.status_code == 201, answer.text
        return audience_id, phones[MACHINE], phones[PERSON]

    def run(self, machines: int, persons: int, **program: Any) -> tuple[dict[str, Any], dict[str, list[dict]],
                                                                        list[str], list[str]]:
        """Launch a program over such an audience and wait for its end: the execution, the calls by
        phone (in attempt order), and the two lists of numbers."""
        audience_id, machine_phones, person_phones = self.people(machines, persons)
        execution_id = self.launch(self.program(audience_id, **program)["id"])
        done = self.wait_status(execution_id, "completed")
        calls: dict[str, list[dict]] = {}
        for call in sorted(self.calls(execution_id), key=lambda c: c["attempt"]):
            calls.setdefault(call["phone"], []).append(call)
        return done, calls, machine_phones, person_phones


@pytest.fixture(scope="module")
def tenant(fast: System) -> VoicemailTenant:
    return VoicemailTenant(fast)


def counts(execution: dict[str, Any]) -> tuple[int, int]:
    return execution["contactsCompleted"], execution["contactsFailed"]


# ------------------------------------------------------------------- campaigns


def test_a_machine_is_hung_up_on_retried_and_shown_in_the_history(tenant: VoicemailTenant):
    done, calls, machines, persons = tenant.run(2, 1, answeringMachine=HANG_UP, retryStrategy=RETRY_ONCE)
    assert counts(done) == (1, 2)
    for phone in machines:
        assert [(c["attempt"], c["outcome"], c["nodeIds"], c["amd"]) for c in calls[phone]] == [
            (1, "voicemail", [], {"result": "machine", "decisionMs": 2000}),
            (2, "voicemail", [], {"result": "machine", "decisionMs": 2000})]
        assert all(c["answeredAt"] and c["talkSeconds"] == 2 for c in calls[phone])
    [person] = calls[persons[0]]
    assert (person["outcome"], person["nodeIds"], person["amd"]) == (
        "answered", ["welcome", "bye"], {"result": "human", "decisionMs": 2000})


def test_a_message_left_that_counts_completes_the_contact_without_a_retry(tenant: VoicemailTenant):
    done, calls, machines, persons = tenant.run(
        2, 1, answeringMachine={**LEAVE, "countAsReached": True}, retryStrategy=RETRY_ONCE)
    assert counts(done) == (3, 0)
    for phone in machines:
        [call] = calls[phone]
        assert (call["outcome"], call["nodeIds"], call["amd"]["result"]) == ("voicemail", MESSAGE, "machine")
        contact = tenant.org.get(f"/program-executions/{done['id']}/contacts/{call['contactId']}").json()
        assert (contact["state"], contact["attempts"], contact["lastOutcome"]) == ("completed", 1, "voicemail")
    assert [c["outcome"] for c in calls[persons[0]]] == ["answered"]


def test_a_message_left_that_does_not_count_is_retried(tenant: VoicemailTenant):
    done, calls, machines, _ = tenant.run(1, 1, answeringMachine=LEAVE, retryStrategy=RETRY_ONCE)
    assert counts(done) == (1, 1)
    [phone] = machines
    assert [(c["outcome"], c["nodeIds"]) for c in calls[phone]] == [("voicemail", MESSAGE)] * 2


def test_retry_on_without_voicemail_ends_the_contact_after_one_call(tenant: VoicemailTenant):
    done, calls, machines, _ = tenant.run(1, 1, answeringMachine=HANG_UP, retryStrategy={
        **RETRY_ONCE, "retryOn": ["busy", "no_answer"]})
    assert counts(done) == (1, 1)
    assert [c["outcome"] for c in calls[machines[0]]] == ["voicemail"]


@pytest.mark.parametrize("setting", [None, {**HANG_UP, "detect": False}], ids=["absent", "detect-off"])
def test_without_detection_a_machine_hears_the_flow(tenant: VoicemailTenant, setting):
    program = {"retryStrategy": RETRY_ONCE} | ({"answeringMachine": setting} if setting else {})
    done, calls, machines, _ = tenant.run(1, 1, **program)
    assert counts(done) == (2, 0)
    [call] = calls[machines[0]]
    assert (call["outcome"], call["nodeIds"], call["amd"]) == ("answered", ["welcome", "bye"], None)


# ------------------------------------------------------------------- the program field


def batch(tenant: VoicemailTenant, **changes: Any) -> dict[str, Any]:
    audience = tenant.org.post("/audiences", json={"name": "A"}).json()["id"]
    body = {"name": "Campaign", "audienceId": audience, "flowId": tenant.flow_id, "startAt": "2025-12-20T09:00:00Z",
            "didPool": [d.id for d in tenant.dids], "retryStrategy": {"type": "none"}}
    return body | changes


def test_the_setting_reads_back_with_every_field_and_patches(tenant: VoicemailTenant):
    created = tenant.org.post("/programs", json=batch(tenant, answeringMachine=LEAVE))
    assert created.status_code == 201, created.text
    program = created.json()
    assert program["answeringMachine"] == {**LEAVE, "countAsReached": False}
    path = f"/programs/{program['id']}"
    assert tenant.org.get(path).json() == program
    patched = tenant.org.patch(path, json={"answeringMachine": HANG_UP}).json()
    assert patched["answeringMachine"] == {**HANG_UP, "messageNodeId": None, "countAsReached": False}
    assert tenant.org.patch(path, json={"name": "Renamed"}).json()["answeringMachine"] == patched["answeringMachine"]
    assert tenant.org.patch(path, json={"answeringMachine": None}).json()["answeringMachine"] is None
    plain = tenant.org.post("/programs", json=batch(tenant))
    assert plain.json()["answeringMachine"] is None


def _am(**setting: Any) -> dict[str, Any]:
    return {"answeringMachine": setting}


RULES = [
    ("detect-missing", _am(onMachine="hangup"), "answeringMachine.detect:"),
    ("on-machine-unknown", _am(detect=True, onMachine="beep"), "answeringMachine.onMachine:"),
    ("unknown-field", _am(detect=True, onMachine="hangup", beep=True), "answeringMachine.beep: unknown field"),
    ("on-machine-missing", _am(detect=True),
     "answeringMachine.onMachine: is required when detect is true (one of hangup, leave_message)"),
    ("node-missing", _am(detect=True, onMachine="leave_message"),
     "answeringMachine.messageNodeId: is required when onMachine is leave_message"),
    ("node-with-hangup", _am(detect=True, onMachine="hangup", messageNodeId="vm"),
     "answeringMachine.messageNodeId: is only allowed when onMachine is leave_message"),
    ("reached-with-hangup", _am(detect=True, onMachine="hangup", countAsReached=True),
     "answeringMachine.countAsReached: applies only when onMachine is leave_message"),
    ("node-not-in-flow", _am(**LEAVE | {"messageNodeId": "nowhere"}),
     "answeringMachine.messageNodeId: node 'nowhere' is not in the program's flow"),
    ("node-a-hangup", _am(**LEAVE | {"messageNodeId": "bye"}),
     "answeringMachine.messageNodeId: node 'bye' must start a chain of say nodes ending in a hangup"),
    ("node-a-gather", _am(**LEAVE | {"messageNodeId": "menu"}),
     "answeringMachine.messageNodeId: node 'menu' must start a chain of say nodes ending in a hangup"),
]


@pytest.mark.parametrize(("change", "message"), [pytest.param(c, m, id=i) for i, c, m in RULES])
def test_each_rule_refuses_and_writes_nothing(tenant: VoicemailTenant, change: dict[str, Any], message: str):
    before = len(tenant.org.get("/programs", params={"limit": 1000}).json())
    answer = tenant.org.post("/programs", json=batch(tenant, **change))
    assert (answer.status_code, answer.json()["error"]) == (400, "ValidationError"), answer.text
    assert answer.json()["message"].startswith(message)
    assert len(tenant.org.get("/programs", params={"limit": 1000}).json()) == before


def test_patching_the_flow_rechecks_the_message_node(tenant: VoicemailTenant):
    program = tenant.org.post("/programs", json=batch(tenant, answeringMachine=LEAVE)).json()
    other = tenant.org.post("/flows", json={**FLOW, "nodes": [n for n in FLOW["nodes"] if n["id"] != "vm"] + [
        {"id": "vm", "type": "gather", "prompt": "Press 1", "options": {"1": "bye"}, "noInput": "bye"}]}).json()
    answer = tenant.org.patch(f"/programs/{program['id']}", json={"flowId": other["id"]})
    assert answer.status_code == 400, answer.text
    assert answer.json()["message"] == (
        "answeringMachine.messageNodeId: node 'vm' must start a chain of say nodes ending in a hangup")
    assert tenant.org.get(f"/programs/{program['id']}").json()["flowId"] == tenant.flow_id
