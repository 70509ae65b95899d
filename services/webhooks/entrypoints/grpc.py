"""WebhookService servicer: proto in, use case, proto out."""

from __future__ import annotations

from outbound.webhooks.v1 import webhooks_pb2 as pb
from outbound.webhooks.v1 import webhooks_pb2_grpc
from services.webhooks.entrypoints.mapping import delivery_to_proto, endpoint_to_proto
from services.webhooks.service import WebhookService


class WebhookServicer(webhooks_pb2_grpc.WebhookServiceServicer):
    def __init__(self, service: WebhookService):
        self._service = service

    async def CreateWebhook(self, request: pb.CreateWebhookRequest, context) -> pb.CreateWebhookResponse:
        endpoint, secret = await self._service.create(
            request.organization_id, request.url, list(request.events),
            request.description if request.HasField("description") else None)
        return pb.CreateWebhookResponse(webhook=endpoint_to_proto(endpoint), secret=secret)

    async def GetWebhook(self, request: pb.GetWebhookRequest, context) -> pb.Webhook:
        return endpoint_to_proto(await self._service.get(request.organization_id, request.webhook_id))

    async def ListWebhooks(self, request: pb.ListWebhooksRequest, context) -> pb.ListWebhooksResponse:
        rows, next_cursor = await self._service.list_endpoints(request.organization_id, request.limit, request.cursor)
        return pb.ListWebhooksResponse(webhooks=[endpoint_to_proto(e) for e in rows], next_cursor=next_cursor)

    async def UpdateWebhook(self, request: pb.UpdateWebhookRequest, context) -> pb.Webhook:
        description = ((request.description if request.HasField("description") else None,)
                       if request.set_description else None)
        endpoint = await self._service.update(
            request.organization_id, request.webhook_id,
            url=request.url if request.HasField("url") else None,
            events=list(request.events) if request.set_events else None, description=description,
            enabled=request.enabled if request.HasField("enabled") else None)
        return endpoint_to_proto(endpoint)

    async def DeleteWebhook(self, request: pb.DeleteWebhookRequest, context) -> pb.DeleteWebhookResponse:
        await self._service.delete(request.organization_id, request.webhook_id)
        return pb.DeleteWebhookResponse()

    async def SendTestEvent(self, request: pb.SendTestEventRequest, context) -> pb.SendTestEventResponse:
        return pb.SendTestEventResponse(event_id=await self._service.send_test(request.organization_id,
                                                                                request.webhook_id))

    async def ListDeliveries(self, request: pb.ListDeliveriesRequest, context) -> pb.ListDeliveriesResponse:
        rows, next_cursor = await self._service.list_deliveries(request.organization_id, request.webhook_id,
                                                                request.status, request.limit, request.cursor)
        return pb.ListDeliveriesResponse(deliveries=[delivery_to_proto(d) for d in rows], next_cursor=next_cursor)
