"""JetStream consumer of the audience context: calls whose callee opted out.

A call.completed whose flow ran an `optout` node carries `opted_out` and the called `phone`;
the number goes on the organization's do-not-call list with the reason "opt-out". Listing is
an insert that does nothing when the number is listed already, so a redelivered result, or a
second opt-out of the same number, changes nothing.
"""

from __future__ import annotations

from nats.aio.msg import Msg
from nats.js import JetStreamContext

from kernel import jetstream, logs, metrics
from outbound.dialer.v1 import events_pb2 as dialer_events
from services.audience.dnc import DoNotCall

log = logs.get("audience.consumers")

OPT_OUTS = jetstream.ConsumerSpec(stream="CALLS", durable="audience-opt-outs", filter_subject="call.completed",
                                  batch_size=500)


class OptOutConsumer:
    def __init__(self, js: JetStreamContext, dnc: DoNotCall):
        self.js = js
        self.dnc = dnc

    async def run(self) -> None:
        await jetstream.run_pull_consumer(self.js, OPT_OUTS, self.handle,
                                          on_redelivery=metrics.redelivery_counter(OPT_OUTS.durable))

    async def handle(self, msgs: list[Msg]) -> None:
        """One statement for every opt-out of the batch; the other results are only acked."""
        opted: list[tuple[str, str]] = []
        for msg in msgs:
            try:
                result = dialer_events.CallResult.FromString(msg.data)
            except Exception:
                log.error("unreadable call result terminated", extra={"subject": msg.subject})
                await msg.term()
                continue
            if result.opted_out:
                opted.append((result.organization_id, result.phone))
        if opted:
            added = await self.dnc.opt_out(opted)
            log.info("opted-out numbers listed", extra={"opt_outs": len(opted), "added": added})
