"""Applying what comes back: call results to their contacts, fired triggers to live executions.

A batch is one transaction: execution rows locked (ordered), then contact rows; each result
applies only to the attempt it names (the fence), counters move and auto-pause nodes are
counted in that same transaction; gates of executions it paused close after commit.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncEngine

from kernel import ids, logs
from kernel.clock import Clock
from services.execution.adapters import contacts, counters, executions, status_changes
from services.execution.adapters.call_gate import CallGates
from services.execution.adapters.contacts import ContactUpdate, LiveContact
from services.execution.adapters.node_counters import CountedCall
from services.execution.auto_pause_counting import AutoPauseCounting
from services.execution.domain import contacts as ct
from services.execution.domain import status as st
from services.execution.domain.launch import LIVE
from services.execution.domain.zones import zone_key_of

log = logs.get("execution.results")

NO_CREDITS = "no_credits"  # the reason of a call rejected for lack of credits


@dataclass(frozen=True)
class CallResult:
    attempt_id: str
    outcome: str
    reason: str
    node_ids: tuple[str, ...]  # the flow nodes the call ran (counted for auto-pause)
    reached: bool = False  # a voicemail whose message counts as reaching the contact


@dataclass(frozen=True)
class FiredTrigger:
    trigger_id: str
    execution_id: str
    organization_id: str
    contact_id: str
    phone: str
    country: str


class Results:
    def __init__(self, engine: AsyncEngine, counting: AutoPauseCounting, gates: CallGates, clock: Clock,
                 on_dispatchable: Callable[[], None] | None = None):
        self.engine = engine
        self.counting = counting
        self.gates = gates
        self.clock = clock
        # Called after results free capacity or fired triggers add contacts: the orchestrator of
        # this process dispatches at once instead of at its next tick (a hint; ticks still run).
        self.on_dispatchable = on_dispatchable

    def _hint_dispatch(self) -> None:
        if self.on_dispatchable is not None:
            self.on_dispatchable()

    async def apply_call_results(self, results: Sequence[CallResult]) -> None:
        """Apply a batch of call results in one transaction; late or repeated ones change nothing.

        A result applies to its contact while that attempt is in progress; a call's real result
        arriving after it was given up (unknown, or its lease given back) still applies while the
        contact has not been attempted again (contacts.late_result_applies)."""
        parsed = []
        for result in results:
            try:
                execution_id, ref, attempt = ct.parse_attempt_id(result.attempt_id)
            except ValueError:
                execution_id = ""
            if not ids.is_uuid(execution_id):
                log.error("call result with a malformed attempt id", extra={"attempt_id": result.attempt_id})
                continue
            parsed.append((execution_id, ref, attempt, result))
        if not parsed:
            return
        now = self.clock.now()
        async with self.engine.begin() as conn:
            locked = await executions.lock_executions(conn, {p[0] for p in parsed})
            rows = await contacts.lock_contacts(conn, sorted({(p[0], p[1]) for p in parsed}))
            # contact id → the update; several results for one contact in a batch make one update
            # from the row as read to where the last of them leaves it.
            updates: dict[int, ContactUpdate] = {}
            out_of_credits: set[str] = set()
            counted: dict[str, list[CountedCall]] = defaultdict(list)
            for execution_id, ref, attempt, result in parsed:
                contact = rows.get((execution_id, ref))
                execution = locked.get(execution_id)
                if contact is None or execution is None:
                    continue  # not ours
                state, outcome = contact.state, result.outcome
                current = state == ct.IN_PROGRESS and contact.attempt == attempt
                if not current and not ct.late_result_applies(state, contact.attempt, contact.last_outcome,
                                                              outcome, attempt):
                    continue  # fenced off: an old attempt, a duplicate, or attempted again since
                if outcome == ct.REJECTED and result.reason == NO_CREDITS:
                    decision = ct.given_back(attempt, execution.status, now)
                    out_of_credits.add(execution_id)
                elif outcome == ct.NOT_PLACED:
                    decision = ct.given_back(attempt, execution.status, now)
                else:
                    outcome = outcome if outcome in ct.CALL_OUTCOMES else "failed"
                    decision = ct.after_call(outcome, attempt, execution.retry_strategy, execution.status, now,
                                             result.reached)
                read = updates.get(contact.id) or ContactUpdate(
                    contact.id, contact.attempt, state, contact.last_outcome, state, 0, None, "")
                updates[contact.id] = replace(read, state=decision.state, attempt=decision.attempt,
                                              next_attempt_at=decision.next_attempt_at, outcome=outcome)
                if result.node_ids and execution.auto_pause_rules and st.is_active(execution.status):
                    counted[execution_id].append(CountedCall(result.attempt_id, result.node_ids))
                rows[(execution_id, ref)] = replace(contact, state=decision.state, attempt=decision.attempt,
                                                    last_outcome=outcome)
            applied = await contacts.apply_contact_updates(conn, list(updates.values()), now)
            if applied != len(updates):
                raise RuntimeError(f"fenced update applied {applied} of {len(updates)} locked rows")
            moves: dict[str, list[tuple[str, str]]] = defaultdict(list)
            for (execution_id, _), contact in rows.items():
                if (update := updates.get(contact.id)) is not None:
                    moves[execution_id].append((update.expected_state, update.state))
            await counters.apply_counter_deltas(conn, {e: ct.counter_deltas(m) for e, m in moves.items() if m}, now)
            await status_changes.mark_drained(conn, moves, now)
            paused: dict[str, int] = {}
            if out_of_credits:
                paused = await status_changes.add_credit_pause(conn, out_of_credits, now)
                for execution_id in paused:
                    log.info("execution paused: no credits", extra={"execution_id": execution_id})
            # Counted only once the fenced update has applied them, in this transaction.
            marks, paused_threshold = await self.counting.count(conn, locked, counted, now, defer=True)
        await self.gates.close_logged({**paused, **paused_threshold})
        self._hint_dispatch()
        await self.counting.forget(marks)

    async def on_triggers_fired(self, fired: Sequence[FiredTrigger]) -> None:
        """Fired triggers, in one transaction: each trigger's contact is added once to its live
        execution while that is active (a redelivered trigger changes nothing)."""
        valid = [f for f in fired if ids.is_uuid(f.execution_id)]
        if not valid:
            return
        now = self.clock.now()
        async with self.engine.begin() as conn:
            locked = await executions.lock_live_executions(conn, {f.execution_id for f in valid})
            accepted = [f for f in valid if (e := locked.get(f.execution_id)) is not None
                        and st.is_active(e.status) and e.mode == LIVE and e.organization_id == f.organization_id]
            # Zone keys only for executions with calling hours, from the number (one lookup each).
            keys = {e: zone_key_of(t.timezone) for e, t in locked.items() if t.has_calling_hours}
            live = [LiveContact(f.execution_id, f.trigger_id, f.contact_id, f.phone, f.country,
                                keys[f.execution_id](f.phone, "") if f.execution_id in keys else None)
                    for f in accepted]
            added = await contacts.insert_live_contacts(conn, live, now)
            await counters.count_live_contacts(conn, Counter(added), now)
            zones: dict[str, set[str]] = defaultdict(set)
            for contact in live:
                if contact.zone_key is not None:
                    zones[contact.execution_id].add(contact.zone_key)
            await executions.add_zone_keys(conn, zones)
        if added:
            self._hint_dispatch()
