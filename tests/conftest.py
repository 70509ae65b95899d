"""Fixtures shared by the whole suite: real servers once per session, fresh state per test."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from outbound_cli.devservers import use_ports
from tests.support.infra import Infra
from tests.support.system import System

# Parallel workers (pytest-xdist: gw0, gw1) each hand out ports from a range of their own, apart
# from the kernel's ephemeral ports (32768 and up) and the blocks tests pick in 20000-29999.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if _WORKER.startswith("gw"):
    _first = 10_000 + 5_000 * int(_WORKER[2:])
    if _first + 5_000 > 20_000:
        raise RuntimeError("the suite runs on at most two parallel workers (make test: -n 2)")
    use_ports(range(_first, _first + 5_000))


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    root = Path(tempfile.mkdtemp(prefix="outbound-test-"))
    servers = Infra(root).start()
    yield servers
    servers.stop()


@pytest.fixture(scope="module")
def system_factory(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., System]]:
    """Start whole systems (all processes + gateway) with given clock, rules, replicas."""
    started: list[System] = []

    def start(services: list[str] | None = None, **options) -> System:
        workdir = tmp_path_factory.mktemp("system")
        system = System(infra, workdir, **options)
        started.append(system)
        try:
            return system.start(services)
        except Exception:
            print(system.logs())
            raise

    yield start
    for system in started:
        system.stop()


@pytest.fixture(scope="module")
def system(system_factory: Callable[..., System]) -> System:
    """One system per test module at 60× speed with the default (answer everything) carrier."""
    return system_factory(clock_speed=60)


# Modules that run one after another in a single worker (make test runs two): real-time SIP and
# media, processes stopped and killed on purpose, the browser, and campaigns whose assertions
# follow the fast clock closely (hours, shares, restarts) — alone, as a deployment would run them,
# they never compete with another system for the two cores. Every other module runs whole in
# one worker (its module-scoped system starts once), beside another module.
SERIAL = (
    "tests/faults/", "tests/browser/",
    "tests/e2e/test_sip_", "tests/integration/dialer/test_sip_", "tests/integration/dialer/test_capacity_beacon",
    "tests/integration/dialer/test_trunk_room_faults", "tests/integration/dialer/test_crash",
    "tests/e2e/test_calling_hours_campaign", "tests/e2e/test_fair_share", "tests/e2e/test_rolling_restart",
    "tests/e2e/test_replicas", "tests/e2e/test_executions_replicas", "tests/e2e/test_least_exposure",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = item.nodeid.split("::", 1)[0]
        group = "serial" if module.startswith(SERIAL) else module
        item.add_marker(pytest.mark.xdist_group(group))
