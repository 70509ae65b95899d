"""Messages delivered again, long after their work was done: a dial request whose call
completed, and call results of attempts that are over. A system of its own, so that no
other test's redeliveries are in flight."""

from __future__ import annotations

import asyncio
import time

import pytest

from kernel import jetstream
from outbound.dialer.v1.events_pb2 import CallResult
from outbound.execution.v1.events_pb2 import DialRequested
from tests.faults.campaigns import (
    Mix,
    batch_campaign,
    call_records,
    check_campaign,
    db,
    execution_row,
    fault_system,
    wait_status,
)
from tests.support.campaigns import Tenant
from tests.support.system import HANG_GUARD_SECONDS, System

# The per-test timeout only stops a hang: above the longest wait's guard, not sized for speed.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(2 * HANG_GUARD_SECONDS)]


@pytest.fixture(scope="module")
def system(system_factory) -> System:
    return fault_system(system_factory)


def snapshot(system: System, execution_id: str) -> tuple:
    with db(system) as conn:
        execution = conn.execute("SELECT * FROM execution.executions WHERE id = %s", (execution_id,)).fetchone()
        contacts = conn.execute("""
            SELECT contact_ref, state, attempt, next_attempt_at, last_outcome, updated_at
            FROM execution.execution_contacts WHERE execution_id = %s ORDER BY contact_ref""",
            (execution_id,)).fetchall()
        records = conn.execute("""
            SELECT attempt_id, state, outcome, started_at, ended_at, talk_seconds, settled, updated_at
            FROM dialer.call_records WHERE execution_id = %s ORDER BY attempt_id""", (execution_id,)).fetchall()
        balance = conn.execute("""
            SELECT balance, reserved FROM account.organizations
            WHERE id = (SELECT organization_id::uuid FROM execution.executions WHERE id = %s)""",
            (execution_id,)).fetchone()
    return execution, contacts, records, balance


async def _publish_and_wait(system: System, items: list[tuple[str, bytes, str]]) -> dict[str, int]:
    """Publish onto JetStream as a service would, then wait until the dialer and the execution
    service have acknowledged everything up to what was published; answers stream growth."""
    nc = await jetstream.connect(system.nats_url, "fault-test")
    try:
        js = nc.jetstream()
        before = {name: (await js.stream_info(name)).state.last_seq for name in ("DIAL", "CALLS")}
        for subject, payload, msg_id in items:
            await jetstream.publish(js, subject, payload, msg_id)
        after_dial = (await js.stream_info("DIAL")).state.last_seq
        await _acked(js, "DIAL", "dialer", after_dial)
        after_calls = (await js.stream_info("CALLS")).state.last_seq
        await _acked(js, "CALLS", "execution-call-results", after_calls)
        return {"DIAL": after_dial - before["DIAL"], "CALLS": after_calls - before["CALLS"]}
    finally:
        await nc.close()


async def _acked(js, stream: str, durable: str, seq: int, timeout: float = HANG_GUARD_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = await js.consumer_info(stream, durable)
        if info.ack_floor.stream_seq >= seq and info.num_ack_pending == 0:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{durable} did not acknowledge {stream} up to {seq}: {info}")


def test_dial_request_redelivered_after_its_call_completed(system: System):
    """The same DialRequested again, under fresh message ids so JetStream cannot drop it (as a
    redelivery after a crash or a lease re-publish would be): no second call, no charge, no
    counter moves; the dialer answers with the stored result, which the execution ignores."""
    campaign = batch_campaign(Tenant(system), Mix(answer=3, retry=2, never=1))
    wait_status(campaign, "completed")
    check_campaign(campaign, status="completed", exact=True)
    before = snapshot(system, campaign.execution_id)
    with db(system) as conn:
        records = call_records(conn, campaign.execution_id)
        execution = execution_row(system, campaign.execution_id)
        phones = dict(conn.execute("SELECT contact_id, phone FROM execution.execution_contacts "
                                   "WHERE execution_id = %s", (campaign.execution_id,)).fetchall())
    items = []
    for record in records:
        request = DialRequested(
            attempt_id=record["attempt_id"], execution_id=campaign.execution_id,
            organization_id=execution["organization_id"], program_id=execution["program_id"],
            contact_id=record["contact_id"], phone=phones[record["contact_id"]], country="MA",
            attempt=record["attempt"], flow_id=execution["flow_id"], did_pool=list(execution["did_pool"]))
        for n in range(2):
            items.append(("dial.requested", request.SerializeToString(), f"{record['attempt_id']}:again:{n}"))
    grown = asyncio.run(_publish_and_wait(system, items))
    assert grown["DIAL"] == len(items)
    assert grown["CALLS"] == len(items), "every repeated request is answered with the stored result"
    assert snapshot(system, campaign.execution_id) == before, "no call placed, charged or counted again"


def test_stale_and_repeated_call_results_change_nothing(system: System):
    """Results of attempts that are over (an old attempt of a retried contact, a second copy
    of the last one, another outcome for it) are fenced off by the attempt number."""
    campaign = batch_campaign(Tenant(system), Mix(answer=2, retry=2, never=1))
    wait_status(campaign, "completed")
    before = snapshot(system, campaign.execution_id)
    with db(system) as conn:
        records = call_records(conn, campaign.execution_id)
    execution = execution_row(system, campaign.execution_id)
    items = []
    for record in records:
        for n, outcome in enumerate(("answered", "busy", record["outcome"])):
            result = CallResult(attempt_id=record["attempt_id"], execution_id=campaign.execution_id,
                                organization_id=execution["organization_id"], contact_id=record["contact_id"],
                                attempt=record["attempt"], outcome=outcome, talk_seconds=60)
            items.append(("call.completed", result.SerializeToString(), f"stale:{record['attempt_id']}:{n}"))
    grown = asyncio.run(_publish_and_wait(system, items))
    assert grown["CALLS"] == len(items)
    assert snapshot(system, campaign.execution_id) == before
    check_campaign(campaign, status="completed", exact=True)
