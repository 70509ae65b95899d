"""/api/dids: caller-ID numbers an organization may put in a program's DID pool."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from gateway.auth import clients, organization_id
from gateway.clients import Clients, call
from gateway.models import ApiResponse
from gateway.paging import DEFAULT_LIMIT, Cursor, Limit, next_page
from outbound.dialer.v1 import dialer_pb2

router = APIRouter(tags=["dids"])


class DidResponse(ApiResponse):
    id: str
    number: str
    country: str


@router.get("/dids/available", response_model=list[DidResponse])
async def list_available_dids(response: Response, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None,
                              org: str = Depends(organization_id),
                              stubs: Clients = Depends(clients)) -> list[DidResponse]:
    """Active DIDs shared by every organization or owned by this one, by number. The next
    page's cursor is in the `X-Next-Cursor` header (absent on the last page)."""
    answer = await call(stubs.dialer.ListAvailableDids, dialer_pb2.ListAvailableDidsRequest(
        organization_id=org, limit=limit, cursor=cursor or ""))
    next_page(response, answer.next_cursor)
    return [DidResponse(id=d.id, number=d.number, country=d.country) for d in answer.dids]
