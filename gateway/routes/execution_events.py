"""/api/program-executions/{id}/events: the execution's changes as server-sent events.

Thin: the stream reads from this replica's hub of the execution (gateway/live/feeds.py), which
polls the execution service once per second however many streams are open.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Header, Request
from sse_starlette.sse import EventSourceResponse

from gateway.auth import clients, organization_id
from gateway.clients import Clients, call
from gateway.live.feeds import END, Feeds
from kernel import errors
from outbound.execution.v1 import execution_pb2 as pb

router = APIRouter(tags=["executions"])

HEARTBEAT_SECONDS = 15


def feeds_of(request: Request, stubs: Clients) -> Feeds:
    """The replica's hubs, made on first use (they live as long as the app)."""
    feeds = getattr(request.app.state, "execution_feeds", None)
    if feeds is None:
        feeds = request.app.state.execution_feeds = Feeds(stubs.execution)
    return feeds


def resume_after(last_event_id: str | None) -> int:
    if last_event_id is None or last_event_id.strip() == "":
        return 0
    value = last_event_id.strip()
    if not value.isdigit():
        raise errors.ValidationError("Last-Event-ID must be the seq of an event of this stream")
    return int(value)


async def _events(feeds: Feeds, organization_id: str, execution_id: str,
                  after_seq: int) -> AsyncIterator[dict[str, Any]]:
    # Subscribed once the stream runs: a request dropped before that leaves nothing behind.
    hub, sub = feeds.subscribe(organization_id, execution_id, after_seq)
    try:
        while True:
            event = await sub.queue.get()
            yield {"event": event.kind, "data": json.dumps(event.data),
                   **({"id": str(event.seq)} if event.seq is not None else {})}
            if event.kind == END:
                return
    finally:  # the client left, or the stream ended: the hub stops once nobody listens
        await feeds.unsubscribe(hub, sub)


@router.get("/program-executions/{execution_id}/events", response_class=EventSourceResponse,
            responses={200: {"content": {"text/event-stream": {}},
                             "description": "status, counters and end events (see docs/executions.md)"}})
async def execution_events(execution_id: str, request: Request, org: str = Depends(organization_id),
                           stubs: Clients = Depends(clients),
                           last_event_id: str | None = Header(None, alias="Last-Event-ID")) -> EventSourceResponse:
    """The execution's status changes (every one, in order; Last-Event-ID resumes after that seq),
    its detail whenever it changed (at most once a second), then `end` once it has finished."""
    after = resume_after(last_event_id)
    # Unknown (or another organization's) execution: 404 before the stream starts.
    await call(stubs.execution.GetExecution, pb.GetExecutionRequest(organization_id=org, execution_id=execution_id))
    return EventSourceResponse(_events(feeds_of(request, stubs), org, execution_id, after), ping=HEARTBEAT_SECONDS,
                               headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
