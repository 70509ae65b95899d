"""Retention of deliveries against real PostgreSQL: finished deliveries older than the retention
go, in passes of `batch`, with the events no delivery refers to any more; pending ones, recent
ones and events still referred to stay."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from kernel.db import create_engine, libpq_url
from services.webhooks.retention import DeliveryRetention

# Far ahead of the real clock: the service's own sweep (real time) never takes these rows.
NOW = datetime(2100, 1, 1, tzinfo=UTC)
OLD, RECENT = NOW - timedelta(days=31), NOW - timedelta(days=29)


def _seed(system) -> dict[str, str]:
    """An endpoint and its deliveries, named by what the sweep must do with them."""
    endpoint = str(uuid.uuid4())
    ids: dict[str, str] = {}
    with psycopg.connect(libpq_url(system.database_url)) as conn:
        conn.execute("INSERT INTO webhooks.endpoints (id, organization_id, url, events, secret, created_at, updated_at) "
                     "VALUES (%s, 'retention-org', 'https://example.com/hook', '{call.completed}', 's', %s, %s)",
                     (endpoint, OLD, OLD))
        rows = [("old delivered", "delivered", OLD, "own event"), ("old failed", "failed", OLD, "own event 2"),
                ("old failed 2", "failed", OLD - timedelta(days=1), "own event 3"),
                ("old pending", "pending", OLD, "pending's event"),
                ("recent delivered", "delivered", RECENT, "recent event"),
                ("old delivered, shared", "delivered", OLD, "shared event"),
                ("recent failed, shared", "failed", RECENT, "shared event")]
        events: dict[str, str] = {}
        for name, status, created, event in rows:
            if event not in events:
                events[event] = str(uuid.uuid4())
                conn.execute("INSERT INTO webhooks.events (id, organization_id, type, created_at, body) "
                             "VALUES (%s, 'retention-org', 'call.completed', %s, '\\x7b7d')", (events[event], created))
            ids[name] = str(uuid.uuid4())
            # Deliveries of one endpoint are unique per event: the shared event's second delivery
            # belongs to a second endpoint.
            owner = endpoint
            if name == "recent failed, shared":
                owner = str(uuid.uuid4())
                conn.execute("INSERT INTO webhooks.endpoints (id, organization_id, url, events, secret, created_at, "
                             "updated_at) VALUES (%s, 'retention-org', 'https://example.com/b', '{call.completed}', "
                             "'s', %s, %s)", (owner, OLD, OLD))
            conn.execute("INSERT INTO webhooks.deliveries (id, endpoint_id, event_id, type, status, created_at) "
                         "VALUES (%s, %s, %s, 'call.completed', %s, %s)", (ids[name], owner, events[event], status,
                                                                           created))
        ids.update({f"event: {k}": v for k, v in events.items()})
    return ids


async def test_finished_deliveries_past_the_retention_go_with_their_unreferenced_events(system):
    ids = _seed(system)
    engine = create_engine(system.database_url, "webhooks")
    try:
        retention = DeliveryRetention(engine, 30, batch=2, now=lambda: NOW)
        passes = [await retention.sweep_once() for _ in range(3)]
    finally:
        await engine.dispose()
    assert passes == [2, 2, 0]  # four old finished deliveries, two a pass
    with psycopg.connect(libpq_url(system.database_url)) as conn:
        deliveries = {str(r[0]) for r in conn.execute("SELECT id FROM webhooks.deliveries")}
        events = {str(r[0]) for r in conn.execute("SELECT id FROM webhooks.events")}
    kept = {name for name, value in ids.items() if value in deliveries | events}
    assert kept == {"old pending", "recent delivered", "recent failed, shared",
                    "event: pending's event", "event: recent event", "event: shared event"}


def test_a_retention_of_zero_days_is_refused(system):
    engine = create_engine(system.database_url, "webhooks")
    with pytest.raises(ValueError, match="WEBHOOK_RETENTION_DAYS"):
        DeliveryRetention(engine, 0)
