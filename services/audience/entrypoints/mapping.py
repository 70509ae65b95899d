"""Proto ↔ domain for the audience context."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from google.protobuf import json_format, struct_pb2

from kernel.timefmt import iso
from outbound.audience.v1 import audience_pb2 as pb
from services.audience.adapters.rows import (
    AttributeRow,
    AttributeValueRef,
    AudienceRow,
    ContactRef,
    ContactRow,
    DncEntryRow,
    ImportJobRow,
)
from services.audience.contacts import ContactInput
from services.audience.dnc import AddOutcome, ImportChunk
from services.audience.domain.dnc import ImportTally
from services.audience.imports import ImportOptions, ImportRows


def struct_dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    return json_format.MessageToDict(struct)


def contact_input(item: pb.ContactInput) -> ContactInput:
    return ContactInput(item.phone, item.name if item.HasField("name") else None, struct_dict(item.attributes),
                        item.timezone if item.HasField("timezone") else None)


def attribute_to_proto(row: AttributeRow) -> pb.Attribute:
    return pb.Attribute(id=str(row.id), organization_id=str(row.organization_id), name=row.name, slug=row.slug,
                        type=row.type, created_at=iso(row.created_at))


def contact_to_proto(row: ContactRow) -> pb.Contact:
    message = pb.Contact(id=str(row.id), organization_id=str(row.organization_id), phone=row.phone,
                         country=row.country, created_at=iso(row.created_at), updated_at=iso(row.updated_at))
    if row.name is not None:
        message.name = row.name
    if row.timezone is not None:
        message.timezone = row.timezone
    message.attributes.update(row.attributes)
    return message


def audience_to_proto(row: AudienceRow) -> pb.Audience:
    return pb.Audience(id=str(row.id), organization_id=str(row.organization_id), name=row.name,
                       description=row.description, contact_count=row.contact_count,
                       created_at=iso(row.created_at), updated_at=iso(row.updated_at))


def _ref(row: ContactRef | AttributeValueRef) -> pb.ContactRef:
    return pb.ContactRef(contact_id=str(row.id), phone=row.phone, name=row.name or "", country=row.country,
                         timezone=row.timezone)


def member_batch(rows: list[ContactRef], columnar: bool) -> pb.ContactBatch:
    """A batch of an audience stream: one column per field (the launch's form), or one message per
    contact."""
    if columnar:
        return pb.ContactBatch(contact_ids=[r.id for r in rows], phones=[r.phone for r in rows],
                               names=[r.name or "" for r in rows], countries=[r.country for r in rows],
                               timezones=[r.timezone for r in rows])
    return pb.ContactBatch(contacts=[_ref(r) for r in rows])


def attribute_value_batch(rows: list[AttributeValueRef]) -> pb.AttributeValueBatch:
    return pb.AttributeValueBatch(values=[pb.AttributeValue(contact=_ref(r), value=r.value) for r in rows])


def dnc_entry_to_proto(row: DncEntryRow) -> pb.DncEntry:
    entry = pb.DncEntry(organization_id=str(row.organization_id), phone=row.phone, created_at=iso(row.created_at))
    if row.reason is not None:
        entry.reason = row.reason
    return entry


def add_dnc_response(outcome: AddOutcome) -> pb.AddDncResponse:
    return pb.AddDncResponse(added=outcome.added, already_listed=outcome.already_listed,
                             invalid=[pb.DncInvalidPhone(index=i, error=e) for i, e in outcome.invalid])


async def import_chunks(requests: AsyncIterator[pb.DncImportChunk]) -> AsyncIterator[ImportChunk]:
    """The chunks of an ImportDnc stream; their repeated fields are handed on as they are (no copy)."""
    async for chunk in requests:
        yield ImportChunk(chunk.organization_id, chunk.reason if chunk.HasField("reason") else None,
                          chunk.lines, chunk.line_numbers)


def import_dnc_response(tally: ImportTally) -> pb.ImportDncResponse:
    return pb.ImportDncResponse(added=tally.added, already_listed=tally.already_listed,
                                invalid=[pb.DncInvalidLine(line=line, error=e) for line, e in tally.invalid],
                                invalid_count=tally.invalid_count)


def import_options(first: pb.ContactImportChunk) -> ImportOptions:
    return ImportOptions(first.organization_id, first.audience_id, first.on_duplicate, first.atomic,
                         list(first.header))


async def import_rows(first: pb.ContactImportChunk,
                      rest: AsyncIterator[pb.ContactImportChunk]) -> AsyncIterator[ImportRows]:
    """The rows of an ImportContacts stream, the first chunk's included; repeated fields are handed
    on as they are (no copy)."""
    yield ImportRows(first.cells, first.cell_counts, first.line_numbers, first.last)
    async for chunk in rest:
        yield ImportRows(chunk.cells, chunk.cell_counts, chunk.line_numbers, chunk.last)


def import_to_proto(job: ImportJobRow) -> pb.ContactImport:
    return pb.ContactImport(
        id=str(job.id), organization_id=str(job.organization_id), status=job.status, rows_read=job.rows_read,
        created=job.created, updated=job.updated, skipped=job.skipped,
        errors=[pb.ContactImportError(line=e.line, field=e.field, message=e.message) for e in job.errors],
        error_count=job.error_count, atomic=job.atomic, on_duplicate=job.on_duplicate,
        audience_id=str(job.audience_id) if job.audience_id else "", created_at=iso(job.created_at),
        finished_at=iso(job.finished_at) if job.finished_at else "")
