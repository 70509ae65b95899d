"""The audience service against real PostgreSQL and JetStream."""

from __future__ import annotations

import asyncio
import time
import uuid

import grpc
import nats
import pytest
from google.protobuf import json_format, struct_pb2

from kernel import errors
from outbound.audience.v1 import audience_pb2 as pb
from outbound.audience.v1 import events_pb2
from services.audience.domain.errors import AudienceNotFoundError, ContactNotFoundError
from tests.support.system import HANG_GUARD_SECONDS, wait_progressing, wait_until


def call(method, request):
    try:
        return method(request, timeout=60)
    except grpc.RpcError as exc:
        raise errors.from_rpc_error(exc) from None


def struct(values: dict) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update(values)
    return out


def attrs(contact: pb.Contact) -> dict:
    return json_format.MessageToDict(contact.attributes)


def org_with_attributes(stub) -> str:
    org = str(uuid.uuid4())
    for name, type_ in [("Due date", "date"), ("Amount", "number"), ("VIP", "boolean"), ("Notes", "text")]:
        call(stub.CreateAttribute, pb.CreateAttributeRequest(organization_id=org, name=name, type=type_))
    return org


def phone(i: int) -> str:
    return f"+2126{i:08d}"


async def _events(nats_url: str, contact_ids: set[str]) -> list[events_pb2.ContactChanged]:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        info = await js.stream_info("CONTACTS")
        sub = await js.subscribe("contact.>", ordered_consumer=True)
        out = []
        for _ in range(info.state.messages):
            msg = await sub.next_msg(timeout=HANG_GUARD_SECONDS)
            event = events_pb2.ContactChanged.FromString(msg.data)
            assert msg.headers and msg.headers.get("Nats-Msg-Id") == event.event_id
            if event.contact_id in contact_ids:
                out.append(event)
        await sub.unsubscribe()
        return out
    finally:
        await nc.close()


def events_for(system, *contact_ids: str) -> list[events_pb2.ContactChanged]:
    return asyncio.run(_events(system.nats_url, set(contact_ids)))


def test_attributes_derive_slugs_and_refuse_duplicates(audience):
    _, stub = audience
    org = str(uuid.uuid4())
    created = call(stub.CreateAttribute, pb.CreateAttributeRequest(organization_id=org, name="Date d'échéance",
                                                                   type="date"))
    assert created.slug == "date_d_echeance" and created.type == "date"
    with pytest.raises(errors.DomainError) as caught:
        call(stub.CreateAttribute, pb.CreateAttributeRequest(organization_id=org, name="Other",
                                                             slug="date_d_echeance", type="text"))
    assert caught.value.name == "ConflictError" and errors.http_status(caught.value) == 409
    with pytest.raises(errors.ValidationError):
        call(stub.CreateAttribute, pb.CreateAttributeRequest(organization_id=org, name="X", type="colour"))
    with pytest.raises(errors.ValidationError):
        call(stub.CreateAttribute, pb.CreateAttributeRequest(organization_id=org, name="X", slug="Bad Slug",
                                                             type="text"))
    # The same slug in another organization is fine.
    call(stub.CreateAttribute, pb.CreateAttributeRequest(organization_id=str(uuid.uuid4()), name="Date d'échéance",
                                                         type="date"))
    listed = call(stub.ListAttributes, pb.ListAttributesRequest(organization_id=org)).attributes
    assert [a.slug for a in listed] == ["date_d_echeance"]


def test_contact_lifecycle_and_events(audience):
    system, stub = audience
    org = org_with_attributes(stub)
    created = call(stub.CreateContact, pb.CreateContactRequest(organization_id=org, contact=pb.ContactInput(
        phone="+212 6 00 00 00 01", name="Ahmed", attributes=struct({"due_date": "2026-03-20", "amount": 12}))))
    assert created.phone == "+212600000001" and created.country == "MA" and created.name == "Ahmed"
    assert attrs(created) == {"due_date": "2026-03-20T00:00:00.000Z", "amount": 12}

    updated = call(stub.UpdateContact, pb.UpdateContactRequest(
        organization_id=org, contact_id=created.id,
        attributes=struct({"due_date": "2026-03-21T10:00:00+02:00", "amount": None, "vip": True})))
    assert attrs(updated) == {"due_date": "2026-03-21T08:00:00.000Z", "vip": True}
    assert updated.name == "Ahmed"
    cleared = call(stub.UpdateContact, pb.UpdateContactRequest(organization_id=org, contact_id=created.id,
                                                               clear_name=True))
    assert not cleared.HasField("name")

    call(stub.DeleteContact, pb.DeleteContactRequest(organization_id=org, contact_id=created.id))
    with pytest.raises(ContactNotFoundError):
        call(stub.GetContact, pb.GetContactRequest(organization_id=org, contact_id=created.id))

    seen = wait_until(lambda: (e := events_for(system, created.id)) and len(e) >= 4 and e,
                      message="four contact events")
    assert [e.kind for e in seen] == ["created", "updated", "updated", "deleted"]
    assert json_format.MessageToDict(seen[0].changed_attributes) == {
        "due_date": "2026-03-20T00:00:00.000Z", "amount": 12}
    assert json_format.MessageToDict(seen[1].changed_attributes) == {
        "due_date": "2026-03-21T08:00:00.000Z", "amount": None, "vip": True}
    assert json_format.MessageToDict(seen[2].changed_attributes) == {}
    assert json_format.MessageToDict(seen[3].changed_attributes) == {"due_date": None, "vip": None}
    assert all(e.organization_id == org and e.phone == "+212600000001" for e in seen)


@pytest.mark.parametrize("contact,message", [
    (pb.ContactInput(phone="0600000001"), "phone: invalid phone number"),
    (pb.ContactInput(phone="+21260"), "phone: invalid phone number"),
    (pb.ContactInput(phone="+212600000009", attributes=struct({"colour": "red"})),
     "attributes.colour: unknown custom attribute"),
    (pb.ContactInput(phone="+212600000009", attributes=struct({"amount": "12"})), "attributes.amount: expected"),
    (pb.ContactInput(phone="+212600000009", attributes=struct({"due_date": "tomorrow"})), "attributes.due_date:"),
    (pb.ContactInput(phone="+212600000009", attributes=struct({"vip": 1})), "attributes.vip: expected a boolean"),
])
def test_invalid_contacts_are_refused_and_not_written(audience, contact, message):
    _, stub = audience
    org = org_with_attributes(stub)
    with pytest.raises(errors.ValidationError) as caught:
        call(stub.CreateContact, pb.CreateContactRequest(organization_id=org, contact=contact))
    assert caught.value.message.startswith(message)
    assert not call(stub.ListContacts, pb.ListContactsRequest(organization_id=org)).contacts


def test_duplicate_phone_in_one_org_conflicts(audience):
    _, stub = audience
    org = org_with_attributes(stub)
    call(stub.CreateContact, pb.CreateContactRequest(organization_id=org, contact=pb.ContactInput(phone=phone(1))))
    with pytest.raises(errors.DomainError) as caught:
        call(stub.CreateContact, pb.CreateContactRequest(organization_id=org,
                                                         contact=pb.ContactInput(phone=phone(1))))
    assert caught.value.name == "ConflictError"
    other = call(stub.CreateContact, pb.CreateContactRequest(organization_id=org,
                                                             contact=pb.ContactInput(phone=phone(2))))
    with pytest.raises(errors.DomainError) as caught:
        call(stub.UpdateContact, pb.UpdateContactRequest(organization_id=org, contact_id=other.id, phone=phone(1)))
    assert caught.value.name == "ConflictError"
    # Another organization may hold the same number.
    call(stub.CreateContact, pb.CreateContactRequest(organization_id=str(uuid.uuid4()),
                                                     contact=pb.ContactInput(phone=phone(1))))


def test_other_organizations_ids_are_not_found(audience):
    _, stub = audience
    org, intruder = org_with_attributes(stub), str(uuid.uuid4())
    contact = call(stub.CreateContact, pb.CreateContactRequest(organization_id=org,
                                                               contact=pb.ContactInput(phone=phone(3))))
    group = call(stub.CreateAudience, pb.CreateAudienceRequest(organization_id=org, name="A"))
    for method, request, error in [
        (stub.GetContact, pb.GetContactRequest(organization_id=intruder, contact_id=contact.id),
         ContactNotFoundError),
        (stub.UpdateContact, pb.UpdateContactRequest(organization_id=intruder, contact_id=contact.id, name="x"),
         ContactNotFoundError),
        (stub.DeleteContact, pb.DeleteContactRequest(organization_id=intruder, contact_id=contact.id),
         ContactNotFoundError),
        (stub.GetAudience, pb.GetAudienceRequest(organization_id=intruder, audience_id=group.id),
         AudienceNotFoundError),
        (stub.AddAudienceMembers, pb.AudienceMembersRequest(organization_id=org, audience_id=group.id,
                                                            contact_ids=[str(uuid.uuid4())]),
         ContactNotFoundError),
        (stub.GetContact, pb.GetContactRequest(organization_id=org, contact_id="not-a-uuid"),
         ContactNotFoundError),
    ]:
        with pytest.raises(error):
            call(method, request)
    assert call(stub.GetContact, pb.GetContactRequest(organization_id=org, contact_id=contact.id)).name == ""
    assert call(stub.GetAudience, pb.GetAudienceRequest(organization_id=org, audience_id=group.id)).contact_count == 0


def test_members_counts_and_pagination(audience):
    _, stub = audience
    org = org_with_attributes(stub)
    ids = call(stub.BulkImportContacts, pb.BulkImportContactsRequest(
        organization_id=org, contacts=[pb.ContactInput(phone=phone(100 + i)) for i in range(25)])).contact_ids
    group = call(stub.CreateAudience, pb.CreateAudienceRequest(organization_id=org, name="Group"))
    added = call(stub.AddAudienceMembers, pb.AudienceMembersRequest(organization_id=org, audience_id=group.id,
                                                                    contact_ids=ids[:20]))
    assert (added.changed, added.contact_count) == (20, 20)
    again = call(stub.AddAudienceMembers, pb.AudienceMembersRequest(organization_id=org, audience_id=group.id,
                                                                    contact_ids=ids))
    assert (again.changed, again.contact_count) == (5, 25)
    removed = call(stub.RemoveAudienceMembers, pb.AudienceMembersRequest(organization_id=org, audience_id=group.id,
                                                                         contact_ids=ids[:3]))
    assert (removed.changed, removed.contact_count) == (3, 22)
    call(stub.DeleteContact, pb.DeleteContactRequest(organization_id=org, contact_id=ids[10]))
    assert call(stub.GetAudience, pb.GetAudienceRequest(organization_id=org, audience_id=group.id)).contact_count == 21

    seen, token = [], ""
    while True:
        page = call(stub.ListAudienceMembers, pb.ListAudienceMembersRequest(
            organization_id=org, audience_id=group.id, page_size=8, page_token=token))
        seen += [c.id for c in page.contacts]
        token = page.next_page_token
        if not token:
            break
    assert sorted(seen) == sorted(set(ids[3:]) - {ids[10]})

    listed, token = [], ""
    while True:
        page = call(stub.ListContacts, pb.ListContactsRequest(organization_id=org, page_size=10, page_token=token))
        listed += [c.id for c in page.contacts]
        token = page.next_page_token
        if not token:
            break
    assert len(listed) == 24 and len(set(listed)) == 24
    with pytest.raises(errors.ValidationError):
        call(stub.ListContacts, pb.ListContactsRequest(organization_id=org, page_token="garbage"))


def test_bulk_import_is_all_or_nothing(audience):
    _, stub = audience
    org = org_with_attributes(stub)
    contacts = [pb.ContactInput(phone=phone(i)) for i in range(20)]
    contacts[17] = pb.ContactInput(phone="+1")
    with pytest.raises(errors.ValidationError) as caught:
        call(stub.BulkImportContacts, pb.BulkImportContactsRequest(organization_id=org, contacts=contacts))
    assert caught.value.message.startswith("contacts[17].phone: invalid phone number")
    contacts[17] = pb.ContactInput(phone=phone(3))
    with pytest.raises(errors.ValidationError) as caught:
        call(stub.BulkImportContacts, pb.BulkImportContactsRequest(organization_id=org, contacts=contacts))
    assert caught.value.message == "contacts[17].phone: duplicate of contacts[3].phone"
    with pytest.raises(errors.ValidationError) as caught:
        call(stub.BulkImportContacts, pb.BulkImportContactsRequest(
            organization_id=org, contacts=[pb.ContactInput(phone=phone(i)) for i in range(10_001)]))
    assert caught.value.message.startswith("contacts: at most 10000")
    with pytest.raises(AudienceNotFoundError):
        call(stub.BulkImportContacts, pb.BulkImportContactsRequest(
            organization_id=org, contacts=[pb.ContactInput(phone=phone(1))], audience_id=str(uuid.uuid4())))
    assert not call(stub.ListContacts, pb.ListContactsRequest(organization_id=org)).contacts


def test_bulk_import_of_ten_thousand_streams_back(audience):
    system, stub = audience
    org = org_with_attributes(stub)
    group = call(stub.CreateAudience, pb.CreateAudienceRequest(organization_id=org, name="Big"))
    contacts = [pb.ContactInput(phone=phone(500_000 + i), name=f"C{i}",
                                attributes=struct({"due_date": f"2026-04-{1 + i % 28:02d}"} if i % 2 else {}))
                for i in range(10_000)]
    started = time.perf_counter()
    answer = call(stub.BulkImportContacts, pb.BulkImportContactsRequest(organization_id=org, contacts=contacts,
                                                                        audience_id=group.id))
    elapsed = time.perf_counter() - started
    assert answer.created == 10_000 and len(set(answer.contact_ids)) == 10_000
    print(f"bulk import of 10,000: {elapsed:.2f}s")
    got = call(stub.GetContact, pb.GetContactRequest(organization_id=org, contact_id=answer.contact_ids[7]))
    assert got.phone == phone(500_007) and got.name == "C7"
    assert call(stub.GetAudience, pb.GetAudienceRequest(organization_id=org, audience_id=group.id)).contact_count \
        == 10_000

    batches = list(stub.StreamAudienceContacts(pb.StreamAudienceContactsRequest(
        organization_id=org, audience_id=group.id, batch_size=3000), timeout=60))
    assert [len(b.contacts) for b in batches] == [3000, 3000, 3000, 1000]
    assert {c.contact_id for b in batches for c in b.contacts} == set(answer.contact_ids)

    values = [v for b in stub.StreamAttributeValues(pb.StreamAttributeValuesRequest(
        organization_id=org, attribute_slug="due_date"), timeout=60) for v in b.values]
    assert len(values) == 5000
    assert all(v.value.endswith("T00:00:00.000Z") for v in values)
    with pytest.raises(grpc.RpcError) as caught:
        list(stub.StreamAttributeValues(pb.StreamAttributeValuesRequest(organization_id=org, attribute_slug="nope"),
                                        timeout=60))
    assert errors.from_rpc_error(caught.value).name == "AttributeNotFoundError"
    with pytest.raises(grpc.RpcError) as caught:
        list(stub.StreamAudienceContacts(pb.StreamAudienceContactsRequest(
            organization_id=str(uuid.uuid4()), audience_id=group.id), timeout=60))
    assert errors.from_rpc_error(caught.value).name == "AudienceNotFoundError"

    # Publishing 10,000 events takes what the machine needs: fail only once no more come.
    published = wait_progressing(lambda: len(events_for(system, *answer.contact_ids)), lambda n: n == 10_000,
                                 lambda n: n, message="one contact.created per imported contact")
    assert published
