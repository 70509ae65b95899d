"""/api/webhooks: endpoints that receive signed events, their test event and their deliveries."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import Field

from gateway.auth import clients, organization_id
from gateway.clients import Clients, call
from gateway.models import ApiModel, ApiResponse
from gateway.paging import DEFAULT_LIMIT, Cursor, Limit, next_page
from outbound.webhooks.v1 import webhooks_pb2 as pb

router = APIRouter(tags=["webhooks"])

EVENT_TYPES = "execution.status_changed | execution.finished | call.completed | contact.opted_out | webhook.test"


class WebhookCreate(ApiModel):
    url: str = Field(description="http(s) URL whose host resolves to public addresses")
    events: list[str] = Field(description=f"Event types to receive: {EVENT_TYPES}")
    description: str | None = Field(default=None, description="Up to 500 characters")


class WebhookPatch(ApiModel):
    url: str | None = None
    events: list[str] | None = None
    description: str | None = Field(default=None, description="null clears it")
    enabled: bool | None = None


class WebhookResponse(ApiResponse):
    id: str
    url: str
    events: list[str]
    description: str | None
    enabled: bool
    created_at: str


class WebhookCreated(WebhookResponse):
    secret: str = Field(description="The signing secret: shown in this answer only")


class TestEventSent(ApiResponse):
    event_id: str


class DeliveryResponse(ApiResponse):
    id: str
    event_id: str
    type: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    response_code: int | None
    last_error: str | None
    next_retry_at: str | None
    created_at: str
    delivered_at: str | None


def webhook_json(w: pb.Webhook) -> WebhookResponse:
    return WebhookResponse(id=w.id, url=w.url, events=list(w.events),
                           description=w.description if w.HasField("description") else None,
                           enabled=w.enabled, created_at=w.created_at)


def delivery_json(d: pb.Delivery) -> DeliveryResponse:
    return DeliveryResponse(id=d.id, event_id=d.event_id, type=d.type, status=d.status,  # type: ignore[arg-type]
                            attempts=d.attempts,
                            response_code=d.response_code if d.HasField("response_code") else None,
                            last_error=d.last_error or None, next_retry_at=d.next_retry_at or None,
                            created_at=d.created_at, delivered_at=d.delivered_at or None)


@router.post("/webhooks", status_code=201, response_model=WebhookCreated)
async def create_webhook(payload: WebhookCreate, org: str = Depends(organization_id),
                         c: Clients = Depends(clients)) -> WebhookCreated:
    """Creates an endpoint. The answer carries the signing secret, which is never shown again."""
    request = pb.CreateWebhookRequest(organization_id=org, url=payload.url, events=payload.events)
    if payload.description is not None:
        request.description = payload.description
    answer = await call(c.webhooks.CreateWebhook, request)
    return WebhookCreated(**webhook_json(answer.webhook).model_dump(), secret=answer.secret)


@router.get("/webhooks", response_model=list[WebhookResponse], description="Newest first.")
async def list_webhooks(response: Response, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None,
                        org: str = Depends(organization_id), c: Clients = Depends(clients)) -> list[WebhookResponse]:
    answer = await call(c.webhooks.ListWebhooks, pb.ListWebhooksRequest(organization_id=org, limit=limit,
                                                                          cursor=cursor or ""))
    next_page(response, answer.next_cursor)
    return [webhook_json(w) for w in answer.webhooks]


@router.get("/webhooks/{webhook_id}", response_model=WebhookResponse)
async def get_webhook(webhook_id: str, org: str = Depends(organization_id),
                      c: Clients = Depends(clients)) -> WebhookResponse:
    return webhook_json(await call(c.webhooks.GetWebhook, pb.GetWebhookRequest(organization_id=org,
                                                                                webhook_id=webhook_id)))


@router.patch("/webhooks/{webhook_id}", response_model=WebhookResponse)
async def update_webhook(webhook_id: str, payload: WebhookPatch, org: str = Depends(organization_id),
                         c: Clients = Depends(clients)) -> WebhookResponse:
    """Changes the fields present in the body; `enabled: false` holds deliveries until re-enabled."""
    given = payload.model_fields_set
    request = pb.UpdateWebhookRequest(organization_id=org, webhook_id=webhook_id)
    if "url" in given:
        request.url = payload.url or ""
    if "events" in given:
        request.set_events = True
        request.events.extend(payload.events or [])
    if "description" in given:
        request.set_description = True
        if payload.description is not None:
            request.description = payload.description
    if "enabled" in given and payload.enabled is not None:
        request.enabled = payload.enabled
    return webhook_json(await call(c.webhooks.UpdateWebhook, request))


@router.delete("/webhooks/{webhook_id}", status_code=204, response_class=Response)
async def delete_webhook(webhook_id: str, org: str = Depends(organization_id),
                         c: Clients = Depends(clients)) -> Response:
    """Deletes the endpoint and its deliveries: nothing more is sent to it."""
    await call(c.webhooks.DeleteWebhook, pb.DeleteWebhookRequest(organization_id=org, webhook_id=webhook_id))
    return Response(status_code=204)


@router.post("/webhooks/{webhook_id}/test", status_code=202, response_model=TestEventSent)
async def send_test_event(webhook_id: str, org: str = Depends(organization_id),
                          c: Clients = Depends(clients)) -> TestEventSent:
    """Queues a `webhook.test` event for this endpoint, whatever it subscribes to."""
    answer = await call(c.webhooks.SendTestEvent, pb.SendTestEventRequest(organization_id=org,
                                                                            webhook_id=webhook_id))
    return TestEventSent(event_id=answer.event_id)


@router.get("/webhooks/{webhook_id}/deliveries", response_model=list[DeliveryResponse], description="Newest first.")
async def list_deliveries(webhook_id: str, response: Response,
                          status: Literal["pending", "delivered", "failed"] | None = Query(default=None),
                          limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None, org: str = Depends(organization_id),
                          c: Clients = Depends(clients)) -> list[DeliveryResponse]:
    answer = await call(c.webhooks.ListDeliveries, pb.ListDeliveriesRequest(
        organization_id=org, webhook_id=webhook_id, status=status or "", limit=limit, cursor=cursor or ""))
    next_page(response, answer.next_cursor)
    return [delivery_json(d) for d in answer.deliveries]
