"""AudienceService servicer: proto in, use case, proto out."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format, struct_pb2

from kernel.timefmt import iso
from outbound.audience.v1 import audience_pb2 as pb
from outbound.audience.v1 import audience_pb2_grpc
from services.audience.adapters.repository import AttributeRow, AudienceRow, ContactRow
from services.audience.service import AudienceService


def _struct_dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    return json_format.MessageToDict(struct)


def attribute_pb(row: AttributeRow) -> pb.Attribute:
    return pb.Attribute(id=str(row.id), organization_id=str(row.organization_id), name=row.name, slug=row.slug,
                        type=row.type, created_at=iso(row.created_at))


def contact_pb(row: ContactRow) -> pb.Contact:
    message = pb.Contact(id=str(row.id), organization_id=str(row.organization_id), phone=row.phone,
                         country=row.country, created_at=iso(row.created_at), updated_at=iso(row.updated_at))
    if row.name is not None:
        message.name = row.name
    message.attributes.update(row.attributes)
    return message


def audience_pb(row: AudienceRow) -> pb.Audience:
    return pb.Audience(id=str(row.id), organization_id=str(row.organization_id), name=row.name,
                       description=row.description, contact_count=row.contact_count,
                       created_at=iso(row.created_at), updated_at=iso(row.updated_at))


def _ref(row: Any) -> pb.ContactRef:
    return pb.ContactRef(contact_id=str(row.id), phone=row.phone, name=row.name or "", country=row.country)


def _input(item: pb.ContactInput) -> tuple[str, str | None, dict[str, Any]]:
    return item.phone, (item.name if item.HasField("name") else None), _struct_dict(item.attributes)


class AudienceServicer(audience_pb2_grpc.AudienceServiceServicer):
    def __init__(self, service: AudienceService):
        self.service = service

    async def CreateAttribute(self, request, context):
        return attribute_pb(await self.service.create_attribute(
            request.organization_id, request.name, request.slug, request.type))

    async def ListAttributes(self, request, context):
        rows, token = await self.service.list_attributes(request.organization_id, request.page_size,
                                                         request.page_token)
        return pb.ListAttributesResponse(attributes=[attribute_pb(r) for r in rows], next_page_token=token)

    async def CreateContact(self, request, context):
        phone, name, attributes = _input(request.contact)
        return contact_pb(await self.service.create_contact(request.organization_id, phone, name, attributes))

    async def GetContact(self, request, context):
        return contact_pb(await self.service.get_contact(request.organization_id, request.contact_id))

    async def ListContacts(self, request, context):
        rows, token = await self.service.list_contacts(request.organization_id, request.page_size,
                                                       request.page_token)
        return pb.ListContactsResponse(contacts=[contact_pb(r) for r in rows], next_page_token=token)

    async def UpdateContact(self, request, context):
        return contact_pb(await self.service.update_contact(
            request.organization_id, request.contact_id,
            phone=request.phone if request.HasField("phone") else None,
            name=request.name if request.HasField("name") else None,
            clear_name=request.clear_name,
            attributes=_struct_dict(request.attributes) if request.HasField("attributes") else None,
        ))

    async def DeleteContact(self, request, context):
        await self.service.delete_contact(request.organization_id, request.contact_id)
        return pb.DeleteContactResponse()

    async def BulkImportContacts(self, request, context):
        ids = await self.service.bulk_import(request.organization_id, [_input(c) for c in request.contacts],
                                             request.audience_id)
        return pb.BulkImportContactsResponse(contact_ids=[str(i) for i in ids], created=len(ids))

    async def CreateAudience(self, request, context):
        return audience_pb(await self.service.create_audience(request.organization_id, request.name,
                                                              request.description))

    async def GetAudience(self, request, context):
        return audience_pb(await self.service.get_audience(request.organization_id, request.audience_id))

    async def ListAudiences(self, request, context):
        rows, token = await self.service.list_audiences(request.organization_id, request.page_size,
                                                        request.page_token)
        return pb.ListAudiencesResponse(audiences=[audience_pb(r) for r in rows], next_page_token=token)

    async def AddAudienceMembers(self, request, context):
        changed, count = await self.service.add_members(request.organization_id, request.audience_id,
                                                        list(request.contact_ids))
        return pb.AudienceMembersResponse(changed=changed, contact_count=count)

    async def RemoveAudienceMembers(self, request, context):
        changed, count = await self.service.remove_members(request.organization_id, request.audience_id,
                                                           list(request.contact_ids))
        return pb.AudienceMembersResponse(changed=changed, contact_count=count)

    async def ListAudienceMembers(self, request, context):
        rows, token = await self.service.list_members(request.organization_id, request.audience_id,
                                                      request.page_size, request.page_token)
        return pb.ListContactsResponse(contacts=[contact_pb(r) for r in rows], next_page_token=token)

    async def StreamAudienceContacts(self, request, context):
        async for rows in self.service.stream_audience(request.organization_id, request.audience_id,
                                                       request.batch_size):
            if request.columnar:
                yield pb.ContactBatch(contact_ids=[str(r.id) for r in rows], phones=[r.phone for r in rows],
                                      names=[r.name or "" for r in rows], countries=[r.country for r in rows])
            else:
                yield pb.ContactBatch(contacts=[_ref(r) for r in rows])

    async def StreamAttributeValues(self, request, context):
        async for rows in self.service.stream_attribute_values(request.organization_id, request.attribute_slug,
                                                               request.batch_size):
            yield pb.AttributeValueBatch(values=[pb.AttributeValue(contact=_ref(r), value=r.value) for r in rows])
