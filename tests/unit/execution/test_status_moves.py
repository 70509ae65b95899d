"""The transition table is what production obeys: every status change production makes is a
declared Move, the Moves are exactly the table's transitions, each use case's compare-and-set
takes its Move, and no status or contact state is typed by hand into the SQL."""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from campaign_rules.auto_pause import AutoPauseRule
from campaign_rules.retry import RetryStrategy
from kernel import errors
from services.execution import auto_pause_counting, launch, lifecycle, orchestrator, outbox
from services.execution.adapters import contacts, executions, status_changes
from services.execution.adapters import outbox as outbox_sql
from services.execution.adapters.executions import ExecutionRow, LockedExecution
from services.execution.adapters.node_counters import CountedCall
from services.execution.domain import auto_pause as ap
from services.execution.domain import contacts as ct
from services.execution.domain import status as st

NOW = datetime(2025, 12, 22, 10, 0, tzinfo=UTC)
ID = "7d3c9a3e-0c4e-4b8e-9a55-3f1f0a1b2c3d"


def edges(moves):
    return {(source, m.target) for m in moves for source in m.sources}


def test_production_moves_are_exactly_the_table():
    assert edges(st.MOVES) == {(s, t) for s, targets in st.TRANSITIONS.items() for t in targets}


def test_a_move_the_table_lacks_is_refused():
    with pytest.raises(ValueError):
        st.move(st.PAUSED, st.SCHEDULED)
    with pytest.raises(ValueError):
        st.PAUSE.only(st.PAUSED)
    assert st.RESUME.only(st.PAUSED_THRESHOLD) == st.Move((st.PAUSED_THRESHOLD,), st.RUNNING)


@pytest.mark.parametrize("status", st.PAUSED_STATES)
@pytest.mark.parametrize("credits", [None, 0, 5])
def test_a_resume_moves_from_the_status_read_only(status, credits):
    plan = ap.plan_resume(status, None, None, credits)
    expected = st.RESUME_SHORT if credits == 0 else st.RESUME
    assert plan.move == expected.only(status)


NAMES = "|".join(sorted({*st.ALL, *ct.STATES}, key=len, reverse=True))


def test_no_status_or_state_is_typed_into_the_sql():
    root = Path(st.__file__).parents[1]
    for path in root.rglob("*.py"):
        if "migrations" in path.parts:
            continue  # the DDL: partial indexes and CHECKs name the states as they were then
        found = re.findall(rf"'({NAMES})'", path.read_text())
        assert not found, f"{path.relative_to(root)}: {found}"


# ---------------------------------------------------------------- the use cases' compare-and-sets


class FakeConn:
    def __init__(self):
        self.sql: list[str] = []

    async def execute(self, statement, params=None):
        self.sql.append(str(statement))
        return []


class FakeEngine:
    def __init__(self):
        self.conn = FakeConn()

    @contextlib.asynccontextmanager
    async def begin(self):
        yield self.conn

    connect = begin


class Gates:
    async def close_logged(self, versions):
        pass


class Clock:
    speed = 1.0

    def now(self):
        return NOW


def row(status: str) -> ExecutionRow:
    return ExecutionRow(
        id=ID, organization_id="org", program_id="p", audience_id="a", flow_id="f", mode="batch", status=status,
        timezone="UTC", did_pool=("d",), retry_strategy=RetryStrategy(), pause_windows=None,
        auto_pause_rules=None, trigger_condition=None, max_concurrent_calls=1, total_contacts=0,
        contacts_completed=0, contacts_failed=0, contacts_pending=0, contacts_in_progress=0, contacts_skipped=0,
        scheduled_start_at=NOW, scheduled_stop_at=None, actual_start_at=None, actual_end_at=None,
        created_at=NOW, updated_at=NOW)


@pytest.fixture
def recorded(monkeypatch):
    """Every compare-and-set a use case makes, by Move; the adapters around it stubbed."""
    moves: list[st.Move] = []

    async def compare_and_set(conn, execution_id, move, now, **_):
        assert isinstance(move, st.Move) and edges([move]) <= edges(st.MOVES)
        moves.append(move)
        return 2

    async def nothing(*_, **__):
        return 0

    for module in (auto_pause_counting, launch, lifecycle, outbox):
        monkeypatch.setattr(module, "compare_and_set_status", compare_and_set)
    monkeypatch.setattr(status_changes, "compare_and_set_status", compare_and_set)
    monkeypatch.setattr(contacts, "skip_pending", nothing)
    monkeypatch.setattr(outbox_sql, "mark_notified", nothing)
    monkeypatch.setattr(executions, "discard_unconfirmed", nothing)
    return moves


async def test_pause_and_cancel_use_their_moves(recorded, monkeypatch):
    async def locked(conn, organization_id, execution_id, lock=False):
        return row(st.RUNNING)

    monkeypatch.setattr(executions, "get_execution", locked)
    use_case = lifecycle.Lifecycle(FakeEngine(), None, None, None, Gates(), Clock())
    await use_case.pause("org", ID)
    await use_case.cancel("org", ID)
    assert recorded == [st.PAUSE, st.CANCEL]


async def test_resume_uses_a_resume_move(recorded, monkeypatch):
    async def locked(conn, organization_id, execution_id, lock=False):
        return row(st.PAUSED)

    class Peers:
        async def available_credits(self, organization_id):
            return 0

    class Queries:
        async def get(self, organization_id, execution_id):
            return row(st.PAUSED)

    class Counting:
        async def forget(self, marks):
            pass

    monkeypatch.setattr(executions, "get_execution", locked)
    use_case = lifecycle.Lifecycle(FakeEngine(), Peers(), Queries(), Counting(), Gates(), Clock())
    await use_case.resume("org", ID)
    assert recorded == [st.RESUME_SHORT.only(st.PAUSED)]


async def test_a_fired_rule_uses_the_threshold_move(recorded):
    class Counters:
        async def count(self, request):
            return {ID: {"menu": 3}}

    counting = auto_pause_counting.AutoPauseCounting(FakeEngine(), Counters(), Gates(), Clock())
    locked = {ID: LockedExecution(ID, st.RUNNING, RetryStrategy(), (AutoPauseRule("menu", 3),))}
    counted = await counting.count(FakeConn(), locked, {ID: [CountedCall("a", ("menu",))]}, NOW, defer=True)
    assert recorded == [st.THRESHOLD_PAUSE] and counted.paused == {ID: 2}


async def test_stop_at_and_ended_launches_use_their_moves(recorded, monkeypatch):
    async def past_stop(conn, now):
        return [ID]

    class Peers:
        async def mark_program_active(self, organization_id, program_id):
            raise errors.NotFoundError()

    monkeypatch.setattr(executions, "lock_past_stop", past_stop)
    engine = FakeEngine()
    await orchestrator.Orchestrator(engine, None, Clock(), Gates(), None, None).stop_past_stop_at(NOW)
    with pytest.raises(errors.NotFoundError):
        await outbox.Outbox(engine, None, Peers(), None, Clock()).confirm_program(row(st.RUNNING))
    await launch.Launch(engine, None, None, Clock())._cancel_failed_live_launch(ID)
    assert recorded == [st.STOP, st.CANCEL, st.CANCEL]


async def test_bulk_changes_write_their_moves_as_sql():
    conn = FakeConn()
    await status_changes.start_due_scheduled(conn, NOW)
    await status_changes.complete_finished(conn, NOW)
    await status_changes.add_credit_pause(conn, [ID], NOW)
    start, complete, credit = conn.sql
    assert "SET status = 'running'" in start and "WHERE status IN ('scheduled')" in start
    assert "SET status = 'completed'" in complete and "WHERE status IN ('running')" in complete
    assert "SET status = 'paused_no_credits'" in credit and "status IN ('running')" in credit
