"""Campaigns the fault tests run, and the database checks every one of them ends with.

A campaign mixes three kinds of contacts (by phone prefix, see FAULT_RULES): answered at
once, answered on the third attempt after busy and no-answer, and never answered. With
three attempts allowed, a run in which no call is lost ends with exactly
ANSWER + RETRY contacts completed and NEVER contacts failed.
"""

from __future__ import annotations

import contextlib
import math
import random
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import psycopg

from kernel.timefmt import iso
from tests.support.campaigns import Tenant, serial
from tests.support.system import System, wait_progressing, wait_until

ANSWER, RETRY, NEVER = "9", "1", "2"
MAX_ATTEMPTS = 3
RETRIES = {"type": "fixed_delay", "delayMinutes": 1, "maxRetries": MAX_ATTEMPTS - 1}
TALK_SECONDS = 24  # one credit per answered call

FAULT_RULES = {
    "default": {"outcomes": ["answered"], "ringSeconds": 6, "talkSeconds": TALK_SECONDS, "digits": []},
    "rules": [
        {"match": r"^\+21261", "outcomes": ["busy", "no_answer", "answered"]},
        {"match": r"^\+21262", "outcomes": ["no_answer", "busy", "no_answer"]},
    ],
}

# Recovery within seconds rather than minutes: leases short, clock fast.
FAULT_ENV = {"LEASE_SECONDS": "3", "DIALER_CALL_LEASE_SECONDS": "2", "TRIGGER_PUBLISH_LEASE_SECONDS": "2",
             "DIALER_UNKNOWN_SETTLE_SECONDS": "2"}
CLOCK_SPEED = 120
CREDITS = 1_000_000

TERMINAL = ("completed", "cancelled", "stopped")


def fault_system(system_factory: Callable[..., System], **options: Any) -> System:
    env = {**FAULT_ENV, **options.pop("extra_env", {})}
    rules = options.pop("sim_rules", FAULT_RULES)
    return system_factory(clock_speed=CLOCK_SPEED, sim_rules=rules, extra_env=env, own_brokers=True,
                          **options)


def fault_rules(ring_seconds: float, talk_seconds: float) -> dict[str, Any]:
    """FAULT_RULES (same outcomes per phone prefix) with calls of another length, in virtual seconds."""
    default = {**FAULT_RULES["default"], "ringSeconds": ring_seconds, "talkSeconds": talk_seconds}
    return {"default": default, "rules": FAULT_RULES["rules"]}


@dataclass
class Mix:
    answer: int = 8
    retry: int = 5
    never: int = 3

    @property
    def total(self) -> int:
        return self.answer + self.retry + self.never

    def phones(self) -> list[str]:
        out = []
        for kind, n in ((ANSWER, self.answer), (RETRY, self.retry), (NEVER, self.never)):
            out += [f"+2126{kind}{next(serial):07d}" for _ in range(n)]
        random.shuffle(out)
        return out


@dataclass
class Campaign:
    tenant: Tenant
    execution_id: str
    program_id: str
    mix: Mix
    live: bool = False
    audience_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def system(self) -> System:
        return self.tenant.system


def batch_campaign(tenant: Tenant, mix: Mix | None = None, max_concurrent: int = 4,
                   retries: dict[str, Any] | None = None, **program: Any) -> Campaign:
    mix = mix or Mix()
    made = tenant.org.post("/audiences", json={"name": "fault campaign"})
    assert made.status_code == 201, made.text
    audience_id = made.json()["id"]
    answer = tenant.org.post("/contacts/bulk", json={
        "contacts": [{"phone": p} for p in mix.phones()], "audienceId": audience_id})
    assert answer.status_code == 201, answer.text
    created = tenant.program(audience_id, retryStrategy=retries or RETRIES, maxConcurrentCalls=max_concurrent,
                             **program)
    return Campaign(tenant, tenant.launch(created["id"]), created["id"], mix, audience_id=audience_id)


def live_campaign(tenant: Tenant, mix: Mix | None = None, spread_virtual_seconds: float = 300,
                  lead_virtual_seconds: float = 120) -> Campaign:
    """A live program whose triggers come due one after another over `spread` virtual seconds."""
    mix = mix or Mix()
    slug = f"due_{next(serial)}"
    made = tenant.org.post("/custom-attributes", json={"name": slug, "slug": slug, "type": "date"})
    assert made.status_code == 201, made.text
    phones = mix.phones()
    base = tenant.system.now() + timedelta(seconds=lead_virtual_seconds)
    step = spread_virtual_seconds / max(1, len(phones) - 1)
    contacts = [{"phone": p, "attributes": {slug: iso(base + timedelta(seconds=i * step))}}
                for i, p in enumerate(phones)]
    answer = tenant.org.post("/contacts/bulk", json={"contacts": contacts})
    assert answer.status_code == 201, answer.text
    program = tenant.org.post("/programs", json={
        "name": "Live fault campaign", "mode": "live", "flowId": tenant.flow_id,
        "triggerCondition": {"type": "date", "attributeName": slug, "direction": "after",
                             "offset": {"days": 0, "hours": 0, "minutes": 0}},
        "startAt": iso(tenant.system.now() - timedelta(minutes=1)), "didPool": [d.id for d in tenant.dids],
        "retryStrategy": RETRIES, "maxConcurrentCalls": 4})
    assert program.status_code == 201, program.text
    body = program.json()
    return Campaign(tenant, tenant.launch(body["id"]), body["id"], mix, live=True, audience_id=body["audienceId"])


# ------------------------------------------------------------------ reading the database

def db(system: System) -> psycopg.Connection:
    return psycopg.connect(system.database_url, autocommit=True, connect_timeout=30)


def execution_row(system: System, execution_id: str) -> dict[str, Any] | None:
    """The execution row, or None while the database cannot be reached (a fault under way)."""
    with contextlib.suppress(psycopg.Error), db(system) as conn:
        cur = conn.execute("SELECT * FROM execution.executions WHERE id = %s", (execution_id,))
        names = [d.name for d in cur.description]
        row = cur.fetchone()
        return dict(zip(names, row, strict=True)) if row else None
    return None


def assert_under_way(campaign: Campaign) -> None:
    """The fault must hit a running campaign with calls still to make; for a live run those include
    triggers not yet fired, which may all be ahead of it for a moment between two due dates."""
    row = execution_row(campaign.system, campaign.execution_id)
    to_fire = campaign.live and row["total_contacts"] < campaign.mix.total
    assert row["status"] == "running" and (to_fire or row["contacts_pending"] + row["contacts_in_progress"] > 0), \
        f"the fault must hit a campaign under way: {row}"


def progress(row: dict[str, Any] | None) -> tuple[Any, ...] | None:
    """What moves while a campaign runs (None while the database is out of reach)."""
    return row and (row["status"], row["total_contacts"], row["contacts_completed"], row["contacts_failed"],
                    row["contacts_pending"], row["contacts_in_progress"], row["contacts_skipped"])


def wait_status(campaign: Campaign, *statuses: str) -> dict[str, Any]:
    """A campaign runs as fast as the machine lets it: fail only once it stops moving."""
    return wait_progressing(
        lambda: execution_row(campaign.system, campaign.execution_id), lambda row: row and row["status"] in statuses,
        progress, message=f"execution {campaign.execution_id} in {statuses}\n{campaign.system.logs()}")


def wait_live_done(campaign: Campaign) -> dict[str, Any]:
    """Every trigger of the live campaign joined the execution and reached a final state."""
    def done(row):
        return (row and row["total_contacts"] == campaign.mix.total and row["contacts_pending"] == 0
                and row["contacts_in_progress"] == 0)
    return wait_progressing(lambda: execution_row(campaign.system, campaign.execution_id), done, progress,
                            message=f"live execution {campaign.execution_id} done\n{campaign.system.logs()}")


def in_flight(campaign: Campaign) -> bool:
    row = execution_row(campaign.system, campaign.execution_id)
    return bool(row and row["contacts_in_progress"] > 0)


def call_records(conn: psycopg.Connection, execution_id: str) -> list[dict[str, Any]]:
    cur = conn.execute("""
        SELECT attempt_id, contact_id, attempt, state, outcome, talk_seconds, reservation_id, settled,
               started_at, ended_at
        FROM dialer.call_records WHERE execution_id = %s""", (execution_id,))
    names = [d.name for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def check_campaign(campaign: Campaign, *, status: str, exact: bool = True) -> dict[str, Any]:
    """The database after a fault: no duplicate attempt, none over the limit, counters equal to
    the per-contact states, every attempt answered by exactly one finished call record, credits
    charged once per answered call and nothing left reserved; `exact` also demands the outcome
    of a run in which no call was lost."""
    system, execution_id = campaign.system, campaign.execution_id
    with db(system) as conn:
        ex = execution_row(system, execution_id)
        assert ex is not None and ex["status"] == status, ex
        states = dict(conn.execute("""
            SELECT state, count(*) FROM execution.execution_contacts WHERE execution_id = %s GROUP BY state""",
            (execution_id,)).fetchall())
        counters = {"completed": ex["contacts_completed"], "failed": ex["contacts_failed"],
                    "pending": ex["contacts_pending"], "in_progress": ex["contacts_in_progress"],
                    "skipped": ex["contacts_skipped"]}
        assert {k: v for k, v in counters.items() if v} == states, (counters, states)
        assert ex["total_contacts"] == sum(states.values()) == campaign.mix.total
        contacts = conn.execute("""
            SELECT contact_ref, contact_id, state, attempt FROM execution.execution_contacts
            WHERE execution_id = %s""", (execution_id,)).fetchall()
        live_per_contact = conn.execute("""
            SELECT contact_id FROM execution.execution_contacts WHERE execution_id = %s AND state = 'in_progress'
            GROUP BY contact_id HAVING count(*) > 1""", (execution_id,)).fetchall()
        assert live_per_contact == [], "a contact in two calls at once"
        records = call_records(conn, execution_id)
        organization_id = conn.execute("SELECT organization_id FROM execution.executions WHERE id = %s",
                                       (execution_id,)).fetchone()[0]

    attempt_ids = [r["attempt_id"] for r in records]
    assert len(attempt_ids) == len(set(attempt_ids)), "two call records for one attempt id"
    by_ref: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)
    for record in records:
        head, attempt = record["attempt_id"].rsplit(":", 1)
        ref = head.split(":", 1)[1]  # <execution>:<contact ref>:<attempt>
        assert int(attempt) == record["attempt"]
        assert record["attempt"] not in by_ref[ref], "two calls for one attempt of a contact"
        by_ref[ref][record["attempt"]] = record
    assert {c[0] for c in contacts} >= set(by_ref), "a call for a contact the execution does not hold"

    for ref, contact_id, state, attempt in contacts:
        calls = by_ref.get(ref, {})
        assert 1 <= attempt <= MAX_ATTEMPTS or state == "skipped", (ref, state, attempt)
        assert max(calls, default=0) <= MAX_ATTEMPTS
        if state in ("completed", "failed"):
            # Every attempt started got exactly one call, finished; none was lost or made twice.
            assert sorted(calls) == list(range(1, attempt + 1)), (ref, state, attempt, calls)
            assert all(c["state"] == "finished" for c in calls.values()), calls
            answered = [n for n, c in calls.items() if c["outcome"] == "answered"]
            if state == "completed":
                assert answered == [attempt], (ref, calls)
            else:
                assert answered == [] and attempt == MAX_ATTEMPTS, (ref, calls)
        assert all(c["contact_id"] == contact_id for c in calls.values())

    if exact:
        expected = {"completed": campaign.mix.answer + campaign.mix.retry, "failed": campaign.mix.never}
        assert (states.get("completed", 0), states.get("failed", 0)) == (expected["completed"], expected["failed"]), states
        attempts = sorted(len(by_ref[c[0]]) for c in contacts)
        expected_attempts = sorted([1] * campaign.mix.answer + [MAX_ATTEMPTS] * (campaign.mix.retry + campaign.mix.never))
        assert attempts == expected_attempts, (attempts, expected_attempts, {
            ref: [(n, c["outcome"]) for n, c in sorted(calls.items())] for ref, calls in by_ref.items()})

    charged = sum(math.ceil(r["talk_seconds"] / 60) for r in records if r["outcome"] == "answered")
    wait_until(lambda: _credits(system, organization_id), message="credit reservations settled")
    assert spent(system, organization_id) == charged, "each answered call charged exactly once"
    return {"execution": ex, "states": states, "records": records, "charged": charged}


def _credits(system: System, organization_id: str) -> bool:
    with contextlib.suppress(psycopg.Error), db(system) as conn:
        reserved = conn.execute("SELECT reserved FROM account.organizations WHERE id = %s",
                                (organization_id,)).fetchone()[0]
        held = conn.execute("SELECT count(*) FROM account.reservations WHERE organization_id = %s AND state = 'held'",
                            (organization_id,)).fetchone()[0]
        return reserved == 0 and held == 0
    return False


def spent(system: System, organization_id: str) -> int:
    with db(system) as conn:
        return CREDITS - conn.execute("SELECT balance FROM account.organizations WHERE id = %s",
                                      (organization_id,)).fetchone()[0]


def at_random_moment(rng: random.Random, low: float, high: float) -> float:
    """Sleep a random real time; answers it (shown in failures, to reproduce a seed)."""
    delay = rng.uniform(low, high)
    time.sleep(delay)
    return delay
