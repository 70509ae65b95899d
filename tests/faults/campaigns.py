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
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import psycopg

from kernel.timefmt import iso
from tests.support.campaigns import Tenant, serial, sum_holds
from tests.support.system import System, wait_until

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
    return psycopg.connect(system.database_url, autocommit=True, connect_timeout=3)


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


def wait_status(campaign: Campaign, *statuses: str, timeout: float = 90) -> dict[str, Any]:
    return wait_until(
        lambda: (row := execution_row(campaign.system, campaign.execution_id)) and row["status"] in statuses and row,
        timeout, message=f"execution {campaign.execution_id} in {statuses}\n{campaign.system.logs()}")


def wait_live_done(campaign: Campaign, timeout: float = 90) -> dict[str, Any]:
    """Every trigger of the live campaign joined the execution and reached a final state."""
    def done():
        row = execution_row(campaign.system, campaign.execution_id)
        return (row and row["total_contacts"] == campaign.mix.total and row["contacts_pending"] == 0
                and row["contacts_in_progress"] == 0 and row)
    return wait_until(done, timeout, message=f"live execution {campaign.execution_id} done\n{campaign.system.logs()}")


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
        assert attempts == sorted([1] * campaign.mix.answer + [MAX_ATTEMPTS] * (campaign.mix.retry + campaign.mix.never))

    charged = sum(math.ceil(r["talk_seconds"] / 60) for r in records if r["outcome"] == "answered")
    wait_until(lambda: _credits(system, organization_id), 60, message="credit reservations settled")
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


# ------------------------------------------------------------------ call safety (no call after a stop)

TOLERANCE_REAL = 0.5  # real seconds a call may start after the moment it was forbidden from


def forbidden_calls(system: System, execution_id: str, after: datetime, until: datetime | None = None, *,
                    tolerance: bool = True) -> list[tuple[str, datetime]]:
    """Calls of the execution handed to the carrier after `after` (plus TOLERANCE_REAL in virtual
    time when `tolerance`) and before `until`; started_at is virtual, like `after` and `until`."""
    slack = timedelta(seconds=TOLERANCE_REAL * system.clock.speed) if tolerance else timedelta(0)
    with db(system) as conn:
        rows = conn.execute("""
            SELECT attempt_id, started_at FROM dialer.call_records
            WHERE execution_id = %s AND started_at IS NOT NULL AND started_at >= %s
              AND (%s::timestamptz IS NULL OR started_at < %s) ORDER BY started_at""",
            (execution_id, after + slack, until, until)).fetchall()
    return [(r[0], r[1]) for r in rows]


def assert_no_call_started(system: System, execution_id: str, after: datetime, until: datetime | None = None,
                           *, tolerance: bool = True, what: str = "the stop") -> None:
    late = forbidden_calls(system, execution_id, after, until, tolerance=tolerance)
    assert late == [], (f"{len(late)} call(s) started after {what} at {iso(after)} "
                        f"(until {iso(until) if until else 'the end'}): {late[:10]}\n{system.logs()}")


def queued_requests(system: System, execution_id: str) -> int:
    """Contacts dispatched (in progress) whose call is not yet with the carrier: their dial request
    is waiting in the stream, in the dialer, or for a DID slot."""
    with db(system) as conn:
        return conn.execute("""
            SELECT count(*) FROM execution.execution_contacts c
            LEFT JOIN dialer.call_records r
              ON r.attempt_id = c.execution_id::text || ':' || c.contact_ref || ':' || c.attempt
            WHERE c.execution_id = %s AND c.state = 'in_progress'
              AND (r.state IS NULL OR r.state NOT IN ('placing', 'finished'))""", (execution_id,)).fetchone()[0]


def check_no_attempt_lost(system: System, execution_id: str) -> dict[str, int]:
    """Once nothing is in progress: every attempt a contact counts had exactly one finished call
    (attempts 1..attempt), whatever its state (a request not placed gave its attempt back); any
    other record is a not-placed one, never started. Answers the number of not-placed records."""
    with db(system) as conn:
        contacts = conn.execute("""
            SELECT contact_ref, state, attempt FROM execution.execution_contacts WHERE execution_id = %s""",
            (execution_id,)).fetchall()
        records = call_records(conn, execution_id)
    finished: dict[str, list[int]] = defaultdict(list)
    others: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        ref = record["attempt_id"].rsplit(":", 1)[0].split(":", 1)[1]
        (finished[ref] if record["state"] == "finished" else others[ref]).append(record)
    for ref, state, attempt in contacts:
        assert state != "in_progress", (ref, state, "check only once nothing is in progress")
        attempts = sorted(r["attempt"] for r in finished.get(ref, []))
        assert attempts == list(range(1, attempt + 1)), (ref, state, attempt, attempts, others.get(ref))
        for record in others.get(ref, []):
            assert record["started_at"] is None and record["attempt"] == attempt + 1, (ref, state, attempt, record)
    return {"not_placed": sum(1 for rs in others.values() for r in rs if r["outcome"] == "not_placed")}


class CounterWatch:
    """Reads the execution through the API every `interval` s on a thread of its own while the
    test runs; every read must show totalContacts equal to the sum of the five counters."""

    def __init__(self, campaign: Campaign, interval: float = 0.1):
        self.url = f"/program-executions/{campaign.execution_id}"
        self.http = httpx.Client(base_url=campaign.system.base_url + "/api", timeout=30,
                                 headers={"x-api-key": campaign.tenant.org.api_key})
        self.interval = interval
        self.reads = 0
        self.broken: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(httpx.HTTPError):
                answer = self.http.get(self.url)
                if answer.status_code == 200:
                    self.reads += 1
                    if not sum_holds(body := answer.json()):
                        self.broken.append(body)
            self._stop.wait(self.interval)

    def __enter__(self) -> CounterWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(35)
        self.http.close()
        if exc[0] is None:
            assert self.reads > 0, "the execution was never read"
            assert self.broken == [], f"counters not adding up to totalContacts: {self.broken[:3]}"


@contextlib.contextmanager
def stalled(system: System, name: str, seconds: float, instance: int = 0) -> Iterator[None]:
    """`name` stopped (SIGSTOP) for `seconds` real seconds from entry, continued by a timer: a request
    made in the body that waits on the stopped process is answered after it continues, not never."""
    system.suspend(name, instance)
    timer = threading.Timer(seconds, system.resume_process, (name, instance))
    timer.start()
    try:
        yield
    finally:
        timer.join()
        system.resume_process(name, instance)


def under_way(campaign: Campaign, done: int = 3) -> None:
    """Calls have finished and requests wait: the fault hits a campaign in full swing."""
    wait_until(lambda: (row := execution_row(campaign.system, campaign.execution_id))
               and row["contacts_completed"] >= done, 30, message="calls finished")


def assert_requests_queued(campaign: Campaign) -> None:
    wait_until(lambda: queued_requests(campaign.system, campaign.execution_id) > 0, 3,
               message="dial requests on their way when the fault starts")


def drained(campaign: Campaign, status: str) -> dict[str, Any]:
    return wait_until(lambda: (row := execution_row(campaign.system, campaign.execution_id))
                      and row["status"] == status and row["contacts_in_progress"] == 0 and row, 60,
                      message=f"{status}, nothing in progress\n{campaign.system.logs()}")


def pause(campaign: Campaign) -> datetime:
    answer = campaign.tenant.org.patch(f"/program-executions/{campaign.execution_id}/pause")
    ack = campaign.system.now()
    assert answer.status_code == 200 and answer.json()["status"] == "paused", answer.text
    return ack


def cancel(campaign: Campaign) -> datetime:
    answer = campaign.tenant.org.delete(f"/program-executions/{campaign.execution_id}")
    ack = campaign.system.now()
    assert answer.status_code == 204, answer.text
    return ack


def resume_to_completion(campaign: Campaign) -> datetime:
    """Resumes the paused campaign; answers the (virtual) moment just before the request."""
    before = campaign.system.now()
    answer = campaign.tenant.org.patch(f"/program-executions/{campaign.execution_id}/resume")
    assert answer.status_code == 200 and answer.json()["status"] == "running", answer.text
    wait_status(campaign, "completed")
    return before


def placing(system: System, execution_id: str) -> int:
    with db(system) as conn:
        return conn.execute("SELECT count(*) FROM dialer.call_records WHERE execution_id = %s AND state = 'placing'",
                            (execution_id,)).fetchone()[0]
