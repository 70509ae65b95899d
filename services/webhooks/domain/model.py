"""Rows of the webhooks context: endpoints, deliveries, and a delivery claimed for an attempt."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"
DELIVERY_STATUSES = (PENDING, DELIVERED, FAILED)
MAX_DESCRIPTION = 500


@dataclass(frozen=True)
class Endpoint:
    id: str
    organization_id: str
    url: str
    events: tuple[str, ...]
    description: str | None
    enabled: bool
    created_at: datetime


@dataclass(frozen=True)
class Delivery:
    id: str
    endpoint_id: str
    event_id: str
    type: str
    status: str
    attempts: int
    response_code: int | None
    last_error: str
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True)
class Claimed:
    """A delivery taken for one attempt: `lease` is the next_attempt_at the claim wrote, the
    fencing token its failure must still find (another replica may have taken it since)."""

    id: str
    endpoint_id: str
    url: str
    secret: str
    event_id: str
    body: bytes
    attempts: int
    created_at: datetime
    lease: datetime


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: a 2xx is delivered; anything else is retried."""

    delivered: bool
    response_code: int | None
    error: str
