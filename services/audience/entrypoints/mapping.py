"""Proto ↔ domain for the audience context."""

from __future__ import annotations

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
)
from services.audience.contacts import ContactInput


def struct_dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    return json_format.MessageToDict(struct)


def contact_input(item: pb.ContactInput) -> ContactInput:
    return item.phone, (item.name if item.HasField("name") else None), struct_dict(item.attributes)


def attribute_to_proto(row: AttributeRow) -> pb.Attribute:
    return pb.Attribute(id=str(row.id), organization_id=str(row.organization_id), name=row.name, slug=row.slug,
                        type=row.type, created_at=iso(row.created_at))


def contact_to_proto(row: ContactRow) -> pb.Contact:
    message = pb.Contact(id=str(row.id), organization_id=str(row.organization_id), phone=row.phone,
                         country=row.country, created_at=iso(row.created_at), updated_at=iso(row.updated_at))
    if row.name is not None:
        message.name = row.name
    message.attributes.update(row.attributes)
    return message


def audience_to_proto(row: AudienceRow) -> pb.Audience:
    return pb.Audience(id=str(row.id), organization_id=str(row.organization_id), name=row.name,
                       description=row.description, contact_count=row.contact_count,
                       created_at=iso(row.created_at), updated_at=iso(row.updated_at))


def _ref(row: ContactRef | AttributeValueRef) -> pb.ContactRef:
    return pb.ContactRef(contact_id=str(row.id), phone=row.phone, name=row.name or "", country=row.country)


def member_batch(rows: list[ContactRef], columnar: bool) -> pb.ContactBatch:
    """A batch of an audience stream: one column per field (the launch's form), or one message per
    contact."""
    if columnar:
        return pb.ContactBatch(contact_ids=[r.id for r in rows], phones=[r.phone for r in rows],
                               names=[r.name or "" for r in rows], countries=[r.country for r in rows])
    return pb.ContactBatch(contacts=[_ref(r) for r in rows])


def attribute_value_batch(rows: list[AttributeValueRef]) -> pb.AttributeValueBatch:
    return pb.AttributeValueBatch(values=[pb.AttributeValue(contact=_ref(r), value=r.value) for r in rows])
