import time
from datetime import UTC, datetime, timedelta

import pytest

from kernel import settings
from kernel.clock import Clock


def test_virtual_time_runs_at_speed():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    anchor = time.time() - 2
    clock = Clock(speed=60, start=start, anchor=anchor)
    # Bracketed by real readings, not by a slack for this test's own run time (a busy machine's).
    before = time.time()
    elapsed = (clock.now() - start).total_seconds()
    after = time.time()
    assert (before - anchor) * 60 - 0.001 <= elapsed <= (after - anchor) * 60 + 0.001
    assert elapsed >= 120  # 2 real seconds at 60x


def test_processes_sharing_env_agree():
    clock = Clock(speed=100, start=datetime(2026, 3, 1, tzinfo=UTC))
    twin = Clock(speed=float(clock.env()["CLOCK_SPEED"]),
                 start=datetime.fromisoformat(clock.env()["CLOCK_START"].replace("Z", "+00:00")),
                 anchor=float(clock.env()["CLOCK_ANCHOR"]))
    assert_agree(clock, twin)


def test_real_seconds_scale_down():
    assert Clock(speed=60).real_seconds(120) == pytest.approx(2.0)
    assert Clock(speed=1).real_seconds(-5) == 0.0


def test_speed_must_be_positive():
    with pytest.raises(ValueError):
        Clock(speed=0)


def test_default_clock_is_real_time():
    clock = Clock()
    before = datetime.now(UTC)
    now = clock.now()
    after = datetime.now(UTC)
    assert before - timedelta(milliseconds=1) <= now <= after + timedelta(milliseconds=1)


def test_a_child_reads_the_clock_its_launcher_set(monkeypatch):
    clock = Clock(speed=100, start=datetime(2026, 3, 1, tzinfo=UTC))
    for name, value in clock.env().items():
        monkeypatch.setenv(name, value)
    twin = Clock.from_settings(settings.load())
    assert twin.speed == 100
    assert_agree(clock, twin)


def assert_agree(clock: Clock, twin: Clock) -> None:
    """The twin reads what the clock reads at the same real moment: between two readings of the
    clock taken around it (however long a busy machine takes between them), within rounding."""
    first, read, last = clock.now(), twin.now(), clock.now()
    assert first - timedelta(milliseconds=1) <= read <= last + timedelta(milliseconds=1)
