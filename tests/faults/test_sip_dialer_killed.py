"""kill -9 of a dialer with SIP calls up (CARRIER=sip, SIPp as the called parties).

SIPp answers every call and stays silent; the flow's gather waits two minutes for a digit, so
every call is still up when the dialer is killed. Its line workers see their stdin close: they
send BYE for every call and exit, leaving no process behind. The restarted dialer's call lease
finishes the attempts whose dialer vanished as `unknown` (never placed a second time); with no
retry, each such contact ends failed and the execution completes (docs/reliability.md, "A call
whose fate is unknown is not a failure"; docs/dialer.md, "Placing calls").
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from kernel import jetstream
from services.dialer.adapters.sip_carrier import workers_for
from tests.faults.campaigns import CREDITS, call_records, db, fault_system, spent
from tests.support.campaigns import COUNTERS, Tenant, serial
from tests.support.processes import children_running, still_alive
from tests.support.sipp import Sipp, regex_escape
from tests.support.system import HANG_GUARD_SECONDS, System, wait_until

# The per-test timeout only stops a hang: above the longest wait's guard, not sized for speed.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(2 * HANG_GUARD_SECONDS)]

CONTACTS = 8
SIP_MAX_CALLS = CONTACTS  # two line workers of four lines each
LINE_MODULE = "services.dialer.adapters.sip_line"
PREFIX = "+2126"

FLOW = {
    "name": "Held call",
    "startNodeId": "menu",
    "nodes": [
        # The far end never sends a digit: the call stays up for the whole gather.
        {"id": "menu", "type": "gather", "prompt": "Press 1", "options": {"1": "bye"}, "timeoutSeconds": 120,
         "noInput": "bye"},
        {"id": "bye", "type": "hangup"},
    ],
}


@dataclass(frozen=True)
class HeldCalls:
    system: System
    tenant: Tenant
    far_end: Sipp
    flow_id: str
    dids: list[str]  # DID ids of the program's pool


@pytest.fixture(scope="module")
def held_calls(system_factory: Callable[..., System],
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[HeldCalls]:
    workdir = tmp_path_factory.mktemp("far-end")
    base = random.randrange(10_000_000, 89_000_000)
    numbers = [f"+2125{base:08d}", f"+2125{base + 1:08d}"]
    # Far longer than the test: only our BYE ends a call.
    far_end = Sipp("answer_hold", workdir, calls=100_000, timeout="900s", PREFIX=PREFIX,
                   CALLER_IDS="|".join(regex_escape(n) for n in numbers), HOLD_MS="600000")
    trunks = workdir / "trunks.json"
    trunks.write_text(json.dumps([{"name": f"ma-{uuid.uuid4().hex[:6]}", "uri": far_end.uri,
                                   "maxCallsPerSecond": 20, "maxConcurrentCalls": 24, "countries": ["MA"]}]))
    rtp = random.randrange(21_000, 29_000, 2)
    try:
        far_end.start()  # before the system, so no line worker can take its port
        system = fault_system(system_factory, extra_env={
            "CARRIER": "sip", "SIP_TRUNKS": str(trunks), "SIP_BIND": "127.0.0.1:0",
            "SIP_MAX_CALLS": str(SIP_MAX_CALLS), "SIP_RING_TIMEOUT_SECONDS": "30",
            "RTP_PORTS": f"{rtp}-{rtp + 200}", "PROMPT_CACHE_DIR": str(workdir / "prompts"),
            "PYTHONFAULTHANDLER": "1"})
        tenant = Tenant(system, credits=CREDITS)
        flow = tenant.org.post("/flows", json=FLOW)
        assert flow.status_code == 201, flow.text
        dids = [system.add_did(n, "MA", org=tenant.org.id).id for n in numbers]
        yield HeldCalls(system, tenant, far_end, flow.json()["id"], dids)
    finally:
        far_end.stop()


def logged(far_end: Sipp, word: str) -> list[str]:
    """The numbers of the far end's log lines starting with `word` ("answer" or "bye"), in order."""
    return [line.split()[1] for line in far_end.log() if line.split()[0] == word]


def diagnosis(held: HeldCalls) -> str:
    """What a failed check needs first: the dialer's log (its line workers write there), then SIPp's."""
    lines = [line for path in sorted((held.system.workdir / "logs").glob("dialer-*.log"))
             for line in path.read_text(errors="replace").splitlines()
             if any(word in line for word in ("WARNING", "ERROR", "sip_line", "Traceback", "Error"))]
    return "\n".join([*lines[-40:], *held.far_end.log()[-20:], held.far_end.messages()[-3000:]])


async def _dial_requests_handled(nats_url: str) -> tuple[int, int]:
    nc = await jetstream.connect(nats_url, "fault-test")
    try:
        info = await nc.jetstream().consumer_info(jetstream.DIAL_STREAM, jetstream.DIAL_CONSUMER)
        return int(info.num_pending or 0), int(info.num_ack_pending or 0)
    finally:
        await nc.close()


def dial_requests_handled(system: System) -> bool:
    """Every dial request, the killed dialer's redelivered ones included, was acknowledged."""
    return asyncio.run(_dial_requests_handled(system.nats_url)) == (0, 0)


def test_killed_dialer_calls_get_bye_and_end_unknown_once(held_calls: HeldCalls) -> None:
    system, tenant, far_end = held_calls.system, held_calls.tenant, held_calls.far_end
    phones = [f"{PREFIX}9{next(serial):07d}" for _ in range(CONTACTS)]
    made = tenant.org.post("/audiences", json={"name": "held calls"})
    assert made.status_code == 201, made.text
    added = tenant.org.post("/contacts/bulk", json={"contacts": [{"phone": p} for p in phones],
                                                    "audienceId": made.json()["id"]})
    assert added.status_code == 201, added.text
    program = tenant.program(made.json()["id"], flowId=held_calls.flow_id, didPool=held_calls.dids,
                             maxConcurrentCalls=CONTACTS)  # no retry: an unknown attempt ends its contact
    execution_id = tenant.launch(program["id"])

    answered = wait_until(lambda: len(got := logged(far_end, "answer")) >= CONTACTS and got,
                          message="the far end answering every contact")
    assert sorted(answered) == sorted(phones), diagnosis(held_calls)
    assert logged(far_end, "bye") == [], "the flow holds every call until the kill"
    assert tenant.execution(execution_id)["contactsInProgress"] == CONTACTS

    dialer = system.group.find("dialer").popen.pid
    workers = children_running(dialer, LINE_MODULE)
    assert len(workers) == workers_for(SIP_MAX_CALLS), workers
    port = system.kill("dialer")

    # The line workers end every call themselves: a BYE reaches the far end for each answered one,
    # and none of them is left running.
    try:
        byes = wait_until(lambda: len(got := logged(far_end, "bye")) >= CONTACTS and got,
                          message="a BYE for every held call")
        wait_until(lambda: not still_alive(workers), message=f"the killed dialer's line workers exiting: {workers}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{diagnosis(held_calls)}") from None
    assert sorted(byes) == sorted(phones), diagnosis(held_calls)
    # They ended their calls and shut pjsua down cleanly, writing to a carrier that is gone.
    worker_log = "\n".join(path.read_text(errors="replace")
                           for path in sorted((system.workdir / "logs").glob("dialer-*.log")))
    assert "Traceback" not in worker_log and "Fatal Python error" not in worker_log, diagnosis(held_calls)

    system.restart("dialer", port=port)
    done = tenant.wait_status(execution_id, "completed")
    assert [done["totalContacts"], *(done[c] for c in COUNTERS)] == [CONTACTS, 0, CONTACTS, 0, 0, 0], done

    # Every dial request was handled again by the new dialer (the killed one's were redelivered to
    # it, the execution's lease re-published some): still no second INVITE for any attempt.
    wait_until(lambda: dial_requests_handled(system), message="dial requests acknowledged")
    calls = tenant.calls(execution_id)
    assert sorted(c["phone"] for c in calls) == sorted(phones), calls
    for call in calls:
        assert (call["attempt"], call["outcome"], call["sipCode"], call["talkSeconds"]) == (1, "unknown", None, 0), call
        assert call["endedAt"] is not None, call

    # The call records: one per contact, finished and, once the unknown call's reservation has
    # waited DIALER_UNKNOWN_SETTLE_SECONDS for a real result, settled free.
    def settled() -> list[dict[str, Any]]:
        with db(system) as conn:
            records = call_records(conn, execution_id)
        return records if all(r["settled"] for r in records) else []

    records = wait_until(settled, message="every call record settled")
    assert len(records) == CONTACTS and len({r["contact_id"] for r in records}) == CONTACTS, records
    assert {(r["attempt"], r["state"], r["outcome"]) for r in records} == {(1, "finished", "unknown")}, records
    with db(system) as conn:
        held = conn.execute("SELECT count(*) FROM account.reservations WHERE organization_id = %s "
                            "AND state = 'held'", (tenant.org.id,)).fetchone()
    assert (held, spent(system, tenant.org.id)) == ((0,), 0), "an unknown call holds nothing and costs nothing"

    # SIPp's own count: it received exactly one INVITE per contact, and every call it answered
    # ended by our BYE (a call without one would have failed).
    result = far_end.finish()
    assert result.ok and result.created == result.successful == CONTACTS, \
        f"{result.created} created, {result.successful} successful, {result.failed} failed\n" \
        f"{result.errors[-1500:]}\n{diagnosis(held_calls)}"
    assert Counter(logged(far_end, "answer")) == Counter(phones)
    final = tenant.execution(execution_id)
    assert (final["status"], final["contactsFailed"]) == ("completed", CONTACTS), final
