"""/api/credits: the organization's credit balance (credits are added by operators)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from gateway.auth import clients, organization_id
from gateway.clients import Clients, call
from gateway.models import ApiResponse
from outbound.account.v1 import account_pb2 as pb

router = APIRouter(tags=["credits"])


class CreditsResponse(ApiResponse):
    balance: int
    reserved: int
    available: int


@router.get("/credits", response_model=CreditsResponse,
            description="Balance, credits reserved by calls in flight, and what is left to start calls with.")
async def get_credits(org: str = Depends(organization_id), c: Clients = Depends(clients)) -> CreditsResponse:
    answer = await call(c.account.GetCredits, pb.GetCreditsRequest(organization_id=org))
    return CreditsResponse(balance=answer.credits.balance, reserved=answer.credits.reserved,
                           available=answer.credits.available)
