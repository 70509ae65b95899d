"""Two replicas of every service, as a cluster would run them, share one campaign of 2,000
contacts with retries and a pause/resume in the middle; the database then shows no attempt
dialled twice, no contact over its attempt limit, no overlapping calls of one contact and
counters equal to the per-contact states.

A second gateway talks to instance 1 of every service, so requests reach both replicas;
background loops and consumers run in all of them anyway."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest

from outbound_cli.devservers import free_port
from outbound_cli.serve import SERVICES
from outbound_cli.supervisor import wait_healthy
from tests.e2e.test_metrics import scrape, total
from tests.support.campaigns import (
    ALWAYS_BUSY,
    ANSWER,
    COUNTERS,
    RETRY_THEN_ANSWER,
    SIM_RULES,
    Tenant,
    serial,
    sum_holds,
)
from tests.support.system import HANG_GUARD_SECONDS, Org, System, wait_progressing

pytestmark = pytest.mark.e2e

COUNTER_OF_STATE = {"completed": "contacts_completed", "failed": "contacts_failed", "pending": "contacts_pending",
                    "in_progress": "contacts_in_progress", "skipped": "contacts_skipped"}


def assert_campaign_consistent(database_url: str, execution_id: str, max_attempts: int) -> dict[str, int]:
    """The invariants of a finished batch campaign, read from the services' own tables."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        execution = conn.execute("""
            SELECT status, total_contacts, contacts_completed, contacts_failed, contacts_pending,
                   contacts_in_progress, contacts_skipped
            FROM execution.executions WHERE id = %s""", (execution_id,)).fetchone()
        assert execution is not None
        status, totals = execution[0], dict(zip(["total_contacts", *COUNTER_OF_STATE.values()], execution[1:],
                                                strict=True))
        assert status == "completed", execution
        states = dict(conn.execute("""
            SELECT state, count(*) FROM execution.execution_contacts WHERE execution_id = %s GROUP BY state""",
                                   (execution_id,)).fetchall())
        # Counters equal the per-contact states.
        assert totals["total_contacts"] == sum(states.values())
        for state, counter in COUNTER_OF_STATE.items():
            assert totals[counter] == states.get(state, 0), (counter, totals, states)
        attempts = dict(conn.execute("""
            SELECT contact_ref, attempt FROM execution.execution_contacts WHERE execution_id = %s""",
                                     (execution_id,)).fetchall())
        # No contact with two calls for the same attempt.
        doubled = conn.execute("""
            SELECT contact_id, attempt, count(*) FROM dialer.call_records WHERE execution_id = %s
            GROUP BY contact_id, attempt HAVING count(*) > 1""", (execution_id,)).fetchall()
        assert doubled == []
        calls = dict(conn.execute("""
            SELECT contact_id, count(*) FROM dialer.call_records
            WHERE execution_id = %s AND state = 'finished' GROUP BY contact_id""", (execution_id,)).fetchall())
        unfinished = conn.execute("""
            SELECT count(*) FROM dialer.call_records WHERE execution_id = %s AND state <> 'finished'""",
                                  (execution_id,)).fetchone()[0]
        # Never two calls of one contact at once: each attempt starts after the previous one ended.
        overlapping = conn.execute("""
            SELECT count(*) FROM (
                SELECT started_at, lag(ended_at) OVER (PARTITION BY contact_id ORDER BY attempt) AS previous_end
                FROM dialer.call_records WHERE execution_id = %s AND state = 'finished') c
            WHERE started_at < previous_end""", (execution_id,)).fetchone()[0]
    # No contact over its attempt limit; every attempt started is exactly one finished call.
    assert max(attempts.values()) <= max_attempts
    assert max(calls.values()) <= max_attempts
    assert unfinished == 0 and overlapping == 0
    assert calls == attempts  # batch rows: contact_ref is the contact id
    return {**totals, "calls": sum(calls.values())}


def start_second_gateway(system: System) -> int:
    """A gateway whose service addresses are the instance-1 replicas; answers its port."""
    addresses = {f"{p.name.upper()}_ADDR": f"127.0.0.1:{p.port}" for p in system.group.procs
                 if p.instance == 1 and p.name != "gateway"}
    assert set(addresses) == {f"{name.upper()}_ADDR" for name in SERVICES}
    proc = system.group.start("gateway", instance=1, extra_env=addresses, port=free_port())
    wait_healthy(proc, HANG_GUARD_SECONDS)
    return proc.port


@pytest.fixture(scope="module")
def scaled(system_factory) -> System:
    return system_factory(clock_speed=120, sim_rules=SIM_RULES, replicas={name: 2 for name in SERVICES})


# Waits fail when the campaign stops moving; on a busy machine the whole test may take minutes.
@pytest.mark.timeout(4 * HANG_GUARD_SECONDS)
def test_two_replicas_of_every_service_run_one_campaign_safely(scaled: System):
    other_port = start_second_gateway(scaled)
    tenant = Tenant(scaled)
    via_a = tenant.org
    via_b = Org(via_a.id, via_a.api_key, httpx.Client(base_url=f"http://127.0.0.1:{other_port}/api", timeout=30,
                                                       headers={"x-api-key": via_a.api_key}))
    # Audience, program and launch through the second gateway: instance 1 of each service.
    tenant.org = via_b
    audience = tenant.audience(1600, ANSWER)
    for kind, count in ((RETRY_THEN_ANSWER, 300), (ALWAYS_BUSY, 100)):
        added = via_b.post("/contacts/bulk", json={
            "contacts": [{"phone": f"+2126{kind}{next(serial):07d}"} for _ in range(count)],
            "audienceId": audience})
        assert added.status_code == 201, added.text
    program = tenant.program(audience, maxConcurrentCalls=200,
                             retryStrategy={"type": "fixed_delay", "delayMinutes": 1, "maxRetries": 2})
    execution_id = tenant.launch(program["id"])

    def read(org: Org) -> dict[str, Any]:
        answer = org.get(f"/program-executions/{execution_id}")
        assert answer.status_code == 200, answer.text
        assert sum_holds(answer.json()), answer.json()
        return answer.json()

    def counts(execution: dict[str, Any]) -> tuple[int, ...]:
        return tuple(execution[c] for c in COUNTERS)

    wait_progressing(lambda: read(via_a), lambda e: e["contactsCompleted"] >= 400, counts,
                     message="a fifth of the campaign called")
    paused = via_b.patch(f"/program-executions/{execution_id}/pause")
    assert paused.status_code == 200 and paused.json()["status"] == "paused", paused.text
    # Queued calls finish; nothing new is claimed while paused.
    held = wait_progressing(lambda: read(via_a), lambda e: e["contactsInProgress"] == 0, counts,
                            message="calls under way finished while paused")
    assert held["status"] == "paused" and held["contactsPending"] > 0
    resumed = via_a.patch(f"/program-executions/{execution_id}/resume")
    assert resumed.status_code == 200 and resumed.json()["status"] == "running", resumed.text

    done = wait_progressing(lambda: read(via_b), lambda e: e["status"] == "completed", counts, message="completed")
    assert (done["totalContacts"], done["contactsCompleted"], done["contactsFailed"]) == (2000, 1900, 100)
    checked = assert_campaign_consistent(scaled.database_url, execution_id, max_attempts=3)
    assert checked["calls"] == 1600 + 300 * 3 + 100 * 3
    assert via_b.get(f"/program-executions/{execution_id}/calls", params={"limit": 10}).status_code == 200
    via_b.http.close()

    # Both replicas of the dialer placed calls and both orchestrators claimed work.
    for name in ("dialer", "execution"):
        replicas = [scrape(scaled.group.find(name, i).metrics_port) for i in (0, 1)]
        if name == "dialer":
            assert all(total(r, "outbound_calls_placed_total") > 0 for r in replicas)
            assert sum(total(r, "outbound_calls_placed_total") for r in replicas) == checked["calls"]
        else:
            assert all(total(r, "outbound_orchestrator_claim_seconds_count") > 0 for r in replicas)
    # Requests through the second gateway were served by instance 1.
    for name in ("account", "audience", "dialer", "program", "execution"):
        served = scrape(scaled.group.find(name, 1).metrics_port)
        assert total(served, "outbound_grpc_server_handling_seconds_count") > 0, name
