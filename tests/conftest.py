"""Fixtures shared by the whole suite: real servers once per session, fresh state per test."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.infra import Infra
from tests.support.system import System


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
