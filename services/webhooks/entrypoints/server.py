"""`outbound serve webhooks`: WebhookService, the two event consumers and the delivery worker.

Settings (real seconds): WEBHOOK_ALLOW_PRIVATE (1: loopback/private hosts allowed; tests and
`make run` only), WEBHOOK_RETRY_BASE_SECONDS (5), WEBHOOK_RETRY_HORIZON_SECONDS (86400),
WEBHOOK_TIMEOUT_SECONDS (10), WEBHOOK_CONCURRENCY_PER_ENDPOINT (4 per replica); and in days,
WEBHOOK_RETENTION_DAYS (30: finished deliveries are deleted that long after their creation).
"""

from __future__ import annotations

from functools import partial

from kernel import logs, loops
from kernel.grpc_server import ServiceRuntime
from kernel.settings import Settings
from outbound.webhooks.v1 import webhooks_pb2, webhooks_pb2_grpc
from services.webhooks.adapters.sender import Sender, refusal
from services.webhooks.delivery import DeliveryWorker
from services.webhooks.domain.backoff import RetryPolicy
from services.webhooks.entrypoints.consumers import consumers
from services.webhooks.entrypoints.grpc import WebhookServicer
from services.webhooks.retention import RETENTION_DAYS, DeliveryRetention
from services.webhooks.service import WebhookService

log = logs.get("webhooks.server")

# Real seconds between claims of due deliveries when the last one found nothing.
TICK_SECONDS = 0.2


async def main(settings: Settings) -> None:
    runtime = ServiceRuntime("webhooks", settings)
    engine = runtime.database()
    js = await runtime.broker()
    allow_private = settings.env("WEBHOOK_ALLOW_PRIVATE", "0") in ("1", "true", "yes")
    service = WebhookService(engine, partial(refusal, allow_private=allow_private))
    webhooks_pb2_grpc.add_WebhookServiceServicer_to_server(WebhookServicer(service), runtime.server)
    runtime.add_services([webhooks_pb2.DESCRIPTOR.services_by_name["WebhookService"].full_name])

    sender = Sender(timeout_seconds=float(settings.env("WEBHOOK_TIMEOUT_SECONDS", "10")),
                    allow_private=allow_private)
    runtime.on_close(sender.close)
    policy = RetryPolicy(base_seconds=float(settings.env("WEBHOOK_RETRY_BASE_SECONDS", "5")),
                         horizon_seconds=float(settings.env("WEBHOOK_RETRY_HORIZON_SECONDS", str(24 * 3600))))
    worker = DeliveryWorker(engine, sender, policy,
                            per_endpoint=int(settings.env("WEBHOOK_CONCURRENCY_PER_ENDPOINT", "4")))
    runtime.on_close(worker.drain)

    async def deliver_forever() -> None:
        await loops.every(TICK_SECONDS, worker.tick, log=log, what="webhook delivery", busy=lambda n: n > 0)

    for consumer in consumers(js, service):
        runtime.add_background(consumer.run)
    runtime.add_background(deliver_forever)
    retention = DeliveryRetention(engine, float(settings.env("WEBHOOK_RETENTION_DAYS", str(RETENTION_DAYS))))
    runtime.add_background(retention.forever)
    await runtime.run()
