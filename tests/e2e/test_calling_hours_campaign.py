"""Contact-local calling hours end to end: three campaigns over New York, Los Angeles and Paris
numbers on one fast clock, read back through REST (call records and the contacts endpoint).

The campaign clock starts on Thursday 2026-01-15 at 05:30 UTC (00:30 in New York, 21:30 the day
before in Los Angeles, 06:30 in Paris): every zone is closed. In UTC on that day Paris (`fr_2023`)
opens at 09:00, breaks for lunch 12:00-13:00 and closes at 19:00; New York (`us_tcpa`) opens at
13:00 and Los Angeles at 16:00. The programs are launched as soon as the system is up, so each
zone's contacts wait for their own opening while the others are called. A third program holds its
Paris contacts behind a pause window until 10:30; its busy contact's retry, 95 minutes later, falls
in the Paris lunch break and must move to the reopening at 13:00.

Local hours are computed here with zoneinfo, not with the product's rules, so the two can disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from kernel.timefmt import iso, parse_iso
from tests.support.campaigns import Tenant, started
from tests.support.system import System, wait_until

pytestmark = pytest.mark.e2e

SPEED = 450  # 7.5 virtual minutes per real second: the day below plays out in under two minutes,
# and a slow start-up still launches well before the first opening (09:00, 28 s after the clock starts)
CLOCK_START = datetime(2026, 1, 15, 5, 30, tzinfo=UTC)  # a Thursday in winter: no DST change near
PARIS_OPENS = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)   # 10:00 in Paris
PAUSE_ENDS = datetime(2026, 1, 15, 10, 30, tzinfo=UTC)
PARIS_LUNCH = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)  # 13:00 in Paris, closed until 14:00
NY_OPENS = datetime(2026, 1, 15, 13, 0, tzinfo=UTC)     # 08:00 in New York; Paris reopens too
LA_OPENS = datetime(2026, 1, 15, 16, 0, tzinfo=UTC)     # 08:00 in Los Angeles
RETRY_MINUTES = 95  # from a first call at 10:30 or later: due in the Paris lunch break

NEW_YORK, LOS_ANGELES, PARIS = "America/New_York", "America/Los_Angeles", "Europe/Paris"

SIM_RULES = {
    "default": {"outcomes": ["answered"], "ringSeconds": 1, "talkSeconds": 5, "digits": []},
    "rules": [
        {"match": r"^\+1212777", "outcomes": ["busy"]},
        {"match": r"^\+33177", "outcomes": ["busy", "answered"]},
    ],
}


# --- local hours, as the law states them ---------------------------------------------------------

def us_tcpa(local: datetime) -> bool:
    return time(8) <= local.time() < time(21)


def fr_2023(local: datetime) -> bool:
    clock = local.time()
    return local.weekday() < 5 and (time(10) <= clock < time(13) or time(14) <= clock < time(20))


Rule = Callable[[datetime], bool]


def allowed(rule: Rule, zone: str, at: datetime) -> bool:
    return rule(at.astimezone(ZoneInfo(zone)))


def next_opening(rule: Rule, zone: str, at: datetime) -> datetime:
    """The first whole minute at or after `at` inside the rule's hours in `zone`."""
    minute = at.replace(second=0, microsecond=0)
    if minute < at:
        minute += timedelta(minutes=1)
    while not allowed(rule, zone, minute):
        minute += timedelta(minutes=1)
    return minute


# --- who is called -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Person:
    name: str
    phone: str
    zone: str                   # whose hours hold it: its own time zone, else its number's
    timezone: str | None = None  # the contact's own `timezone` field


US_PEOPLE = (
    Person("ny-1", "+12125550101", NEW_YORK),
    Person("ny-2", "+12125550102", NEW_YORK),
    Person("ny-busy", "+12127770101", NEW_YORK),  # busy; the program retries nothing: failed
    Person("la-1", "+12135550101", LOS_ANGELES),
    Person("la-2", "+12135550102", LOS_ANGELES),
    Person("ny-number-in-la", "+12125550190", LOS_ANGELES, timezone=LOS_ANGELES),
    Person("la-number-in-ny", "+12135550190", NEW_YORK, timezone=NEW_YORK),
)
PARIS_PEOPLE = (
    Person("paris-1", "+33145000001", PARIS),
    Person("paris-2", "+33145000002", PARIS),
)
PAUSED_PARIS_PEOPLE = (
    Person("paris-busy", "+33177000001", PARIS),  # busy, then answered on its retry
    Person("paris-3", "+33145000003", PARIS),
)


@dataclass
class Program:
    rule: Rule
    people: tuple[Person, ...]
    execution_id: str = ""
    by_contact: dict[str, Person] = field(default_factory=dict)  # contact id → person


@dataclass
class Campaign:
    """What the campaign showed at each step, read while it ran, asserted by the tests below."""

    launched_at: datetime
    us: Program
    paris: Program
    paused: Program
    at_launch: dict[str, dict[str, Any]]          # person name → contact view, US and paused Paris
    retry_waiting: dict[str, Any]                 # paris-busy after its busy first call
    after_ny_opened: dict[str, dict[str, Any]]    # US people once every New York one was called
    final: dict[str, dict[str, Any]]              # every person once the executions completed
    calls: dict[str, list[dict[str, Any]]]        # person name → its calls, by attempt

    def programs(self) -> tuple[Program, Program, Program]:
        return self.us, self.paris, self.paused


def contacts_of(tenant: Tenant, program: Program) -> dict[str, dict[str, Any]]:
    """The contacts endpoint's view of every contact of the program, by person name."""
    answer = tenant.org.get(f"/program-executions/{program.execution_id}/contacts", params={"limit": 1000})
    assert answer.status_code == 200, answer.text
    return {program.by_contact[view["contactId"]].name: view for view in answer.json()}


def start_program(tenant: Tenant, program: Program, **fields: Any) -> None:
    made = tenant.org.post("/audiences", json={"name": f"calling hours {program.people[0].name}"})
    assert made.status_code == 201, made.text
    audience_id = made.json()["id"]
    contacts = [{"phone": p.phone, **({"timezone": p.timezone} if p.timezone else {})} for p in program.people]
    answer = tenant.org.post("/contacts/bulk", json={"contacts": contacts, "audienceId": audience_id})
    assert answer.status_code == 201, answer.text
    program.by_contact = dict(zip(answer.json()["contactIds"], program.people, strict=True))
    created = tenant.program(audience_id, **fields)
    program.execution_id = tenant.launch(created["id"])


def still_before(system: System, instant: datetime, what: str) -> None:
    """The scenario's own premise (virtual time), not a claim about the machine's speed."""
    assert system.clock.now() < instant, f"{what} must be read before {iso(instant)}; the campaign clock is past it"


@pytest.fixture(scope="module")
def fast(system_factory: Callable[..., System]) -> System:
    return system_factory(clock_speed=SPEED, clock_start=iso(CLOCK_START), sim_rules=SIM_RULES)


@pytest.fixture(scope="module")
def campaign(fast: System) -> Campaign:
    tenant = Tenant(fast)
    us = Program(us_tcpa, US_PEOPLE)
    paris = Program(fr_2023, PARIS_PEOPLE)
    paused = Program(fr_2023, PAUSED_PARIS_PEOPLE)
    launched_at = fast.clock.now()
    still_before(fast, PAUSE_ENDS, "the launch")
    start_program(tenant, us, callingHours={"preset": "us_tcpa"})
    start_program(tenant, paris, callingHours={"preset": "fr_2023"})
    start_program(tenant, paused, callingHours={"preset": "fr_2023"},
                  retryStrategy={"type": "fixed_delay", "delayMinutes": RETRY_MINUTES, "maxRetries": 1},
                  pauseWindows={"advanced": [{"startAt": iso(CLOCK_START - timedelta(hours=1)),
                                              "endAt": iso(PAUSE_ENDS)}]})

    # The first dispatch pass moves every closed contact to its opening, hours past the launch
    # (or calls it, were its zone open: the tests below tell which).
    def deferred() -> dict[str, dict[str, Any]] | None:
        views = contacts_of(tenant, us)
        moved = all(v["state"] != "pending" or parse_iso(v["nextAttemptAt"]) > launched_at + timedelta(hours=1)
                    for v in views.values())
        return views if moved else None

    at_launch = {**wait_until(deferred, interval=0.1, message="the US contacts deferred"),
                 **contacts_of(tenant, paused)}
    still_before(fast, PAUSE_ENDS, "the contacts at launch")

    def busy_once() -> dict[str, Any] | None:
        view = contacts_of(tenant, paused)["paris-busy"]
        return view if (view["state"], view["attempts"], view["lastOutcome"]) == ("pending", 1, "busy") else None

    retry_waiting = wait_until(busy_once, interval=0.1, message="paris-busy back to pending after a busy call")
    still_before(fast, PARIS_LUNCH, "the busy contact waiting for its retry")

    def ny_called() -> dict[str, dict[str, Any]] | None:
        views = contacts_of(tenant, us)
        done = all(views[p.name]["state"] in ("completed", "failed") for p in US_PEOPLE if p.zone == NEW_YORK)
        return views if done else None

    after_ny_opened = wait_until(ny_called, interval=0.1, message="every New York contact called")
    still_before(fast, LA_OPENS, "the contacts after New York opened")

    final: dict[str, dict[str, Any]] = {}
    calls: dict[str, list[dict[str, Any]]] = {}
    for program in (us, paris, paused):
        tenant.wait_status(program.execution_id, "completed")
        final.update(contacts_of(tenant, program))
        for call in tenant.calls(program.execution_id):
            calls.setdefault(program.by_contact[call["contactId"]].name, []).append(call)
    for made in calls.values():
        made.sort(key=lambda c: c["attempt"])
    return Campaign(launched_at, us, paris, paused, at_launch, retry_waiting, after_ny_opened, final, calls)


def test_every_call_starts_inside_its_contacts_own_local_hours(campaign: Campaign) -> None:
    for program in campaign.programs():
        for person in program.people:
            made = campaign.calls.get(person.name, [])
            assert made, f"{person.name} was never called"
            for call in made:
                at = started(call)
                assert allowed(program.rule, person.zone, at), (
                    f"{person.name} called at {call['startedAt']}, {at.astimezone(ZoneInfo(person.zone))} local")


def test_open_zones_are_called_first_and_closed_ones_at_their_opening(campaign: Campaign) -> None:
    first_calls = {name: started(made[0]) for name, made in campaign.calls.items()}
    for program in campaign.programs():
        for person in program.people:
            opening = next_opening(program.rule, person.zone, campaign.launched_at)
            assert first_calls[person.name] >= opening, person.name
    # Every zone was closed at the launch: Paris opened first, then New York, then Los Angeles.
    # Each was called while the next one was still closed: nobody waited behind a closed zone.
    assert (next_opening(us_tcpa, NEW_YORK, campaign.launched_at),
            next_opening(us_tcpa, LOS_ANGELES, campaign.launched_at)) == (NY_OPENS, LA_OPENS)
    paris = [first_calls[p.name] for p in PARIS_PEOPLE]
    new_york = [first_calls[p.name] for p in US_PEOPLE if p.zone == NEW_YORK]
    los_angeles = [first_calls[p.name] for p in US_PEOPLE if p.zone == LOS_ANGELES]
    assert PARIS_OPENS <= min(paris) and max(paris) < NY_OPENS
    assert NY_OPENS <= min(new_york) and max(new_york) < LA_OPENS
    assert LA_OPENS <= min(los_angeles)
    # The pause window held its Paris contacts although Paris was open.
    assert min(first_calls[p.name] for p in PAUSED_PARIS_PEOPLE) >= PAUSE_ENDS


def test_a_retry_due_outside_the_hours_moves_to_the_next_opening(campaign: Campaign) -> None:
    first, retry = campaign.calls["paris-busy"]
    assert (first["attempt"], first["outcome"], retry["attempt"], retry["outcome"]) == (1, "busy", 2, "answered")
    due = parse_iso(first["endedAt"]) + timedelta(minutes=RETRY_MINUTES)
    assert not allowed(fr_2023, PARIS, due), f"the retry was due at {iso(due)}, inside the hours"
    reopening = next_opening(fr_2023, PARIS, due)
    assert reopening == NY_OPENS  # 14:00 in Paris, after lunch
    assert started(retry) >= reopening
    assert campaign.final["paris-busy"]["state"] == "completed"
    # Contacts without a retry: called once; the busy one without retries left is failed.
    for name, made in campaign.calls.items():
        if name != "paris-busy":
            assert [c["attempt"] for c in made] == [1], name
    assert [c["outcome"] for c in campaign.calls["ny-busy"]] == ["busy"]
    assert (campaign.final["ny-busy"]["state"], campaign.final["ny-busy"]["lastOutcome"]) == ("failed", "busy")


def test_contacts_endpoint_names_what_holds_each_contact(campaign: Campaign) -> None:
    for person in US_PEOPLE:
        view = campaign.at_launch[person.name]
        opening = NY_OPENS if person.zone == NEW_YORK else LA_OPENS
        assert (view["state"], view["attempts"], view["blockedBy"]) == ("pending", 0, "calling_hours"), view
        assert parse_iso(view["nextAttemptAt"]) == opening, (person.name, view)
    for person in PAUSED_PARIS_PEOPLE:
        view = campaign.at_launch[person.name]
        assert (view["state"], view["attempts"], view["blockedBy"]) == ("pending", 0, "pause_window"), view

    waiting = campaign.retry_waiting
    assert waiting["blockedBy"] == "retry_delay", waiting
    first = campaign.calls["paris-busy"][0]
    assert parse_iso(waiting["nextAttemptAt"]) >= parse_iso(first["endedAt"]) + timedelta(minutes=RETRY_MINUTES)

    for person in US_PEOPLE:
        view = campaign.after_ny_opened[person.name]
        if person.zone == NEW_YORK:
            assert view["blockedBy"] is None and view["nextAttemptAt"] is None, view
        else:
            assert (view["state"], view["blockedBy"]) == ("pending", "calling_hours"), view
            assert parse_iso(view["nextAttemptAt"]) == LA_OPENS, view

    for name, view in campaign.final.items():
        assert view["blockedBy"] is None and view["nextAttemptAt"] is None, (name, view)
        assert view["state"] == ("failed" if name == "ny-busy" else "completed"), (name, view)


def test_a_contacts_own_time_zone_holds_it_not_its_numbers(campaign: Campaign) -> None:
    # A New York number living in Los Angeles waits for 08:00 there, after the New York contacts.
    ny_number = campaign.after_ny_opened["ny-number-in-la"]
    assert (ny_number["attempts"], ny_number["blockedBy"]) == (0, "calling_hours")
    assert started(campaign.calls["ny-number-in-la"][0]) >= LA_OPENS
    # A Los Angeles number living in New York is called at 08:00 New York time, before LA opens.
    la_number = started(campaign.calls["la-number-in-ny"][0])
    assert NY_OPENS <= la_number < LA_OPENS
    assert not allowed(us_tcpa, LOS_ANGELES, la_number)
