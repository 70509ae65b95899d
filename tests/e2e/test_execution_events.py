"""GET /api/program-executions/{id}/events end to end: a real gateway streaming server-sent events
to httpx clients while a campaign runs on a fast clock."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.support.campaigns import LONG_CALL, SIM_RULES, Tenant
from tests.support.system import HANG_GUARD_SECONDS, System, wait_until

pytestmark = pytest.mark.e2e


@dataclass
class Sse:
    kind: str
    data: dict[str, Any]
    id: str | None = None


def parse(lines) -> Any:
    """SSE events from an iterator of lines (comments skipped)."""
    kind, data, event_id = "message", [], None
    for line in lines:
        if line == "":
            if data:
                yield Sse(kind, json.loads("\n".join(data)), event_id)
            kind, data, event_id = "message", [], None
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                kind = value
            elif name == "data":
                data.append(value)
            elif name == "id":
                event_id = value


@dataclass
class Reader:
    """One stream read in a thread until `end` (or until it is closed)."""

    tenant: Tenant
    execution_id: str
    headers: dict[str, str] = field(default_factory=dict)
    events: list[Sse] = field(default_factory=list)
    status_code: int | None = None

    def start(self) -> Reader:
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def _run(self) -> None:
        http = self.tenant.org.http
        with http.stream("GET", f"/program-executions/{self.execution_id}/events", headers=self.headers,
                         timeout=httpx.Timeout(30, read=HANG_GUARD_SECONDS)) as answer:
            self.status_code = answer.status_code
            for event in parse(answer.iter_lines()):
                self.events.append(event)
                if event.kind == "end":
                    return

    def of(self, kind: str) -> list[Sse]:
        return [e for e in list(self.events) if e.kind == kind]

    def statuses(self) -> list[str]:
        return [e.data["status"] for e in self.of("status")]

    def join(self) -> Reader:
        self.thread.join(HANG_GUARD_SECONDS)
        assert not self.thread.is_alive(), "stream did not end"
        return self


@pytest.fixture(scope="module")
def fast(system_factory) -> System:
    return system_factory(clock_speed=120, sim_rules=SIM_RULES)


@pytest.fixture(scope="module")
def tenant(fast: System) -> Tenant:
    return Tenant(fast)


def gauge(system: System, name: str) -> float:
    text = httpx.get(system.base_url + "/metrics", timeout=30).text
    found = re.search(rf"^{name} (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def test_every_status_change_in_order_then_final_counters_and_end(tenant: Tenant, fast: System):
    # Long calls two at a time: the campaign runs long enough to pause and resume it.
    program = tenant.program(tenant.audience(12, LONG_CALL), maxConcurrentCalls=2)
    execution_id = tenant.launch(program["id"])
    reader = Reader(tenant, execution_id).start()
    wait_until(lambda: reader.statuses() == ["running"] and reader.of("counters"), message="first events")
    first = reader.of("status")[0]
    assert first.id == str(first.data["seq"]) and first.data["previousStatus"] is None
    assert first.data["executionId"] == execution_id and first.data["execution"]["status"] == "running"
    assert reader.of("counters")[0].data["autoPauseCounters"] == []

    paused = tenant.org.patch(f"/program-executions/{execution_id}/pause")
    assert paused.status_code == 200, paused.text
    assert paused.json()["pauseReason"] == {"kind": "manual", "rule": None, "until": None}
    wait_until(lambda: reader.statuses() == ["running", "paused"], message="paused event")
    assert tenant.execution(execution_id)["pauseReason"]["kind"] == "manual"
    wait_until(lambda: reader.of("counters")[-1].data["pauseReason"] == {"kind": "manual", "rule": None,
                                                                       "until": None},
               message="counters with the pause reason")
    resumed = tenant.org.patch(f"/program-executions/{execution_id}/resume")
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["pauseReason"] is None and resumed.json()["status"] == "running"
    tenant.wait_status(execution_id, "completed")

    reader.join()
    assert reader.status_code == 200
    statuses = reader.of("status")
    assert [(e.data["previousStatus"], e.data["status"]) for e in statuses] == [
        (None, "running"), ("running", "paused"), ("paused", "running"), ("running", "completed")]
    seqs = [e.data["seq"] for e in statuses]
    assert seqs == sorted(seqs) and len(set(seqs)) == 4
    assert [e.id for e in statuses] == [str(s) for s in seqs]
    assert reader.events[-1].kind == "end"
    final_counters = reader.of("counters")[-1]
    assert reader.events.index(final_counters) > reader.events.index(statuses[-1])
    assert final_counters.data == tenant.execution(execution_id)
    assert final_counters.data["contactsCompleted"] == 12 and final_counters.data["actualEndAt"]
    assert statuses[-1].data["execution"]["status"] == "completed"

    # Last-Event-ID: a reconnecting client gets the changes after that seq only, then the end.
    again = Reader(tenant, execution_id, headers={"Last-Event-ID": str(seqs[1])}).start().join()
    assert [e.data["seq"] for e in again.of("status")] == seqs[2:]
    assert again.of("counters")[-1].data == final_counters.data and again.events[-1].kind == "end"
    # Without it, a new stream replays every change from the creation.
    replay = Reader(tenant, execution_id).start().join()
    assert [e.data["seq"] for e in replay.of("status")] == seqs


def test_unknown_execution_and_bad_last_event_id_are_refused(tenant: Tenant):
    missing = tenant.org.get(f"/program-executions/{uuid.uuid4()}/events")
    assert missing.status_code == 404
    assert missing.json()["error"] == "ExecutionNotFoundError"
    other = Tenant(tenant.system)
    execution_id = tenant.launch(tenant.program(tenant.audience(1))["id"])
    assert other.org.get(f"/program-executions/{execution_id}/events").status_code == 404
    bad = tenant.org.get(f"/program-executions/{execution_id}/events", headers={"Last-Event-ID": "x"})
    assert bad.status_code == 400 and bad.json()["error"] == "ValidationError"
    no_key = httpx.get(f"{tenant.system.base_url}/api/program-executions/{execution_id}/events", timeout=30)
    assert no_key.status_code == 401


async def _read_all(base_url: str, api_key: str, execution_id: str, n: int) -> list[list[Sse]]:
    async with httpx.AsyncClient(base_url=base_url + "/api", headers={"x-api-key": api_key},
                                 timeout=httpx.Timeout(30, read=HANG_GUARD_SECONDS),
                                 limits=httpx.Limits(max_connections=n + 5)) as http:
        async def one() -> list[Sse]:
            events: list[Sse] = []
            async with http.stream("GET", f"/program-executions/{execution_id}/events") as answer:
                assert answer.status_code == 200
                lines = [line async for line in _lines_until_end(answer)]
            events.extend(parse(lines))
            return events

        return await asyncio.wait_for(asyncio.gather(*(one() for _ in range(n))), HANG_GUARD_SECONDS)


async def _lines_until_end(answer: httpx.Response):
    ending = False
    async for line in answer.aiter_lines():
        yield line
        if line == "event: end":
            ending = True
        elif ending and line == "":
            return


def test_fifty_streams_on_one_execution_all_get_the_end(tenant: Tenant, fast: System):
    program = tenant.program(tenant.audience(20, LONG_CALL), maxConcurrentCalls=4)
    execution_id = tenant.launch(program["id"])
    streams = asyncio.run(_read_all(fast.base_url, tenant.org.api_key, execution_id, 60))
    final = tenant.execution(execution_id)
    assert final["status"] == "completed"
    for events in streams:
        assert [e.data["status"] for e in events if e.kind == "status"] == ["running", "completed"]
        assert events[-1].kind == "end"
        assert [e for e in events if e.kind == "counters"][-1].data == final
    # Every stream has left: the hub stopped.
    wait_until(lambda: gauge(fast, "outbound_gateway_event_streams") == 0
               and gauge(fast, "outbound_gateway_event_hubs") == 0, message="streams and hubs closed")


def test_a_client_leaving_mid_stream_leaves_nothing_behind(tenant: Tenant, fast: System):
    program = tenant.program(tenant.audience(40, LONG_CALL), maxConcurrentCalls=1)
    execution_id = tenant.launch(program["id"])
    http = tenant.org.http
    for _ in range(3):
        with http.stream("GET", f"/program-executions/{execution_id}/events") as answer:
            lines = answer.iter_lines()
            assert next(line for line in lines if line.startswith("event:")) == "event: status"
            assert gauge(fast, "outbound_gateway_event_streams") >= 1
    wait_until(lambda: gauge(fast, "outbound_gateway_event_streams") == 0
               and gauge(fast, "outbound_gateway_event_hubs") == 0, message="disconnected streams closed")
    assert tenant.org.delete(f"/program-executions/{execution_id}").status_code == 204
