"""Streaming an audience's members: ordered by contact id, full batches, the same in both forms."""

from __future__ import annotations

import uuid

from outbound.audience.v1 import audience_pb2 as pb
from tests.integration.audience.test_audience_service import call


def stream(stub, org: str, audience_id: str, batch: int, columnar: bool) -> list[pb.ContactBatch]:
    return list(stub.StreamAudienceContacts(pb.StreamAudienceContactsRequest(
        organization_id=org, audience_id=audience_id, batch_size=batch, columnar=columnar), timeout=60))


def test_columnar_and_row_streams_agree_in_contact_id_order(audience):
    _, stub = audience
    org = str(uuid.uuid4())
    group = call(stub.CreateAudience, pb.CreateAudienceRequest(organization_id=org, name="Members"))
    base = uuid.uuid4().int % 10**7
    imported = call(stub.BulkImportContacts, pb.BulkImportContactsRequest(
        organization_id=org, audience_id=group.id,
        contacts=[pb.ContactInput(phone=f"+2126{base + i:08d}", name=f"N{i}" if i % 3 else "") for i in range(2345)]))
    # One member removed: the stream still answers every remaining member once.
    gone = imported.contact_ids[17]
    call(stub.RemoveAudienceMembers, pb.AudienceMembersRequest(
        organization_id=org, audience_id=group.id, contact_ids=[gone]))
    expected = sorted((set(imported.contact_ids) - {gone}), key=uuid.UUID)

    rows = stream(stub, org, group.id, 500, columnar=False)
    columns = stream(stub, org, group.id, 500, columnar=True)
    assert [len(b.contacts) for b in rows] == [500, 500, 500, 500, 344]
    assert [len(b.contact_ids) for b in columns] == [500, 500, 500, 500, 344]
    assert all(not b.contacts for b in columns)
    assert [c.contact_id for b in rows for c in b.contacts] == expected
    assert [i for b in columns for i in b.contact_ids] == expected
    flat = [(i, p, n, c) for b in columns for i, p, n, c in zip(b.contact_ids, b.phones, b.names, b.countries,
                                                                  strict=True)]
    assert flat == [(c.contact_id, c.phone, c.name, c.country) for b in rows for c in b.contacts]
    assert {n for _, _, n, _ in flat} >= {"", "N1"} and {c for *_, c in flat} == {"MA"}
