"""Scenario 4 of `make bench`: live triggers — the launch's pre-computation against a raw COPY,
and the lag from each trigger's triggerAt to its dial request."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from bench import raw
from bench.harness import Bench, Tenant, poll
from bench.loader import load_audience
from bench.scenarios import settle
from kernel import jetstream
from kernel.timefmt import parse_iso
from outbound.execution.v1 import events_pb2


def live_triggers(bench: Bench, contacts: int, due: int) -> dict:
    """A live program over `contacts` dated contacts; `due` of them fall due within one virtual minute."""
    system = bench.system
    tenant = Tenant(system)
    speed = system.clock.speed
    scenario_started = datetime.now(UTC)
    offset = timedelta(days=1)  # triggerAt = date − 1 day
    # Enough real time ahead for the launch (the pre-computation) to be over before the first is due.
    lead = timedelta(seconds=max(20.0, contacts / 5000) * speed)
    first_due = system.now() + lead
    step = timedelta(seconds=60) / due
    with bench.db() as conn:
        load_audience(conn, tenant.org.id, contacts, phone_prefix="+2123", attribute="due_date",
                      first_date=first_due + offset, date_step=step, far_after=due,
                      far_date=first_due + offset + timedelta(days=30))
    settle(bench)
    output = tenant.org.post("/audiences", json={"name": "called"})
    output.raise_for_status()
    program = tenant.program(output.json()["id"], mode="live", triggerCondition={
        "type": "date", "attributeName": "due_date", "direction": "before",
        "offset": {"days": 1, "hours": 0, "minutes": 0}})
    started = time.perf_counter()
    execution_id = tenant.launch(program["id"])
    precompute = time.perf_counter() - started
    with bench.db() as conn:
        created = conn.execute("SELECT count(*) FROM trigger.triggers WHERE execution_id = %s",
                               (execution_id,)).fetchone()[0]
    copy = raw.copy_trigger_rate(system.database_url, contacts)

    last_due = first_due + timedelta(seconds=60)
    until_last = (last_due - system.now()).total_seconds() / speed
    poll(lambda: tenant.execution(execution_id)["totalContacts"] >= due, timeout=max(120.0, until_last + 120),
         interval=0.5, what=f"{due} fired triggers")
    lags, fire_lags = _trigger_lags(bench, execution_id, due, scenario_started, timeout=120)
    tenant.org.delete(f"/program-executions/{execution_id}")
    ordered = sorted(lags)

    def pct(p: float, values: list[float] = ordered) -> float:
        return round(values[min(len(values) - 1, int(p / 100 * len(values)))], 3)

    fired = sorted(fire_lags)

    rate = contacts / precompute
    return {
        "contacts": contacts, "triggers_created": created, "launch_with_precompute_seconds": round(precompute, 2),
        "precompute_rows_per_second": round(rate), "raw_copy_rows_per_second": round(copy["rows_per_second"]),
        "precompute_ratio": round(rate / copy["rows_per_second"], 3),
        "due_in_one_virtual_minute": due, "clock_speed": speed, "dialed": len(lags),
        "lag_p50_seconds": pct(50), "lag_p99_seconds": pct(99), "lag_max_seconds": round(ordered[-1], 3),
        # Of which: from triggerAt to the trigger service firing it.
        "fire_lag_p50_seconds": pct(50, fired), "fire_lag_p99_seconds": pct(99, fired),
    }


def _trigger_lags(bench: Bench, execution_id: str, due: int, since: datetime,
                  timeout: float) -> tuple[list[float], list[float]]:
    """Real seconds from each fired trigger's triggerAt to its dial request (the DialRequested
    published by the orchestrator, read back from the DIAL stream), and to its firing."""
    system = bench.system
    with bench.db() as conn:
        rows = conn.execute("SELECT id, trigger_at, triggered_at FROM trigger.triggers "
                            "WHERE execution_id = %s AND status = 'triggered'", (execution_id,)).fetchall()
    trigger_at = {str(r[0]): r[1] for r in rows}
    fire_lags = [(r[2] - r[1]).total_seconds() / system.clock.speed for r in rows]

    async def read() -> dict[str, float]:
        nc = await jetstream.connect(system.nats_url, "bench-lag")
        js = nc.jetstream()
        found: dict[str, float] = {}
        config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_TIME, opt_start_time=since,
                                ack_policy=AckPolicy.NONE)
        sub = await js.pull_subscribe("dial.requested", stream="DIAL", config=config)
        deadline = time.monotonic() + timeout
        try:
            while len(found) < len(trigger_at) and time.monotonic() < deadline:
                try:
                    msgs = await sub.fetch(1000, timeout=2)
                except Exception:
                    continue
                for msg in msgs:
                    request = events_pb2.DialRequested.FromString(msg.data)
                    if request.execution_id != execution_id or request.attempt != 1:
                        continue
                    trigger_id = request.attempt_id.split(":")[1]
                    if trigger_id in trigger_at and trigger_id not in found:
                        lag = (parse_iso(request.requested_at) - trigger_at[trigger_id]).total_seconds()
                        found[trigger_id] = lag / system.clock.speed
        finally:
            await sub.unsubscribe()
            await nc.close()
        return found

    lags = asyncio.run(read())
    if len(lags) < due:
        raise RuntimeError(f"only {len(lags)} of {due} fired triggers were dialed")
    return list(lags.values()), fire_lags
