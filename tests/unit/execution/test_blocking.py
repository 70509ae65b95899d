"""Why a contact is not called: the first rule holding it, in the documented order, and the
skipped reasons; and the zone gate of calling hours (open keys with their closing, closed keys
with their opening)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from hypothesis import given
from hypothesis import strategies as hs

from campaign_rules.calling_hours import CallingHours, Window, allowed, next_opening
from campaign_rules.contact_zones import zone_key
from campaign_rules.pause_windows import PauseWindows, WeeklyWindow
from services.execution.domain import blocking
from services.execution.domain import contacts as ct
from services.execution.domain import status as st
from services.execution.domain.calling_hours_gate import closing, gate

# A Monday, 12:00 UTC = 08:00 in New York (EDT), 14:00 in Paris (CEST).
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
NINE_TO_FIVE = CallingHours("custom", {day: (Window(time(9, 0), time(17, 0)),)
                                       for day in ("monday", "tuesday", "wednesday", "thursday", "friday")})
NY, PARIS = ("America/New_York",), ("Europe/Paris",)


def execution(**changes) -> blocking.ExecutionFacts:
    base = dict(status=st.RUNNING, stop_at=None, pause_windows=None, timezone="UTC", calling_hours=None,
                max_concurrent_calls=10, contacts_in_progress=0, credits_available=1000)
    return blocking.ExecutionFacts(**{**base, **changes})


def contact(**changes) -> blocking.ContactFacts:
    base = dict(state=ct.PENDING, next_attempt_at=NOW, zones=PARIS, listed=False, cap_until=None)
    return blocking.ContactFacts(**{**base, **changes})


# Each reason with the facts that make it hold (and only it, beside those before it).
HOLDS = {
    blocking.EXECUTION_NOT_RUNNING: ({"status": st.PAUSED}, {}),
    blocking.STOP_AT: ({"stop_at": NOW - timedelta(minutes=1)}, {}),
    blocking.PAUSE_WINDOW: ({"pause_windows": PauseWindows(((WeeklyWindow(time(11, 0), time(13, 0)),), *((),) * 6))}, {}),
    blocking.CALLING_HOURS: ({"calling_hours": NINE_TO_FIVE}, {"zones": NY}),
    blocking.DNC: ({}, {"listed": True}),
    blocking.FREQUENCY_CAP: ({}, {"cap_until": NOW + timedelta(days=1)}),
    blocking.CREDITS: ({"credits_available": 0}, {}),
    blocking.CONCURRENCY_LIMIT: ({"contacts_in_progress": 10}, {}),
    blocking.RETRY_DELAY: ({}, {"next_attempt_at": NOW + timedelta(minutes=5)}),
}


def test_each_reason_alone_is_answered():
    assert blocking.blocked_by(execution(), contact(), NOW) is None
    for reason, (e, c) in HOLDS.items():
        assert blocking.blocked_by(execution(**e), contact(**c), NOW) == reason


@given(hs.sets(hs.sampled_from(list(HOLDS)), min_size=1))
def test_the_first_reason_in_the_documented_order_wins(reasons):
    e: dict = {}
    c: dict = {}
    for reason in reasons:
        e.update(HOLDS[reason][0])
        c.update(HOLDS[reason][1])
    expected = next(r for r in blocking.REASONS if r in reasons)
    assert blocking.blocked_by(execution(**e), contact(**c), NOW) == expected


def test_a_next_attempt_after_stop_at_is_held_by_stop_at():
    late = contact(next_attempt_at=NOW + timedelta(hours=2))
    assert blocking.blocked_by(execution(stop_at=NOW + timedelta(hours=1)), late, NOW) == blocking.STOP_AT
    assert blocking.blocked_by(execution(stop_at=NOW + timedelta(hours=3)), late, NOW) == blocking.RETRY_DELAY


@given(hs.sampled_from([ct.IN_PROGRESS, ct.COMPLETED, ct.FAILED, ct.SKIPPED]))
def test_a_contact_that_is_not_pending_is_held_by_nothing(state):
    assert blocking.blocked_by(execution(status=st.PAUSED), contact(state=state, listed=True), NOW) is None


def test_skipped_reasons_and_counts():
    assert blocking.skipped_reason(ct.SKIPPED, "dnc", st.CANCELLED) == "dnc"
    assert blocking.skipped_reason(ct.SKIPPED, None, st.CANCELLED) == "cancelled"
    assert blocking.skipped_reason(ct.SKIPPED, None, st.STOPPED) == "stopped"
    assert blocking.skipped_reason(ct.PENDING, None, st.STOPPED) is None
    assert blocking.skipped_by(st.CANCELLED, 5, 2) == {"cancelled": 3, "stopped": 0, "dnc": 2}
    assert blocking.skipped_by(st.RUNNING, 2, 2) == {"cancelled": 0, "stopped": 0, "dnc": 2}
    assert blocking.skipped_by(st.STOPPED, 4, 1) == {"cancelled": 0, "stopped": 3, "dnc": 1}


def test_the_gate_opens_paris_and_closes_new_york_until_its_opening():
    horizon = timedelta(hours=6)
    zones = gate(NINE_TO_FIVE, [zone_key(PARIS), zone_key(NY)], NOW, horizon)
    # Paris: open until 17:00 local = 15:00 UTC, within the horizon; New York opens at 09:00 EDT.
    assert zones.open == {zone_key(PARIS): datetime(2026, 6, 1, 15, 0, tzinfo=UTC)}
    assert zones.closed == {zone_key(NY): datetime(2026, 6, 1, 13, 0, tzinfo=UTC)}
    assert zones.valid_until == datetime(2026, 6, 1, 13, 0, tzinfo=UTC)
    assert zones.deadline(zone_key(PARIS)) == datetime(2026, 6, 1, 15, 0, tzinfo=UTC)
    assert zones.deadline(zone_key(NY)) is None and zones.deadline(None) is None


@given(hs.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1), timezones=hs.just(UTC)),
       hs.sampled_from([NY, PARIS, ("America/Los_Angeles", "America/New_York")]),
       hs.integers(min_value=1, max_value=600))
def test_a_closing_is_the_first_minute_not_allowed(now, zones, minutes):
    horizon = timedelta(minutes=minutes)
    if not allowed(NINE_TO_FIVE, zones, now):
        assert next_opening(NINE_TO_FIVE, zones, now) is not None
        return
    end = closing(NINE_TO_FIVE, zones, now, horizon)
    assert now < end <= now + horizon
    if end < now + horizon:
        assert not allowed(NINE_TO_FIVE, zones, end) and end.second == 0
        assert allowed(NINE_TO_FIVE, zones, end - timedelta(seconds=1))
