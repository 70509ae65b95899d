"""Who may be called, and when, as the execution service applies it at claim time (real
PostgreSQL, NATS and Redis; the audience and account services are stand-ins answering the
do-not-call list and the contact limits): listed numbers are skipped and never called, also when
listed mid-campaign; the frequency cap defers a number another execution already called;
calling hours hold a closed zone until its opening and let an open one through; and the contacts
endpoint says what holds each contact."""

from __future__ import annotations

import uuid
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from google.protobuf import json_format

from kernel.errors import ValidationError
from kernel.timefmt import parse_iso
from outbound.execution.v1 import execution_pb2 as pb
from services.execution.domain.errors import ContactNotFoundError
from tests.integration.execution.conftest import ORG, make_program
from tests.integration.execution.test_execution_service import get, launch, wait_status
from tests.support.system import wait_until


def contacts(api, execution_id: str, org: str = ORG, state: str = "", limit: int = 100, cursor: str = ""):
    return api.ListExecutionContacts(pb.ListExecutionContactsRequest(
        organization_id=org, execution_id=execution_id, state=state, limit=limit, cursor=cursor))


def by_phone(api, execution_id: str, org: str = ORG) -> dict[str, pb.ExecutionContact]:
    return {c.phone: c for c in contacts(api, execution_id, org).contacts}


def phones_called(dialer, execution_id: str) -> list[str]:
    return [r.phone for r, _ in dialer.requests_for(execution_id)]


def test_listed_numbers_are_skipped_and_never_called(exec_system, api):
    phones = [f"+2126{uuid.uuid4().int % 10**8:08d}" for _ in range(4)]
    exec_system.world.dnc[ORG] = {phones[0], phones[1]}
    program = make_program(exec_system, phones=phones)
    execution_id = launch(api, program)
    done = wait_status(api, execution_id, "completed")
    assert (done.contacts_completed, done.contacts_skipped, done.contacts_failed) == (2, 2, 0)
    assert dict(done.contacts_skipped_by) == {"dnc": 2, "cancelled": 0, "stopped": 0}
    assert sorted(phones_called(exec_system.dialer, execution_id)) == sorted(phones[2:])
    skipped = contacts(api, execution_id, state="skipped").contacts
    assert sorted(c.phone for c in skipped) == sorted(phones[:2])
    assert all(c.skipped_reason == "dnc" and c.attempts == 0 and not c.blocked_by for c in skipped)


def test_no_call_while_the_list_cannot_be_checked(exec_system, api):
    dialer, world = exec_system.dialer, exec_system.world
    world.fail_dnc = True
    try:
        program = make_program(exec_system, n=2)
        execution_id = launch(api, program)
        checks = world.dnc_checks
        wait_until(lambda: world.dnc_checks >= checks + 3, message="claims tried (and refused) several times")
        held = get(api, execution_id)
        assert (held.contacts_pending, held.contacts_in_progress) == (2, 0)
        assert dialer.requests_for(execution_id) == []
    finally:
        world.fail_dnc = False
    done = wait_status(api, execution_id, "completed")
    assert done.contacts_completed == 2 and len(dialer.requests_for(execution_id)) == 2


def test_a_number_listed_mid_campaign_is_not_called_again(exec_system, api):
    dialer, world = exec_system.dialer, exec_system.world
    phone = f"+2126{uuid.uuid4().int % 10**8:08d}"
    dialer.outcomes[phone] = ["busy", "busy", "answered"]
    program = make_program(exec_system, phones=[phone],
                           retry={"type": "fixed_delay", "delayMinutes": 2, "maxRetries": 2})
    execution_id = launch(api, program)
    wait_until(lambda: len(phones_called(dialer, execution_id)) == 1, message="first attempt")
    # Its retry is due two campaign minutes after the busy result: it waits, for its retry delay.
    waiting = wait_until(lambda: (c := by_phone(api, execution_id)[phone]).state == "pending" and c)
    assert waiting.blocked_by == "retry_delay" and waiting.attempts == 1 and waiting.last_outcome == "busy"
    world.dnc.setdefault(ORG, set()).add(phone)
    assert by_phone(api, execution_id)[phone].blocked_by == "dnc"
    done = wait_status(api, execution_id, "completed")
    assert phones_called(dialer, execution_id) == [phone]
    assert (done.contacts_skipped, dict(done.contacts_skipped_by)["dnc"]) == (1, 1)
    assert by_phone(api, execution_id)[phone].skipped_reason == "dnc"


def test_calling_hours_hold_a_closed_zone_and_call_it_at_its_opening(exec_system, api):
    dialer = exec_system.dialer
    new_york, los_angeles = "+12125550100", "+12135550100"
    # A window opening 20 campaign minutes from now in New York (20 real seconds at this clock):
    # Los Angeles, three hours behind, opens three hours later.
    local = exec_system.clock.now().astimezone(ZoneInfo("America/New_York"))
    start = (local + timedelta(minutes=20)).replace(second=0, microsecond=0)
    end = start + timedelta(minutes=60)
    window = {"startAt": {"hour": start.hour, "minute": start.minute},
              "endAt": {"hour": end.hour, "minute": end.minute}}
    program = make_program(exec_system, phones=[new_york, los_angeles])
    json_format.ParseDict({"preset": "custom", "windows": {start.strftime("%A").lower(): [window]}},
                          program.calling_hours)
    execution_id = launch(api, program)

    def deferred():
        found = by_phone(api, execution_id)
        now = exec_system.clock.now()
        return all(c.next_attempt_at and parse_iso(c.next_attempt_at) > now for c in found.values()) and found

    held = wait_until(deferred, message="both contacts deferred to their openings")
    opening_ny = parse_iso(held[new_york].next_attempt_at)
    assert opening_ny == start.astimezone(opening_ny.tzinfo)
    assert parse_iso(held[los_angeles].next_attempt_at) == start.replace(
        tzinfo=ZoneInfo("America/Los_Angeles")).astimezone(opening_ny.tzinfo)
    assert {c.blocked_by for c in held.values()} == {"calling_hours"}
    assert phones_called(dialer, execution_id) == []

    # New York opens: its call goes out, no earlier, with a deadline no later than its closing.
    wait_until(lambda: phones_called(dialer, execution_id) == [new_york], timeout=120,
               message="the New York contact called at its opening")
    request, sent_at = dialer.requests_for(execution_id)[0]
    assert sent_at >= opening_ny
    assert parse_iso(request.not_after) <= end.astimezone(opening_ny.tzinfo)
    wait_until(lambda: by_phone(api, execution_id)[new_york].state == "completed")
    la = by_phone(api, execution_id)[los_angeles]
    assert (la.state, la.blocked_by, la.attempts) == ("pending", "calling_hours", 0)
    api.CancelExecution(pb.CancelExecutionRequest(organization_id=ORG, execution_id=execution_id))
    cancelled = get(api, execution_id)
    assert dict(cancelled.contacts_skipped_by) == {"cancelled": 1, "stopped": 0, "dnc": 0}
    assert by_phone(api, execution_id)[los_angeles].skipped_reason == "cancelled"


def test_the_contacts_endpoint_says_what_holds_each_contact(exec_system, api):
    dialer = exec_system.dialer
    program = make_program(exec_system, n=5, max_concurrent=2)
    execution_id = launch(api, program)
    dialer.hold.add(execution_id)
    wait_until(lambda: get(api, execution_id).contacts_in_progress == 2, message="two calls held")
    first = contacts(api, execution_id, limit=2)
    assert len(first.contacts) == 2 and first.next_cursor
    rest = contacts(api, execution_id, limit=10, cursor=first.next_cursor)
    everyone = [*first.contacts, *rest.contacts]
    assert len(everyone) == 5 and not rest.next_cursor
    assert len({c.contact_id for c in everyone}) == 5
    assert sorted((c.state, c.blocked_by) for c in everyone) == [
        ("in_progress", ""), ("in_progress", ""), ("pending", "concurrency_limit"),
        ("pending", "concurrency_limit"), ("pending", "concurrency_limit")]
    pending = contacts(api, execution_id, state="pending").contacts
    assert len(pending) == 3
    one = api.GetExecutionContact(pb.GetExecutionContactRequest(
        organization_id=ORG, execution_id=execution_id, contact_id=pending[0].contact_id))
    assert one == pending[0]
    api.PauseExecution(pb.PauseExecutionRequest(organization_id=ORG, execution_id=execution_id))
    assert {c.blocked_by for c in contacts(api, execution_id, state="pending").contacts} == {"execution_not_running"}
    with pytest.raises(ContactNotFoundError):
        api.GetExecutionContact(pb.GetExecutionContactRequest(
            organization_id=ORG, execution_id=execution_id, contact_id=str(uuid.uuid4())))
    with pytest.raises(ValidationError):
        contacts(api, execution_id, state="waiting")
    # Another organization sees no execution there.
    with pytest.raises(Exception) as other:
        contacts(api, execution_id, org=str(uuid.uuid4()))
    assert type(other.value).__name__ == "ExecutionNotFoundError"
    dialer.release(execution_id)
    api.CancelExecution(pb.CancelExecutionRequest(organization_id=ORG, execution_id=execution_id))


def test_the_frequency_cap_defers_a_number_another_execution_called(exec_system, api):
    dialer, world = exec_system.dialer, exec_system.world
    org = str(uuid.uuid4())
    world.contact_limits[org] = (1, 1)  # one attempt per number per day
    phone = f"+2126{uuid.uuid4().int % 10**8:08d}"

    def program_of_org():
        program = make_program(exec_system, phones=[phone])
        program.organization_id = org
        return program

    first = program_of_org()
    first_id = api.LaunchProgram(pb.LaunchProgramRequest(organization_id=org, program_id=first.id)).execution_id
    wait_until(lambda: api.GetExecution(pb.GetExecutionRequest(organization_id=org, execution_id=first_id)).status
               == "completed", message="first execution completed")
    (_, called_at), = dialer.requests_for(first_id)

    second = program_of_org()
    second_id = api.LaunchProgram(pb.LaunchProgramRequest(organization_id=org, program_id=second.id)).execution_id
    # Held by the cap as soon as it is read; once a claim has tried it, deferred to the cap's end.
    assert by_phone(api, second_id, org)[phone].blocked_by == "frequency_cap"
    held = wait_until(lambda: (c := by_phone(api, second_id, org)[phone]).blocked_by == "frequency_cap"
                      and parse_iso(c.next_attempt_at) > called_at + timedelta(hours=1) and c,
                      message="the second execution's contact deferred by the cap")
    assert held.state == "pending" and held.attempts == 0
    # Due when the first attempt leaves the day's window (counted at its claim, just before the request).
    due = parse_iso(held.next_attempt_at)
    assert called_at + timedelta(days=1) - timedelta(minutes=1) <= due <= called_at + timedelta(days=1)
    assert dialer.requests_for(second_id) == []
    api.CancelExecution(pb.CancelExecutionRequest(organization_id=org, execution_id=second_id))
