"""/api/contacts: the people a campaign calls, with their custom attribute values."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response
from google.protobuf import json_format, struct_pb2
from pydantic import Field

from gateway.auth import clients, organization_id
from gateway.clients import Clients, call
from gateway.models import ApiModel, ApiResponse
from gateway.paging import DEFAULT_LIMIT, Cursor, Limit, next_page
from kernel import errors
from outbound.audience.v1 import audience_pb2 as pb

router = APIRouter(tags=["contacts"])

PHONE_DOC = "International format starting with '+'; stored as E.164. Unique per organization."
TIMEZONE_DOC = ("The contact's IANA time zone (e.g. 'Europe/Paris'), for contact-local calling hours; "
                "when unset, the zones are derived from the phone number.")
ATTRIBUTES_DOC = ("Custom attribute slug → value of the attribute's type. Dates: ISO 8601 date or date-time, "
                  "stored as UTC 'YYYY-MM-DDTHH:MM:SS.mmmZ'.")


class ContactCreate(ApiModel):
    phone: str = Field(description=PHONE_DOC)
    name: str | None = None
    attributes: dict[str, Any] | None = Field(None, description=ATTRIBUTES_DOC)
    timezone: str | None = Field(None, description=TIMEZONE_DOC)


class ContactPatch(ApiModel):
    phone: str | None = Field(None, description=PHONE_DOC)
    name: str | None = Field(None, description="null clears the name")
    attributes: dict[str, Any] | None = Field(
        None, description="Merged into the contact's attributes; a null value removes that attribute")
    timezone: str | None = Field(None, description=TIMEZONE_DOC + " null clears it.")


class BulkImport(ApiModel):
    contacts: list[ContactCreate] = Field(description="1 to 10,000 contacts; all are imported or none")
    audience_id: str | None = Field(None, description="Also add every imported contact to this audience")


class ContactResponse(ApiResponse):
    id: str
    phone: str
    name: str | None
    country: str
    attributes: dict[str, Any]
    timezone: str | None = Field(description=TIMEZONE_DOC)
    created_at: str
    updated_at: str


class BulkImportResponse(ApiResponse):
    created: int
    contact_ids: list[str] = Field(description="In request order")


def _plain(value: Any) -> Any:
    # Struct numbers are doubles: give integers back as integers.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def struct(values: dict[str, Any] | None) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    if values:
        out.update(values)
    return out


def contact_json(contact: pb.Contact) -> ContactResponse:
    attributes = {k: _plain(v) for k, v in json_format.MessageToDict(contact.attributes).items()}
    return ContactResponse(id=contact.id, phone=contact.phone,
                           name=contact.name if contact.HasField("name") else None,
                           country=contact.country, attributes=attributes,
                           timezone=contact.timezone if contact.HasField("timezone") else None,
                           created_at=contact.created_at, updated_at=contact.updated_at)


def contact_input(payload: ContactCreate) -> pb.ContactInput:
    item = pb.ContactInput(phone=payload.phone, attributes=struct(payload.attributes))
    if payload.name is not None:
        item.name = payload.name
    if payload.timezone is not None:
        item.timezone = payload.timezone
    return item


@router.post("/contacts", status_code=201, response_model=ContactResponse,
             responses={409: {"description": "ConflictError: this phone number is already a contact"}})
async def create_contact(payload: ContactCreate, org: str = Depends(organization_id),
                         c: Clients = Depends(clients)) -> ContactResponse:
    created = await call(c.audience.CreateContact,
                         pb.CreateContactRequest(organization_id=org, contact=contact_input(payload)))
    return contact_json(created)


@router.post("/contacts/bulk", status_code=201, response_model=BulkImportResponse)
async def bulk_import(payload: BulkImport, org: str = Depends(organization_id),
                      c: Clients = Depends(clients)) -> BulkImportResponse:
    answer = await call(c.audience.BulkImportContacts, pb.BulkImportContactsRequest(
        organization_id=org, contacts=[contact_input(p) for p in payload.contacts],
        audience_id=payload.audience_id or ""), timeout=120)
    return BulkImportResponse(created=answer.created, contact_ids=list(answer.contact_ids))


@router.get("/contacts", response_model=list[ContactResponse], description="Oldest first.")
async def list_contacts(response: Response, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None,
                        org: str = Depends(organization_id), c: Clients = Depends(clients)) -> list[ContactResponse]:
    answer = await call(c.audience.ListContacts, pb.ListContactsRequest(
        organization_id=org, page_size=limit, page_token=cursor or ""))
    next_page(response, answer.next_page_token)
    return [contact_json(x) for x in answer.contacts]


@router.get("/contacts/{contact_id}", response_model=ContactResponse)
async def get_contact(contact_id: str, org: str = Depends(organization_id),
                      c: Clients = Depends(clients)) -> ContactResponse:
    return contact_json(await call(c.audience.GetContact,
                                   pb.GetContactRequest(organization_id=org, contact_id=contact_id)))


@router.patch("/contacts/{contact_id}", response_model=ContactResponse)
async def update_contact(contact_id: str, payload: ContactPatch, org: str = Depends(organization_id),
                         c: Clients = Depends(clients)) -> ContactResponse:
    sent = payload.model_fields_set
    request = pb.UpdateContactRequest(organization_id=org, contact_id=contact_id)
    if "phone" in sent:
        if payload.phone is None:
            raise errors.ValidationError("phone: cannot be null", field="phone")
        request.phone = payload.phone
    if "name" in sent:
        if payload.name is None:
            request.clear_name = True
        else:
            request.name = payload.name
    if "timezone" in sent:
        if payload.timezone is None:
            request.clear_timezone = True
        else:
            request.timezone = payload.timezone
    if payload.attributes:
        request.attributes.CopyFrom(struct(payload.attributes))
    return contact_json(await call(c.audience.UpdateContact, request))


@router.delete("/contacts/{contact_id}", status_code=204, response_class=Response,
               description="Deletes the contact and removes it from every audience.")
async def delete_contact(contact_id: str, org: str = Depends(organization_id),
                         c: Clients = Depends(clients)) -> Response:
    await call(c.audience.DeleteContact, pb.DeleteContactRequest(organization_id=org, contact_id=contact_id))
    return Response(status_code=204)
