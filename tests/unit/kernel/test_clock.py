import time
from datetime import UTC, datetime

import pytest

from kernel import settings
from kernel.clock import Clock


def test_virtual_time_runs_at_speed():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    clock = Clock(speed=60, start=start, anchor=time.time() - 2)
    elapsed = (clock.now() - start).total_seconds()
    assert 119 <= elapsed <= 130  # 2 real seconds (plus this test's own run time) at 60x


def test_processes_sharing_env_agree():
    clock = Clock(speed=100, start=datetime(2026, 3, 1, tzinfo=UTC))
    twin = Clock(speed=float(clock.env()["CLOCK_SPEED"]),
                 start=datetime.fromisoformat(clock.env()["CLOCK_START"].replace("Z", "+00:00")),
                 anchor=float(clock.env()["CLOCK_ANCHOR"]))
    assert abs((clock.now() - twin.now()).total_seconds()) < 0.5


def test_real_seconds_scale_down():
    assert Clock(speed=60).real_seconds(120) == pytest.approx(2.0)
    assert Clock(speed=1).real_seconds(-5) == 0.0


def test_speed_must_be_positive():
    with pytest.raises(ValueError):
        Clock(speed=0)


def test_default_clock_is_real_time():
    assert abs((Clock().now() - datetime.now(UTC)).total_seconds()) < 1


def test_a_child_reads_the_clock_its_launcher_set(monkeypatch):
    clock = Clock(speed=100, start=datetime(2026, 3, 1, tzinfo=UTC))
    for name, value in clock.env().items():
        monkeypatch.setenv(name, value)
    twin = Clock.from_settings(settings.load())
    assert twin.speed == 100
    assert abs((clock.now() - twin.now()).total_seconds()) < 0.5
