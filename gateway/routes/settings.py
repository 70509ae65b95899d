"""/api/settings: the organization's own settings (today: contact limits, the frequency cap)."""

from __future__ import annotations

from fastapi import APIRouter, Body, Depends
from pydantic import Field, StrictInt

from campaign_rules import contact_limits
from campaign_rules.contact_limits import ContactLimits
from gateway.auth import clients, organization_id
from gateway.clients import Clients, call
from gateway.models import ApiModel, ApiResponse
from outbound.account.v1 import account_pb2 as pb

router = APIRouter(tags=["settings"])

class ContactLimitsIn(ApiModel):
    # Strict: "4", 4.0 and true are not integers to this setting.
    max_attempts: StrictInt = Field(description="1-1000 placed attempts per phone number")
    per_days: StrictInt = Field(description="1-365: the rolling window, in days of 24 hours")


class ContactLimitsResponse(ApiResponse):
    max_attempts: int
    per_days: int


def _answer(message: pb.GetContactLimitsResponse | pb.SetContactLimitsResponse) -> ContactLimitsResponse | None:
    if not message.HasField("limits"):
        return None
    return ContactLimitsResponse(max_attempts=message.limits.max_attempts, per_days=message.limits.per_days)


@router.get("/settings/contact-limits", response_model=ContactLimitsResponse | None,
            summary="Get the organization's contact limits")
async def get_contact_limits(org: str = Depends(organization_id),
                             c: Clients = Depends(clients)) -> ContactLimitsResponse | None:
    """The frequency cap per phone number, or null when none is set."""
    return _answer(await call(c.account.GetContactLimits, pb.GetContactLimitsRequest(organization_id=org)))


@router.put("/settings/contact-limits", response_model=ContactLimitsResponse | None,
            summary="Set or remove the organization's contact limits")
async def put_contact_limits(limits: ContactLimitsIn | None = Body(...),
                             org: str = Depends(organization_id),
                             c: Clients = Depends(clients)) -> ContactLimitsResponse | None:
    """At most `maxAttempts` placed attempts to one phone number in any rolling window of `perDays`
    days, across every program and execution of the organization. A contact over the cap is
    deferred to when the oldest counted attempt leaves the window, never failed. The body `null`
    removes the cap. Answers the stored value (null once removed)."""
    request = pb.SetContactLimitsRequest(organization_id=org)
    if limits is not None:
        # The account service checks again; checked here too so that any integer, even one no
        # int32 can hold, is answered with the rule's own message.
        checked = contact_limits.check(ContactLimits(limits.max_attempts, limits.per_days))
        request.limits.CopyFrom(pb.ContactLimits(max_attempts=checked.max_attempts, per_days=checked.per_days))
    return _answer(await call(c.account.SetContactLimits, request))
