"""Contact imports: the audience service's ImportContacts stream against real PostgreSQL."""

from __future__ import annotations

import uuid

import grpc
import psycopg
import pytest

from kernel import errors
from kernel.db import libpq_url
from outbound.audience.v1 import audience_pb2 as pb
from outbound.audience.v1 import audience_pb2_grpc
from services.audience.imports import ABANDONED, CUT_SHORT
from tests.integration.audience.test_audience_service import call
from tests.support.system import wait_until


@pytest.fixture(scope="module")
def audience(system_factory):
    # The abandoned-import sweep every second, not every minute: its test waits for a pass.
    system = system_factory(services=["audience"], gateway=False, extra_env={"IMPORT_SWEEP_SECONDS": "1"})
    channel = system.channel("audience")
    yield system, audience_pb2_grpc.AudienceServiceStub(channel)
    channel.close()


def rows_chunk(rows: list[tuple[int, list[str]]], last: bool = False) -> pb.ContactImportChunk:
    return pb.ContactImportChunk(cells=[c for _, cells in rows for c in cells],
                                 cell_counts=[len(cells) for _, cells in rows],
                                 line_numbers=[line for line, _ in rows], last=last)


def import_contacts(stub, messages: list[pb.ContactImportChunk]) -> pb.ContactImport:
    try:
        return stub.ImportContacts(iter(messages), timeout=120)
    except grpc.RpcError as exc:
        raise errors.from_rpc_error(exc) from None


def jobs(system, org: str) -> list[tuple[str, list]]:
    with psycopg.connect(libpq_url(system.database_url)) as conn:
        return conn.execute("SELECT status, errors FROM audience.contact_imports WHERE organization_id = %s",
                            (org,)).fetchall()


def test_an_import_over_grpc_and_its_job(audience):
    _, stub = audience
    org = str(uuid.uuid4())
    first = pb.ContactImportChunk(organization_id=org, header=["phone", "name"])
    job = import_contacts(stub, [first, rows_chunk([(2, ["+33612345678", "Ada"]), (3, ["bad"])]),
                                 rows_chunk([(4, ["+33612345679"])], last=True)])
    assert (job.status, job.rows_read, job.on_duplicate, job.atomic) == ("running", 3, "skip", False)

    def done():
        found = call(stub.GetContactImport, pb.GetContactImportRequest(organization_id=org, import_id=job.id))
        return found if found.status != "running" else None
    found = wait_until(done, message="the import to finish")
    assert (found.status, found.created, found.error_count) == ("completed", 2, 1)
    assert [(e.line, e.field) for e in found.errors] == [(3, "phone")]
    listed = call(stub.ListContacts, pb.ListContactsRequest(organization_id=org, page_size=10))
    assert sorted(c.phone for c in listed.contacts) == ["+33612345678", "+33612345679"]


def test_a_stream_without_its_end_writes_nothing(audience):
    system, stub = audience
    org = str(uuid.uuid4())
    first = pb.ContactImportChunk(organization_id=org, header=["phone"])
    with pytest.raises(errors.ValidationError) as caught:
        import_contacts(stub, [first, rows_chunk([(2, ["+33612345678"])])])
    assert caught.value.message == CUT_SHORT
    assert list(call(stub.ListContacts, pb.ListContactsRequest(organization_id=org)).contacts) == []
    assert [(status, [e["message"] for e in found]) for status, found in jobs(system, org)] == [
        ("failed", [CUT_SHORT])]


def test_a_running_job_no_transaction_holds_is_marked_failed(audience):
    system, _ = audience
    org = str(uuid.uuid4())
    abandoned, held = uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(libpq_url(system.database_url), autocommit=True) as conn:
        for job_id in (abandoned, held):
            conn.execute("INSERT INTO audience.contact_imports (id, organization_id, status, on_duplicate, atomic, "
                         "created_at) VALUES (%s, %s, 'running', 'skip', false, '2001-01-01T00:00:00Z')",
                         (job_id, org))
    # A live import holds its job's row for its whole transaction: this one stands for it.
    with psycopg.connect(libpq_url(system.database_url)) as holder:
        holder.execute("SELECT 1 FROM audience.contact_imports WHERE id = %s FOR UPDATE", (held,))

        def swept():
            return dict((str(i), s) for i, s in _statuses(system, org)).get(str(abandoned)) == "failed"
        wait_until(swept, message="the sweep of abandoned imports")
        statuses = {str(i): s for i, s in _statuses(system, org)}
        assert statuses[str(held)] == "running"
        holder.rollback()
    assert [e["message"] for status, found in jobs(system, org) if status == "failed" for e in found] == [ABANDONED]


def _statuses(system, org: str) -> list[tuple[uuid.UUID, str]]:
    with psycopg.connect(libpq_url(system.database_url)) as conn:
        return conn.execute("SELECT id, status FROM audience.contact_imports WHERE organization_id = %s",
                            (org,)).fetchall()
