"""Use cases of endpoints (create, read, change, delete, test) and of fanning events out to them.

Creating or changing an endpoint's URL checks it against the URL policy with DNS as it answers
now; the signing secret is answered by create only. Fan-out is idempotent: an event stored and
its deliveries inserted once, whatever the number of times its message is consumed.
"""

from __future__ import annotations

import dataclasses
import secrets
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from kernel import paging
from kernel.errors import ValidationError
from services.webhooks.adapters import deliveries, endpoints
from services.webhooks.domain import events as event_types
from services.webhooks.domain import url_policy
from services.webhooks.domain.errors import WebhookNotFoundError
from services.webhooks.domain.events import Event
from services.webhooks.domain.model import DELIVERY_STATUSES, MAX_DESCRIPTION, Delivery, Endpoint

# Why a URL may not be called now, or None (adapters.sender.refusal bound to the policy's setting).
Refusal = Callable[[str], Awaitable[str | None]]


def _now() -> datetime:
    return datetime.now(UTC)


def _events(values: Sequence[str]) -> tuple[str, ...]:
    try:
        return tuple(event_types.normalize_types(list(values)))
    except ValueError as exc:
        raise ValidationError(f"events: {exc}", field="events") from None


def _description(value: str | None) -> str | None:
    if value is not None and len(value) > MAX_DESCRIPTION:
        raise ValidationError(f"description: at most {MAX_DESCRIPTION} characters", field="description")
    return value


def _uuid(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


class WebhookService:
    def __init__(self, engine: AsyncEngine, refusal: Refusal):
        self._engine = engine
        self._refusal = refusal

    async def _check_url(self, url: str) -> str:
        url_policy.parse(url)
        refused = await self._refusal(url)
        if refused:
            raise ValidationError(f"url: {refused}", field="url")
        return url

    async def create(self, organization_id: str, url: str, events: Sequence[str],
                     description: str | None) -> tuple[Endpoint, str]:
        subscribed = _events(events)
        endpoint = Endpoint(id=str(uuid.uuid4()), organization_id=organization_id, url=await self._check_url(url),
                            events=subscribed, description=_description(description), enabled=True,
                            created_at=_now())
        secret = "whsec_" + secrets.token_hex(32)
        async with self._engine.begin() as conn:
            await endpoints.insert(conn, endpoint, secret)
        return endpoint, secret

    async def get(self, organization_id: str, endpoint_id: str) -> Endpoint:
        key = _uuid(endpoint_id)
        async with self._engine.connect() as conn:
            found = await endpoints.get(conn, organization_id, key) if key else None
        if found is None:
            raise WebhookNotFoundError()
        return found

    async def list_endpoints(self, organization_id: str, limit: int, cursor: str) -> tuple[list[Endpoint], str]:
        wanted = paging.request(limit, cursor, paging.instant, paging.identifier)
        async with self._engine.connect() as conn:
            rows = await endpoints.list_page(conn, organization_id, wanted)
        return paging.page(rows, wanted, lambda e: (e.created_at, e.id))

    async def update(self, organization_id: str, endpoint_id: str, *, url: str | None = None,
                     events: Sequence[str] | None = None, description: tuple[str | None] | None = None,
                     enabled: bool | None = None) -> Endpoint:
        """Change the fields given (`description` as a 1-tuple, so that None can clear it)."""
        new_url = await self._check_url(url) if url is not None else None
        new_events = _events(events) if events is not None else None
        new_description = (_description(description[0]),) if description is not None else None
        key = _uuid(endpoint_id)
        async with self._engine.begin() as conn:
            current = await endpoints.get(conn, organization_id, key, for_update=True) if key else None
            if current is None:
                raise WebhookNotFoundError()
            changed = dataclasses.replace(
                current, url=current.url if new_url is None else new_url,
                events=current.events if new_events is None else new_events,
                description=current.description if new_description is None else new_description[0],
                enabled=current.enabled if enabled is None else enabled)
            await endpoints.replace(conn, changed, _now())
        return changed

    async def delete(self, organization_id: str, endpoint_id: str) -> None:
        key = _uuid(endpoint_id)
        async with self._engine.begin() as conn:
            if not key or not await endpoints.delete(conn, organization_id, key):
                raise WebhookNotFoundError()

    async def send_test(self, organization_id: str, endpoint_id: str) -> str:
        """A webhook.test event for this endpoint alone, whatever it subscribes to; its id."""
        endpoint = await self.get(organization_id, endpoint_id)
        now = _now()
        event = Event(id=str(uuid.uuid4()), organization_id=organization_id, type=event_types.TEST, created_at=now,
                      data={"webhookId": endpoint.id, "message": "A test event sent from the API."})
        async with self._engine.begin() as conn:
            await deliveries.fan_out(conn, [(event, [endpoint.id])], now)
        return event.id

    async def list_deliveries(self, organization_id: str, endpoint_id: str, status: str, limit: int,
                              cursor: str) -> tuple[list[Delivery], str]:
        if status and status not in DELIVERY_STATUSES:
            raise ValidationError(f"status: one of {', '.join(DELIVERY_STATUSES)}", field="status")
        wanted = paging.request(limit, cursor, paging.instant, paging.identifier)
        endpoint = await self.get(organization_id, endpoint_id)
        async with self._engine.connect() as conn:
            rows = await deliveries.list_page(conn, endpoint.id, status, wanted)
        return paging.page(rows, wanted, lambda d: (d.created_at, d.id))

    async def fan_out(self, candidates: Sequence[Event]) -> int:
        """A delivery of each event to every enabled endpoint of its organization subscribed to its
        type; answers how many were new. Organizations without such an endpoint cost one query."""
        if not candidates:
            return 0
        async with self._engine.begin() as conn:
            found = await endpoints.subscribed(conn, [e.organization_id for e in candidates])
            fanned = [(event, [ep.id for ep in found
                               if ep.organization_id == event.organization_id and event.type in ep.events])
                      for event in candidates]
            return await deliveries.fan_out(conn, fanned, _now())
