"""The dial requests no dialer has taken yet: the undelivered count of the dialers' consumer."""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from kernel import jetstream, logs

log = logs.get("execution.dial_backlog")


class DialBacklog:
    def __init__(self, js: JetStreamContext, consumer: str = jetstream.DIAL_CONSUMER):
        self.js = js
        self.consumer = consumer

    async def undelivered(self) -> int | None:
        """Requests waiting in the DIAL stream for the dialers; None when unknown."""
        try:
            info = await self.js.consumer_info(jetstream.DIAL_STREAM, self.consumer)
        except NotFoundError:  # no dialer has subscribed yet
            return None
        except Exception as exc:  # the broker is away: publishing will tell, the deadline guards
            log.warning("dial backlog unknown", extra={"error": repr(exc)})
            return None
        return int(info.num_pending or 0)
