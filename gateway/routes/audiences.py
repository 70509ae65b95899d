"""/api/audiences: named sets of contacts that batch programs call."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from pydantic import Field

from gateway.auth import clients, organization_id
from gateway.clients import Clients, call
from gateway.models import ApiModel, ApiResponse
from gateway.paging import DEFAULT_LIMIT, Cursor, Limit, next_page
from gateway.routes.contacts import ContactResponse, contact_json
from outbound.audience.v1 import audience_pb2 as pb

router = APIRouter(tags=["audiences"])


class AudienceCreate(ApiModel):
    name: str = Field(description="1-200 characters")
    description: str | None = None


class AudienceMembers(ApiModel):
    contact_ids: list[str] = Field(description="Up to 10,000 ids of this organization's contacts")


class AudienceResponse(ApiResponse):
    id: str
    name: str
    description: str
    contact_count: int
    created_at: str
    updated_at: str


class MembersAdded(ApiResponse):
    added: int = Field(description="Contacts that were not members yet")
    contact_count: int


class MembersRemoved(ApiResponse):
    removed: int = Field(description="Contacts that were members")
    contact_count: int


def audience_json(audience: pb.Audience) -> AudienceResponse:
    return AudienceResponse(id=audience.id, name=audience.name, description=audience.description,
                            contact_count=audience.contact_count, created_at=audience.created_at,
                            updated_at=audience.updated_at)


@router.post("/audiences", status_code=201, response_model=AudienceResponse)
async def create_audience(payload: AudienceCreate, org: str = Depends(organization_id),
                          c: Clients = Depends(clients)) -> AudienceResponse:
    return audience_json(await call(c.audience.CreateAudience, pb.CreateAudienceRequest(
        organization_id=org, name=payload.name, description=payload.description or "")))


@router.get("/audiences", response_model=list[AudienceResponse], description="Oldest first.")
async def list_audiences(response: Response, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None,
                         org: str = Depends(organization_id),
                         c: Clients = Depends(clients)) -> list[AudienceResponse]:
    answer = await call(c.audience.ListAudiences, pb.ListAudiencesRequest(
        organization_id=org, page_size=limit, page_token=cursor or ""))
    next_page(response, answer.next_page_token)
    return [audience_json(a) for a in answer.audiences]


@router.get("/audiences/{audience_id}", response_model=AudienceResponse)
async def get_audience(audience_id: str, org: str = Depends(organization_id),
                       c: Clients = Depends(clients)) -> AudienceResponse:
    return audience_json(await call(c.audience.GetAudience,
                                    pb.GetAudienceRequest(organization_id=org, audience_id=audience_id)))


@router.post("/audiences/{audience_id}/contacts", response_model=MembersAdded,
             description="Adds contacts; adding a member again changes nothing.")
async def add_members(audience_id: str, payload: AudienceMembers, org: str = Depends(organization_id),
                      c: Clients = Depends(clients)) -> MembersAdded:
    answer = await call(c.audience.AddAudienceMembers, pb.AudienceMembersRequest(
        organization_id=org, audience_id=audience_id, contact_ids=payload.contact_ids))
    return MembersAdded(added=answer.changed, contact_count=answer.contact_count)


@router.delete("/audiences/{audience_id}/contacts", response_model=MembersRemoved,
               description="Removes contacts from the audience (the contacts themselves are kept).")
async def remove_members(audience_id: str, payload: AudienceMembers, org: str = Depends(organization_id),
                         c: Clients = Depends(clients)) -> MembersRemoved:
    answer = await call(c.audience.RemoveAudienceMembers, pb.AudienceMembersRequest(
        organization_id=org, audience_id=audience_id, contact_ids=payload.contact_ids))
    return MembersRemoved(removed=answer.changed, contact_count=answer.contact_count)


@router.get("/audiences/{audience_id}/contacts", response_model=list[ContactResponse])
async def list_members(audience_id: str, response: Response, limit: Limit = DEFAULT_LIMIT,
                       cursor: Cursor = None, org: str = Depends(organization_id),
                       c: Clients = Depends(clients)) -> list[ContactResponse]:
    answer = await call(c.audience.ListAudienceMembers, pb.ListAudienceMembersRequest(
        organization_id=org, audience_id=audience_id, page_size=limit, page_token=cursor or ""))
    next_page(response, answer.next_page_token)
    return [contact_json(x) for x in answer.contacts]
