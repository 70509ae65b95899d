"""What the call-safety fault tests share: the moment a call was forbidden from and the check that
none started after it (TOLERANCE_REAL for clock reading), requests still on their way, no attempt
lost to a request not placed, counters read while the fault runs, processes stalled for a while."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx

from kernel.timefmt import iso
from tests.faults.campaigns import (
    Campaign,
    call_records,
    check_campaign,
    db,
    execution_row,
    progress,
    wait_status,
)
from tests.support.campaigns import sum_holds
from tests.support.system import System, wait_progressing, wait_until

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


@contextlib.contextmanager
def held(system: System, name: str, at_least: float, instance: int = 0) -> Iterator[None]:
    """`name` stopped (SIGSTOP) for the whole body and at least `at_least` real seconds from entry:
    whatever the body gets answered, it got without `name`, however long a busy machine took."""
    began = time.monotonic()
    system.suspend(name, instance)
    try:
        yield
        time.sleep(max(0.0, at_least - (time.monotonic() - began)))
    finally:
        system.resume_process(name, instance)


def under_way(campaign: Campaign, done: int = 3) -> None:
    """Calls have finished and requests wait: the fault hits a campaign in full swing."""
    wait_until(lambda: (row := execution_row(campaign.system, campaign.execution_id))
               and row["contacts_completed"] >= done, message="calls finished")


def assert_requests_queued(campaign: Campaign) -> None:
    wait_until(lambda: queued_requests(campaign.system, campaign.execution_id) > 0,
               message="dial requests on their way when the fault starts")


def drained(campaign: Campaign, status: str) -> dict[str, Any]:
    """Calls under way finish as fast as the machine lets them: fail only once nothing moves."""
    return wait_progressing(lambda: execution_row(campaign.system, campaign.execution_id),
                            lambda row: row and row["status"] == status and row["contacts_in_progress"] == 0,
                            progress, message=f"{status}, nothing in progress\n{campaign.system.logs()}")


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


def check_safe_end(campaign: Campaign, *, status: str, exact: bool, after: datetime, until: datetime | None = None,
                   tolerance: bool = True, what: str) -> None:
    """How every call-safety test ends: no call started after `after` (until `until`), the fault
    tests' database checks, and no attempt lost to a request that was not placed."""
    assert_no_call_started(campaign.system, campaign.execution_id, after, until, tolerance=tolerance, what=what)
    check_campaign(campaign, status=status, exact=exact)
    check_no_attempt_lost(campaign.system, campaign.execution_id)
