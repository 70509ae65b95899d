"""The events an endpoint may subscribe to, their ids and the envelope they travel in.

Invariant: an event's id is a function of its type and of the source message it comes from
(uuid5), so a message consumed twice, replayed or redelivered yields the same id, and the
(endpoint, event) uniqueness of deliveries makes it one delivery. The envelope's bytes are a
function of the stored event: every attempt of a delivery sends the same body.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kernel.timefmt import iso

STATUS_CHANGED = "execution.status_changed"
FINISHED = "execution.finished"
CALL_COMPLETED = "call.completed"
OPTED_OUT = "contact.opted_out"
TEST = "webhook.test"
# What an endpoint may list in `events`, in the order the docs give them.
TYPES = (STATUS_CHANGED, FINISHED, CALL_COMPLETED, OPTED_OUT, TEST)
TERMINAL_STATUSES = frozenset({"completed", "stopped", "cancelled"})

_NAMESPACE = uuid.UUID("5b0e3f3c-9a47-4c1e-8d62-0c1f8b7a2e51")


def event_id(event_type: str, source_key: str) -> str:
    """The id of the event of `event_type` derived from the source message known by `source_key`."""
    return str(uuid.uuid5(_NAMESPACE, f"{event_type}|{source_key}"))


@dataclass(frozen=True)
class Event:
    id: str
    organization_id: str
    type: str
    created_at: datetime
    data: dict[str, Any]


def envelope(event: Event) -> bytes:
    """The body of every delivery of `event`: `{id, type, createdAt, data}` as compact UTF-8 JSON."""
    return json.dumps({"id": event.id, "type": event.type, "createdAt": iso(event.created_at), "data": event.data},
                      separators=(",", ":"), ensure_ascii=False).encode()


def normalize_types(events: list[str]) -> list[str]:
    """The subscribed types without repeats, in the order given; a ValueError names an unknown one."""
    seen: list[str] = []
    for name in events:
        if name not in TYPES:
            raise ValueError(f"unknown event type {name!r}; one of: {', '.join(TYPES)}")
        if name not in seen:
            seen.append(name)
    if not seen:
        raise ValueError("at least one event type is required")
    return seen
