"""/api/custom-attributes: typed contact fields (date, number, boolean, text) keyed by slug."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Response
from pydantic import Field

from gateway.auth import clients, organization_id
from gateway.clients import Clients, call
from gateway.models import ApiModel, ApiResponse
from gateway.paging import DEFAULT_LIMIT, Cursor, Limit, next_page
from outbound.audience.v1 import audience_pb2 as pb

router = APIRouter(tags=["custom attributes"])


class AttributeCreate(ApiModel):
    name: str = Field(description="Display name, 1-100 characters")
    slug: str | None = Field(None, description="Key in contact attributes; derived from name when omitted "
                                               "(accents folded, lowercase, other characters → '_')")
    type: Literal["date", "number", "boolean", "text"]


class AttributeResponse(ApiResponse):
    id: str
    name: str
    slug: str
    type: str
    created_at: str


def attribute_json(attribute: pb.Attribute) -> AttributeResponse:
    return AttributeResponse(id=attribute.id, name=attribute.name, slug=attribute.slug, type=attribute.type,
                             created_at=attribute.created_at)


@router.post("/custom-attributes", status_code=201, response_model=AttributeResponse,
             responses={409: {"description": "ConflictError: the slug is already used in this organization"}})
async def create_attribute(payload: AttributeCreate, org: str = Depends(organization_id),
                           c: Clients = Depends(clients)) -> AttributeResponse:
    created = await call(c.audience.CreateAttribute, pb.CreateAttributeRequest(
        organization_id=org, name=payload.name, slug=payload.slug or "", type=payload.type))
    return attribute_json(created)


@router.get("/custom-attributes", response_model=list[AttributeResponse])
async def list_attributes(response: Response, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None,
                          org: str = Depends(organization_id),
                          c: Clients = Depends(clients)) -> list[AttributeResponse]:
    answer = await call(c.audience.ListAttributes, pb.ListAttributesRequest(
        organization_id=org, page_size=limit, page_token=cursor or ""))
    next_page(response, answer.next_page_token)
    return [attribute_json(a) for a in answer.attributes]
