"""AudienceService servicer: proto in, use case, proto out."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from kernel import errors
from outbound.audience.v1 import audience_pb2 as pb
from outbound.audience.v1 import audience_pb2_grpc
from services.audience.attributes import Attributes
from services.audience.audiences import Audiences
from services.audience.contacts import Contacts
from services.audience.dnc import DoNotCall
from services.audience.entrypoints.mapping import (
    add_dnc_response,
    attribute_to_proto,
    attribute_value_batch,
    audience_to_proto,
    contact_input,
    contact_to_proto,
    dnc_entry_to_proto,
    import_chunks,
    import_dnc_response,
    import_options,
    import_rows,
    import_to_proto,
    member_batch,
    struct_dict,
)
from services.audience.imports import ContactImports
from services.audience.membership import Membership


class AudienceServicer(audience_pb2_grpc.AudienceServiceServicer):
    def __init__(self, attributes: Attributes, contacts: Contacts, audiences: Audiences, membership: Membership,
                 dnc: DoNotCall, imports: ContactImports):
        self._attributes = attributes
        self._contacts = contacts
        self._audiences = audiences
        self._membership = membership
        self._dnc = dnc
        self._imports = imports

    async def CreateAttribute(self, request: pb.CreateAttributeRequest, context) -> pb.Attribute:
        return attribute_to_proto(await self._attributes.create(
            request.organization_id, request.name, request.slug, request.type))

    async def ListAttributes(self, request: pb.ListAttributesRequest, context) -> pb.ListAttributesResponse:
        rows, token = await self._attributes.list(request.organization_id, request.page_size, request.page_token)
        return pb.ListAttributesResponse(attributes=[attribute_to_proto(r) for r in rows], next_page_token=token)

    async def CreateContact(self, request: pb.CreateContactRequest, context) -> pb.Contact:
        phone, name, attributes, timezone = contact_input(request.contact)
        return contact_to_proto(await self._contacts.create(request.organization_id, phone, name, attributes,
                                                            timezone))

    async def GetContact(self, request: pb.GetContactRequest, context) -> pb.Contact:
        return contact_to_proto(await self._contacts.get(request.organization_id, request.contact_id))

    async def ListContacts(self, request: pb.ListContactsRequest, context) -> pb.ListContactsResponse:
        rows, token = await self._contacts.list(request.organization_id, request.page_size, request.page_token)
        return pb.ListContactsResponse(contacts=[contact_to_proto(r) for r in rows], next_page_token=token)

    async def UpdateContact(self, request: pb.UpdateContactRequest, context) -> pb.Contact:
        return contact_to_proto(await self._contacts.update(
            request.organization_id, request.contact_id,
            phone=request.phone if request.HasField("phone") else None,
            name=request.name if request.HasField("name") else None,
            clear_name=request.clear_name,
            attributes=struct_dict(request.attributes) if request.HasField("attributes") else None,
            timezone=request.timezone if request.HasField("timezone") else None,
            clear_timezone=request.clear_timezone,
        ))

    async def DeleteContact(self, request: pb.DeleteContactRequest, context) -> pb.DeleteContactResponse:
        await self._contacts.delete(request.organization_id, request.contact_id)
        return pb.DeleteContactResponse()

    async def BulkImportContacts(self, request: pb.BulkImportContactsRequest,
                                 context) -> pb.BulkImportContactsResponse:
        ids = await self._contacts.bulk_import(request.organization_id,
                                               [contact_input(c) for c in request.contacts], request.audience_id)
        return pb.BulkImportContactsResponse(contact_ids=[str(i) for i in ids], created=len(ids))

    async def CreateAudience(self, request: pb.CreateAudienceRequest, context) -> pb.Audience:
        return audience_to_proto(await self._audiences.create(request.organization_id, request.name,
                                                              request.description))

    async def GetAudience(self, request: pb.GetAudienceRequest, context) -> pb.Audience:
        return audience_to_proto(await self._audiences.get(request.organization_id, request.audience_id))

    async def ListAudiences(self, request: pb.ListAudiencesRequest, context) -> pb.ListAudiencesResponse:
        rows, token = await self._audiences.list(request.organization_id, request.page_size, request.page_token)
        return pb.ListAudiencesResponse(audiences=[audience_to_proto(r) for r in rows], next_page_token=token)

    async def AddAudienceMembers(self, request: pb.AudienceMembersRequest, context) -> pb.AudienceMembersResponse:
        change = await self._membership.add(request.organization_id, request.audience_id, list(request.contact_ids))
        return pb.AudienceMembersResponse(changed=change.changed, contact_count=change.contact_count)

    async def RemoveAudienceMembers(self, request: pb.AudienceMembersRequest,
                                    context) -> pb.AudienceMembersResponse:
        change = await self._membership.remove(request.organization_id, request.audience_id,
                                               list(request.contact_ids))
        return pb.AudienceMembersResponse(changed=change.changed, contact_count=change.contact_count)

    async def ListAudienceMembers(self, request: pb.ListAudienceMembersRequest, context) -> pb.ListContactsResponse:
        rows, token = await self._membership.list(request.organization_id, request.audience_id,
                                                  request.page_size, request.page_token)
        return pb.ListContactsResponse(contacts=[contact_to_proto(r) for r in rows], next_page_token=token)

    async def StreamAudienceContacts(self, request: pb.StreamAudienceContactsRequest,
                                     context) -> AsyncIterator[pb.ContactBatch]:
        async for rows in self._membership.stream(request.organization_id, request.audience_id,
                                                  request.batch_size):
            yield member_batch(rows, request.columnar)

    async def StreamAttributeValues(self, request: pb.StreamAttributeValuesRequest,
                                    context) -> AsyncIterator[pb.AttributeValueBatch]:
        async for rows in self._attributes.stream_values(request.organization_id, request.attribute_slug,
                                                         request.batch_size):
            yield attribute_value_batch(rows)

    async def AddDnc(self, request: pb.AddDncRequest, context) -> pb.AddDncResponse:
        return add_dnc_response(await self._dnc.add(request.organization_id, request.phones,
                                                    request.reason if request.HasField("reason") else None))

    async def RemoveDnc(self, request: pb.RemoveDncRequest, context) -> pb.RemoveDncResponse:
        await self._dnc.remove(request.organization_id, request.phone)
        return pb.RemoveDncResponse()

    async def GetDnc(self, request: pb.GetDncRequest, context) -> pb.DncEntry:
        return dnc_entry_to_proto(await self._dnc.get(request.organization_id, request.phone))

    async def ListDnc(self, request: pb.ListDncRequest, context) -> pb.ListDncResponse:
        rows, cursor = await self._dnc.page(request.organization_id, request.limit, request.cursor)
        return pb.ListDncResponse(entries=[dnc_entry_to_proto(r) for r in rows], next_cursor=cursor)

    async def CheckDnc(self, request: pb.CheckDncRequest, context) -> pb.CheckDncResponse:
        return pb.CheckDncResponse(listed=await self._dnc.check(request.organization_id, request.phones))

    async def ImportDnc(self, request_iterator: AsyncIterator[pb.DncImportChunk],
                        context: grpc.aio.ServicerContext) -> pb.ImportDncResponse:
        try:
            tally = await self._dnc.import_numbers(import_chunks(request_iterator))
        except errors.DomainError as err:
            # The runtime's interceptor answers the errors of unary and server-streaming calls;
            # a client stream's are answered here, the same way.
            await context.abort(err.code, err.message, trailing_metadata=errors.to_trailing_metadata(err))
        return import_dnc_response(tally)

    async def ImportContacts(self, request_iterator: AsyncIterator[pb.ContactImportChunk],
                             context: grpc.aio.ServicerContext) -> pb.ContactImport:
        try:
            first = await anext(aiter(request_iterator), None)
            if first is None:
                raise errors.ValidationError("an import needs a first chunk naming its header", field="header")
            job = await self._imports.start(import_options(first), import_rows(first, request_iterator))
        except errors.DomainError as err:
            # As ImportDnc: a client stream's domain errors are answered here.
            await context.abort(err.code, err.message, trailing_metadata=errors.to_trailing_metadata(err))
        return import_to_proto(job)

    async def GetContactImport(self, request: pb.GetContactImportRequest, context) -> pb.ContactImport:
        return import_to_proto(await self._imports.get(request.organization_id, request.import_id))
