"""A whole campaign through the REST API with CARRIER=sip against SIPp as the called parties.

Two SIPp far ends are two trunks chosen by country (one takes MA numbers, the other FR ones),
both running tests/sipp/campaign_far_end.xml: the class digit after the country prefix of the
called number decides the answer (RFC 4733 digit 1, silence, 486 every time, 486 once, 404), and
SIPp fails any call whose caller ID is not one of the program's DIDs of that country. What each
SIPp answered is read back from its own log and statistics, and must equal what the execution
counts and what `GET /api/program-executions/{id}/calls` lists, call by call. A second program
pauses itself once its auto-pause rule has counted real calls reaching the gather's branch node.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from kernel.timefmt import parse_iso
from tests.support.campaigns import Tenant, serial
from tests.support.sipp import Sipp, SippResult, regex_escape
from tests.support.system import System, wait_until

pytestmark = pytest.mark.e2e

# The class digit after the country prefix (see the scenario).
DIGIT, SILENT, BUSY, BUSY_ONCE, MISSING = "1", "2", "3", "4", "5"

FLOW = {
    "name": "Appointment reminder",
    "startNodeId": "welcome",
    "nodes": [
        {"id": "welcome", "type": "say", "text": "Hello", "next": "menu"},
        # The far end sends its digit 2 s after answering: after "Hello" (0.7 s), inside the wait.
        {"id": "menu", "type": "gather", "prompt": "Press 1", "options": {"1": "confirm"}, "timeoutSeconds": 3,
         "noInput": "later"},
        {"id": "confirm", "type": "say", "text": "Thank you", "next": "bye"},
        {"id": "later", "type": "say", "text": "Goodbye", "next": "bye"},
        {"id": "bye", "type": "hangup"},
    ],
}
CONFIRMED = ["welcome", "menu", "confirm", "bye"]
NO_INPUT = ["welcome", "menu", "later", "bye"]

# What the far end logged → the call as the history must show it: outcome, sipCode, q850Cause, nodeIds.
SHOWN_AS = {
    ("200", "digit"): ("answered", 200, None, CONFIRMED),
    ("200", "silent"): ("answered", 200, None, NO_INPUT),
    ("486", "busy"): ("busy", 486, 17, []),
    ("404", "not_found"): ("invalid_number", 404, 1, []),
}
MAX_RETRIES = 2


@dataclass(frozen=True)
class FarEnd:
    """One SIPp far end, the trunk that reaches it and the caller IDs it accepts."""

    sipp: Sipp
    trunk: str
    prefix: str  # the country's mobile prefix; the class digit follows it
    dids: tuple[str, ...]


@dataclass(frozen=True)
class Answer:
    """One line of a far end's log: what it answered one call."""

    number: str
    caller: str
    status: str
    what: str


@dataclass(frozen=True)
class Campaigns:
    system: System
    tenant: Tenant
    flow_id: str
    did_pool: list[str]
    morocco: FarEnd
    france: FarEnd


def far_end(workdir: Path, country: str, prefix: str, dids: tuple[str, ...]) -> FarEnd:
    # Numbers already called are kept in an indexed injection file (the "busy once" class).
    seen = workdir / f"seen-{country}.csv"
    seen.write_text("SEQUENTIAL\nnobody;0\n")
    sipp = Sipp("campaign_far_end", workdir, calls=100_000, timeout="900s",
                extra_args=["-inf", str(seen), "-infindex", seen.name, "0"],
                PREFIX=prefix, CALLER_IDS="|".join(regex_escape(d) for d in dids), SEEN_FILE=seen.name,
                DIGIT_AFTER_MS="2000")
    return FarEnd(sipp, f"{country}-{uuid.uuid4().hex[:6]}", prefix, dids)


@pytest.fixture(scope="module")
def campaigns(system_factory, tmp_path_factory) -> Iterator[Campaigns]:
    workdir = tmp_path_factory.mktemp("far-ends")
    base = random.randrange(10_000_000, 89_000_000)
    morocco = far_end(workdir, "ma", "+2126", (f"+2125{base:08d}", f"+2125{base + 1:08d}"))
    france = far_end(workdir, "fr", "+336", (f"+331{base:08d}",))
    trunks = workdir / "trunks.json"
    trunks.write_text(json.dumps([
        {"name": end.trunk, "uri": f"sip:127.0.0.1:{end.sipp.port};transport=udp", "maxCallsPerSecond": 20,
         "maxConcurrentCalls": 24, "countries": [country]}
        for end, country in ((morocco, "MA"), (france, "FR"))]))
    rtp = random.randrange(21_000, 29_000, 2)
    try:
        # Started before the system, so no line worker can take their ports.
        for end in (morocco, france):
            end.sipp.start()
        system = system_factory(clock_speed=60, extra_env={
            "CARRIER": "sip", "SIP_TRUNKS": str(trunks), "SIP_BIND": "127.0.0.1:0", "SIP_MAX_CALLS": "24",
            "SIP_RING_TIMEOUT_SECONDS": "8", "RTP_PORTS": f"{rtp}-{rtp + 400}",
            "PROMPT_CACHE_DIR": str(workdir / "prompts"),
            # A line worker that crashes leaves its Python stacks in the dialer's log.
            "PYTHONFAULTHANDLER": "1"})
        tenant = Tenant(system)
        flow = tenant.org.post("/flows", json=FLOW)
        assert flow.status_code == 201, flow.text
        pool = [system.add_did(d, "MA", org=tenant.org.id).id for d in morocco.dids]
        pool += [system.add_did(d, "FR", org=tenant.org.id).id for d in france.dids]
        yield Campaigns(system, tenant, flow.json()["id"], pool, morocco, france)
    finally:
        for end in (morocco, france):
            end.sipp.stop()


def audience(tenant: Tenant, phones: list[str]) -> str:
    made = tenant.org.post("/audiences", json={"name": f"audience {uuid.uuid4().hex[:6]}"})
    assert made.status_code == 201, made.text
    added = tenant.org.post("/contacts/bulk", json={"contacts": [{"phone": p} for p in phones],
                                                    "audienceId": made.json()["id"]})
    assert added.status_code == 201, added.text
    return made.json()["id"]


def numbers(end: FarEnd, counts: dict[str, int]) -> dict[str, list[str]]:
    return {kind: [f"{end.prefix}{kind}{next(serial):07d}" for _ in range(n)] for kind, n in counts.items()}


def shuffled(by_kind: dict[str, list[str]]) -> list[str]:
    phones = [p for group in by_kind.values() for p in group]
    random.shuffle(phones)
    return phones


def finished(end: FarEnd) -> tuple[SippResult, dict[str, list[Answer]]]:
    """The far end stopped: its statistics, and its answers per number in the order it gave them."""
    result = end.sipp.finish()
    answers: dict[str, list[Answer]] = defaultdict(list)
    for line in end.sipp.log():
        word, number, caller, status, what = line.split()
        assert word == "answer", line
        answers[number].append(Answer(number, caller, status, what))
    return result, answers


def by_phone(calls: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for call in sorted(calls, key=lambda c: c["attempt"]):
        out[call["phone"]].append(call)
    return out


def assert_calls_are_what_the_far_end_answered(calls: list[dict[str, Any]], answers: dict[str, list[Answer]]):
    """Call by call: the history shows exactly the far end's answers, attempt after attempt."""
    history = by_phone(calls)
    assert set(history) == set(answers)
    for phone, placed in history.items():
        assert [c["attempt"] for c in placed] == list(range(1, len(placed) + 1)), placed
        shown = [(c["outcome"], c["sipCode"], c["q850Cause"], c["nodeIds"], c["didNumber"]) for c in placed]
        assert shown == [(*SHOWN_AS[(a.status, a.what)], a.caller) for a in answers[phone]], phone
        for call in placed:
            assert call["endedAt"] is not None
            if call["outcome"] == "answered":
                assert call["answeredAt"] is not None and call["talkSeconds"] >= 1, call
            else:
                assert call["answeredAt"] is None and call["talkSeconds"] == 0, call


def diagnosis(campaigns: Campaigns, end: FarEnd, result: SippResult) -> str:
    """What a failed far-end check needs first: SIPp's errors, the dialer's warnings, then messages."""
    logs = sorted((campaigns.system.workdir / "logs").glob("dialer-*.log"))
    notable = [line for path in logs for line in path.read_text(errors="replace").splitlines()
               if any(word in line for word in ("WARNING", "ERROR", "sip_line", "Traceback", "Error"))]
    return "\n".join([f"{result.created} created, {result.successful} successful, {result.failed} failed",
                      result.errors[-1500:], *notable[-30:], end.sipp.messages()[-2000:]])


def test_a_campaign_of_fifty_contacts_counts_what_the_far_end_answered(campaigns: Campaigns):
    tenant, end = campaigns.tenant, campaigns.morocco
    kinds = numbers(end, {DIGIT: 20, SILENT: 12, BUSY: 6, BUSY_ONCE: 6, MISSING: 6})
    program = tenant.program(audience(tenant, shuffled(kinds)), flowId=campaigns.flow_id,
                             didPool=campaigns.did_pool, maxConcurrentCalls=20,
                             retryStrategy={"type": "fixed_delay", "delayMinutes": 1, "maxRetries": MAX_RETRIES})
    execution_id = tenant.launch(program["id"])

    done = tenant.wait_status(execution_id, "completed")
    calls = tenant.calls(execution_id)
    result, answers = finished(end)

    # SIPp's own counts: every call it received passed its caller-ID and Request-URI checks and
    # ended as the scenario wanted; the history lists exactly those calls.
    assert result.ok and result.successful == result.created == len(calls), diagnosis(campaigns, end, result)
    said = Counter(a.status for per_number in answers.values() for a in per_number)
    assert sum(said.values()) == len(calls)
    outcomes = Counter(c["outcome"] for c in calls)
    assert outcomes["answered"] == said["200"]
    assert (outcomes["busy"], outcomes["invalid_number"]) == (said["486"], said["404"])
    assert_calls_are_what_the_far_end_answered(calls, answers)

    # The execution's counters: a contact is completed when the far end picked up, failed otherwise.
    picked_up = {n for n, per_number in answers.items() if any(a.status == "200" for a in per_number)}
    counters = [done[k] for k in ("totalContacts", "contactsCompleted", "contactsFailed", "contactsPending",
                                  "contactsInProgress", "contactsSkipped")]
    assert counters == [50, len(picked_up), len(answers) - len(picked_up), 0, 0, 0]

    # The scenario's classes, as the retry strategy and the outcome table make them.
    history = by_phone(calls)
    for phone in kinds[MISSING]:  # invalid_number: called exactly once, never retried
        assert [(c["attempt"], c["outcome"]) for c in history[phone]] == [(1, "invalid_number")]
    for phone in kinds[BUSY]:
        assert [c["outcome"] for c in history[phone]] == ["busy"] * (1 + MAX_RETRIES)
    for phone in kinds[BUSY_ONCE]:
        assert [(c["outcome"], c["nodeIds"]) for c in history[phone]] == [("busy", []), ("answered", CONFIRMED)]
    assert all(history[p][0]["nodeIds"] == CONFIRMED for p in kinds[DIGIT])
    assert all(history[p][0]["nodeIds"] == NO_INPUT for p in kinds[SILENT])
    assert (said["200"], said["486"], said["404"]) == (20 + 12 + 6, 6 * (1 + MAX_RETRIES) + 6, 6)
    # Local caller ID: both Moroccan DIDs in rotation, never the French one of the same pool.
    assert {c["didNumber"] for c in calls} == set(end.dids)

    # Nothing left in progress, down to the carrier's shared trunk and DID slots.
    client = redis.Redis.from_url(campaigns.system.redis_url)
    try:
        wait_until(lambda: client.zcard(f"dialer:trunk:{end.trunk}:calls") == 0
                   and all(client.zcard(f"dialer:did:{d}:calls") == 0 for d in campaigns.did_pool),
                   timeout=30, message="trunk and DID slots released")
    finally:
        client.close()


def test_auto_pause_counts_real_calls_reaching_the_gather_branch(campaigns: Campaigns):
    tenant, end = campaigns.tenant, campaigns.france
    kinds = numbers(end, {DIGIT: 3, SILENT: 3})
    rule = {"nodeId": "confirm", "threshold": 2, "resetOnResume": True}
    # One call at a time: the result that reaches the threshold is applied before the next claim.
    program = tenant.program(audience(tenant, shuffled(kinds)), flowId=campaigns.flow_id,
                             didPool=campaigns.did_pool, maxConcurrentCalls=1, autoPauseRules=[rule])
    execution_id = tenant.launch(program["id"])

    paused = wait_until(lambda: (e := tenant.execution(execution_id))["status"] == "paused_threshold"
                        and e["contactsInProgress"] == 0 and e, message="paused_threshold with no call in flight")
    assert paused["autoPauseCounters"] == [{"nodeId": "confirm", "count": 2, "threshold": 2}]
    calls = tenant.calls(execution_id)
    confirmed = [c for c in calls if c["nodeIds"] == CONFIRMED]
    assert len(confirmed) == 2
    # The pause came with the second call that confirmed: no call was started after it.
    last = max(calls, key=lambda c: parse_iso(c["startedAt"]))
    assert last["nodeIds"] == CONFIRMED and all(parse_iso(c["startedAt"]) <= parse_iso(paused["updatedAt"])
                                                for c in calls)
    time.sleep(2)  # two virtual minutes: still paused, nobody else called
    assert tenant.execution(execution_id)["status"] == "paused_threshold"
    assert len(tenant.calls(execution_id)) == len(calls)

    result, answers = finished(end)
    assert result.ok and result.successful == result.created == len(calls), diagnosis(campaigns, end, result)
    digits_sent = sum(a.what == "digit" for per_number in answers.values() for a in per_number)
    assert digits_sent == len(confirmed) == rule["threshold"]
    assert_calls_are_what_the_far_end_answered(calls, answers)
    assert {c["didNumber"] for c in calls} == set(end.dids)
    assert (paused["contactsCompleted"], paused["contactsPending"]) == (len(calls), 6 - len(calls))

    assert tenant.org.delete(f"/program-executions/{execution_id}").status_code == 204
    assert tenant.wait_status(execution_id, "cancelled")["contactsSkipped"] == 6 - len(calls)
