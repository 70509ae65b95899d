"""Do-not-call lists and contact time zones: the audience service against real PostgreSQL and JetStream."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import nats
import pytest

from kernel import errors
from outbound.audience.v1 import audience_pb2 as pb
from outbound.dialer.v1 import events_pb2 as dialer_events
from services.audience.domain.errors import DncEntryNotFoundError
from tests.integration.audience.test_audience_service import call, events_for
from tests.support.system import wait_until


def numbers(start: int, count: int) -> list[str]:
    return [f"+3361{i:07d}" for i in range(start, start + count)]


def import_file(stub, org: str, chunks: list[list[tuple[int, str]]], reason: str | None = None):
    """ImportDnc over a client stream: the first chunk names the organization, the others carry lines."""
    first = pb.DncImportChunk(organization_id=org)
    if reason is not None:
        first.reason = reason
    messages = [first, *(pb.DncImportChunk(lines=[t for _, t in c], line_numbers=[n for n, _ in c]) for c in chunks)]
    try:
        return stub.ImportDnc(iter(messages), timeout=120)
    except grpc.RpcError as exc:
        raise errors.from_rpc_error(exc) from None


def test_add_get_list_remove(audience):
    _, stub = audience
    org, other = str(uuid.uuid4()), str(uuid.uuid4())
    added = call(stub.AddDnc, pb.AddDncRequest(organization_id=org, reason="asked by mail", phones=[
        "+33 6 12 34 56 78", "nope", "+33612345678", "+212 600-000001", "+1 555 0100 123"]))
    assert (added.added, added.already_listed) == (2, 1)
    assert [(i.index, i.error[:27]) for i in added.invalid] == [(1, "phone: invalid phone number"),
                                                               (4, "phone: invalid phone number")]
    again = call(stub.AddDnc, pb.AddDncRequest(organization_id=org, phones=["+33612345678"]))
    assert (again.added, again.already_listed, list(again.invalid)) == (0, 1, [])

    entry = call(stub.GetDnc, pb.GetDncRequest(organization_id=org, phone="+33 6 12 34 56 78"))
    assert (entry.phone, entry.reason, entry.organization_id) == ("+33612345678", "asked by mail", org)
    assert entry.created_at.endswith("Z")
    with pytest.raises(DncEntryNotFoundError):  # another organization's entry is not found
        call(stub.GetDnc, pb.GetDncRequest(organization_id=other, phone="+33612345678"))
    with pytest.raises(errors.ValidationError):
        call(stub.GetDnc, pb.GetDncRequest(organization_id=org, phone="hello"))

    call(stub.AddDnc, pb.AddDncRequest(organization_id=org, phones=numbers(0, 5)))
    first = call(stub.ListDnc, pb.ListDncRequest(organization_id=org, limit=4))
    rest = call(stub.ListDnc, pb.ListDncRequest(organization_id=org, limit=4, cursor=first.next_cursor))
    listed = [e.phone for e in [*first.entries, *rest.entries]]
    assert listed == sorted(["+33612345678", "+212600000001", *numbers(0, 5)]) and not rest.next_cursor
    reasons = {e.phone: e.reason if e.HasField("reason") else None for e in [*first.entries, *rest.entries]}
    assert reasons["+212600000001"] == "asked by mail" and reasons[numbers(0, 1)[0]] is None
    with pytest.raises(errors.ValidationError):
        call(stub.ListDnc, pb.ListDncRequest(organization_id=org, cursor="garbage"))

    with pytest.raises(DncEntryNotFoundError):
        call(stub.RemoveDnc, pb.RemoveDncRequest(organization_id=other, phone="+33612345678"))
    call(stub.RemoveDnc, pb.RemoveDncRequest(organization_id=org, phone="+33612345678"))
    with pytest.raises(DncEntryNotFoundError):
        call(stub.RemoveDnc, pb.RemoveDncRequest(organization_id=org, phone="+33612345678"))
    with pytest.raises(DncEntryNotFoundError):
        call(stub.GetDnc, pb.GetDncRequest(organization_id=org, phone="+33612345678"))


def test_requests_out_of_bounds_are_refused(audience):
    _, stub = audience
    org = str(uuid.uuid4())
    for request, message in [
        (pb.AddDncRequest(organization_id=org), "phones: at least one number"),
        (pb.AddDncRequest(organization_id=org, phones=numbers(0, 10_001)), "phones: at most 10000 numbers"),
        (pb.AddDncRequest(organization_id=org, phones=numbers(0, 1), reason="x" * 201), "reason: at most 200"),
        (pb.AddDncRequest(organization_id="acme", phones=numbers(0, 1)), "organizationId: must be a UUID"),
    ]:
        with pytest.raises(errors.ValidationError, match=f"^{message}"):
            call(stub.AddDnc, request)
    with pytest.raises(errors.ValidationError, match="^phones: at most 10000"):
        call(stub.CheckDnc, pb.CheckDncRequest(organization_id=org, phones=numbers(0, 10_001)))
    assert not call(stub.ListDnc, pb.ListDncRequest(organization_id=org)).entries


def test_check_answers_the_listed_numbers_in_request_order(audience):
    _, stub = audience
    org, other = str(uuid.uuid4()), str(uuid.uuid4())
    asked = numbers(100, 1000)
    listed = asked[::7]
    for start in range(0, len(listed), 50):
        call(stub.AddDnc, pb.AddDncRequest(organization_id=org, phones=listed[start:start + 50]))
    call(stub.AddDnc, pb.AddDncRequest(organization_id=other, phones=asked[1::7]))
    answer = call(stub.CheckDnc, pb.CheckDncRequest(organization_id=org, phones=list(reversed(asked))))
    assert list(answer.listed) == list(reversed(listed))
    assert not call(stub.CheckDnc, pb.CheckDncRequest(organization_id=org)).listed
    # Numbers are compared as stored (E.164): another spelling is not the same number.
    assert not call(stub.CheckDnc, pb.CheckDncRequest(organization_id=org, phones=["+33 61 0000100"])).listed


def test_import_counts_every_line_once(audience):
    _, stub = audience
    org, other = str(uuid.uuid4()), str(uuid.uuid4())
    call(stub.AddDnc, pb.AddDncRequest(organization_id=org, phones=numbers(0, 10)))  # listed before
    call(stub.AddDnc, pb.AddDncRequest(organization_id=other, phones=numbers(10, 10)))  # another organization's
    lines = [(n + 2, text) for n, text in enumerate(numbers(0, 30))]  # line 1 was a header
    lines += [(40, "bad"), (41, ""), (42, " +33 61 000 0005 "), (43, "+33612"), (44, numbers(29, 1)[0])]
    answer = import_file(stub, org, [lines[:13], lines[13:20], [], lines[20:]], reason="import 2024")
    # 30 distinct numbers, 10 listed before; "+33 61 000 0005" and line 44 repeat earlier lines.
    assert (answer.added, answer.already_listed, answer.invalid_count) == (20, 12, 3)
    assert [(i.line, i.error) for i in answer.invalid] == [
        (40, "phone: invalid phone number (international format starting with + expected)"),
        (41, "phone: empty"), (43, "phone: invalid phone number (+ then 8 to 15 digits expected)")]
    assert call(stub.GetDnc, pb.GetDncRequest(organization_id=org, phone=numbers(15, 1)[0])).reason == "import 2024"
    assert not call(stub.GetDnc, pb.GetDncRequest(organization_id=org, phone=numbers(5, 1)[0])).HasField("reason")
    assert len(call(stub.CheckDnc, pb.CheckDncRequest(organization_id=other, phones=numbers(0, 30))).listed) == 10
    # Importing the same file again lists nothing new.
    again = import_file(stub, org, [lines])
    assert (again.added, again.already_listed, again.invalid_count) == (0, 32, 3)


def test_import_reports_the_first_thousand_invalid_lines_and_counts_all(audience):
    _, stub = audience
    org = str(uuid.uuid4())
    bad = [(n, f"x{n}") for n in range(1, 2501)]
    answer = import_file(stub, org, [bad[:1200], bad[1200:], [(2501, numbers(0, 1)[0])]])
    assert (answer.added, answer.already_listed, answer.invalid_count) == (1, 0, 2500)
    assert [i.line for i in answer.invalid] == list(range(1, 1001))


def test_import_errors_are_answered_like_any_other(audience):
    _, stub = audience
    with pytest.raises(errors.ValidationError, match="^organizationId: must be a UUID"):
        import_file(stub, "acme", [[(1, numbers(0, 1)[0])]])
    with pytest.raises(errors.ValidationError, match="^reason: at most 200"):
        import_file(stub, str(uuid.uuid4()), [[(1, numbers(0, 1)[0])]], reason="x" * 300)
    org = str(uuid.uuid4())
    with pytest.raises(errors.ValidationError, match="^lineNumbers:"):
        import_file_raw(stub, org)
    empty = import_file(stub, org, [])
    assert (empty.added, empty.already_listed, empty.invalid_count) == (0, 0, 0)


def import_file_raw(stub, org: str):
    try:
        return stub.ImportDnc(iter([pb.DncImportChunk(organization_id=org, lines=numbers(0, 2), line_numbers=[1])]),
                              timeout=60)
    except grpc.RpcError as exc:
        raise errors.from_rpc_error(exc) from None


def test_contact_time_zones(audience):
    system, stub = audience
    org = str(uuid.uuid4())
    created = call(stub.CreateContact, pb.CreateContactRequest(organization_id=org, contact=pb.ContactInput(
        phone="+16502530000", timezone="America/Chicago")))
    assert created.timezone == "America/Chicago"
    plain = call(stub.CreateContact, pb.CreateContactRequest(organization_id=org, contact=pb.ContactInput(
        phone="+33612345678", timezone="")))
    assert not plain.HasField("timezone")
    with pytest.raises(errors.ValidationError, match=r"^timezone: unknown time zone"):
        call(stub.CreateContact, pb.CreateContactRequest(organization_id=org, contact=pb.ContactInput(
            phone="+33612345679", timezone="Europe/Atlantis")))
    with pytest.raises(errors.ValidationError, match=r"^contacts\[1\]\.timezone: unknown time zone"):
        call(stub.BulkImportContacts, pb.BulkImportContactsRequest(organization_id=org, contacts=[
            pb.ContactInput(phone="+33612345680"), pb.ContactInput(phone="+33612345681", timezone="GMT+25")]))

    moved = call(stub.UpdateContact, pb.UpdateContactRequest(organization_id=org, contact_id=created.id,
                                                             timezone="America/New_York"))
    assert moved.timezone == "America/New_York"
    with pytest.raises(errors.ValidationError, match=r"^timezone:"):
        call(stub.UpdateContact, pb.UpdateContactRequest(organization_id=org, contact_id=created.id,
                                                         timezone="New York"))
    renamed = call(stub.UpdateContact, pb.UpdateContactRequest(organization_id=org, contact_id=created.id, name="Al"))
    assert renamed.timezone == "America/New_York"
    cleared = call(stub.UpdateContact, pb.UpdateContactRequest(organization_id=org, contact_id=created.id,
                                                               clear_timezone=True))
    assert not cleared.HasField("timezone")
    assert not call(stub.GetContact, pb.GetContactRequest(organization_id=org, contact_id=created.id)).HasField(
        "timezone")

    group = call(stub.CreateAudience, pb.CreateAudienceRequest(organization_id=org, name="Zones"))
    bulk = call(stub.BulkImportContacts, pb.BulkImportContactsRequest(organization_id=org, audience_id=group.id, contacts=[
        pb.ContactInput(phone="+33612345690", timezone="Europe/Paris"), pb.ContactInput(phone="+212600000090")]))
    zones = {i: "Europe/Paris" if n == 0 else "" for n, i in enumerate(bulk.contact_ids)}
    columns = list(stub.StreamAudienceContacts(pb.StreamAudienceContactsRequest(
        organization_id=org, audience_id=group.id, columnar=True), timeout=60))
    assert {i: z for b in columns for i, z in zip(b.contact_ids, b.timezones, strict=True)} == zones
    rows = list(stub.StreamAudienceContacts(pb.StreamAudienceContactsRequest(
        organization_id=org, audience_id=group.id), timeout=60))
    assert {c.contact_id: c.timezone for b in rows for c in b.contacts} == zones
    members = call(stub.ListAudienceMembers, pb.ListAudienceMembersRequest(organization_id=org, audience_id=group.id))
    assert {c.id: c.timezone for c in members.contacts} == zones

    seen = wait_until(lambda: (e := events_for(system, created.id, bulk.contact_ids[0])) and len(e) >= 5 and e,
                      message="the contacts' events")
    assert [e.timezone for e in seen] == ["America/Chicago", "America/New_York", "America/New_York", "",
                                          "Europe/Paris"]


async def _publish(nats_url: str, results: list[tuple[str, bytes]]) -> None:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        for msg_id, payload in results:
            await js.publish("call.completed", payload, headers={"Nats-Msg-Id": msg_id})
    finally:
        await nc.close()


def call_result(org: str, phone: str, opted_out: bool) -> dialer_events.CallResult:
    attempt = f"{uuid.uuid4()}:{uuid.uuid4()}:1"
    return dialer_events.CallResult(attempt_id=attempt, execution_id=attempt.split(":")[0], organization_id=org,
                                    contact_id=attempt.split(":")[1], attempt=1, outcome="answered", phone=phone,
                                    opted_out=opted_out, node_ids=["welcome", "stop"])


def test_a_call_that_opted_out_lists_the_number_once(audience):
    system, stub = audience
    org = str(uuid.uuid4())
    opted, kept, later = numbers(500, 3)
    first = call_result(org, opted, True)
    asyncio.run(_publish(system.nats_url, [
        ("poison", b"\xff not a call result"),
        (f"call.completed:{first.attempt_id}", first.SerializeToString()),
        ("kept", call_result(org, kept, False).SerializeToString()),
    ]))
    entry = wait_until(lambda: call(stub.CheckDnc, pb.CheckDncRequest(organization_id=org, phones=[opted])).listed
                       and call(stub.GetDnc, pb.GetDncRequest(organization_id=org, phone=opted)),
                       message="the opted-out number listed")
    assert entry.reason == "opt-out"

    # The same result delivered again, and a second opt-out of the number, change nothing; a later
    # result shows both were handled (the consumer takes them in order).
    asyncio.run(_publish(system.nats_url, [
        ("redelivered", first.SerializeToString()),
        ("again", call_result(org, opted, True).SerializeToString()),
        ("later", call_result(org, later, True).SerializeToString()),
    ]))
    wait_until(lambda: call(stub.CheckDnc, pb.CheckDncRequest(organization_id=org, phones=[later])).listed,
               message="the later opt-out listed")
    assert call(stub.GetDnc, pb.GetDncRequest(organization_id=org, phone=opted)) == entry
    assert [e.phone for e in call(stub.ListDnc, pb.ListDncRequest(organization_id=org)).entries] == [opted, later]
