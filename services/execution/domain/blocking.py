"""Why a contact is not being called now: the first rule that holds it, asked in one fixed order.

The order goes from the execution down to the contact: the execution not running (scheduled,
paused, ended), its stopAt (passed, or before the contact's next attempt), a pause window, the
contact's calling hours (campaign_rules.calling_hours, in every zone of the contact), the
organization's do-not-call list, its frequency cap (campaign_rules.contact_limits), credits that
cannot cover a call, the execution's concurrency limit, and the wait before a retry. Each is the
rule the orchestrator and the dialer apply (the same functions, asked with the same facts), so
the answer cannot disagree with what they do. Only a pending contact can be blocked; one in
progress, completed, failed or skipped is blocked by nothing (null).

Skipped contacts carry why: `dnc` when the claim found the number listed, else the execution's
ending (`cancelled`, or `stopped` for a stop or stopAt).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from campaign_rules.calling_hours import CallingHours, allowed
from campaign_rules.limits import CREDITS_PER_CALL
from campaign_rules.pause_windows import PauseWindows, is_paused
from services.execution.domain import contacts as ct
from services.execution.domain import status as st

EXECUTION_NOT_RUNNING = "execution_not_running"
STOP_AT = "stop_at"
PAUSE_WINDOW = "pause_window"
CALLING_HOURS = "calling_hours"
DNC = "dnc"
FREQUENCY_CAP = "frequency_cap"
CREDITS = "credits"
CONCURRENCY_LIMIT = "concurrency_limit"
RETRY_DELAY = "retry_delay"
REASONS = (EXECUTION_NOT_RUNNING, STOP_AT, PAUSE_WINDOW, CALLING_HOURS, DNC, FREQUENCY_CAP, CREDITS,
           CONCURRENCY_LIMIT, RETRY_DELAY)

# Why a contact was skipped.
SKIPPED_CANCELLED = "cancelled"
SKIPPED_STOPPED = "stopped"
SKIPPED_DNC = DNC
SKIPPED_REASONS = (SKIPPED_CANCELLED, SKIPPED_STOPPED, SKIPPED_DNC)


@dataclass(frozen=True)
class ExecutionFacts:
    status: str
    stop_at: datetime | None
    pause_windows: PauseWindows | None
    timezone: str
    calling_hours: CallingHours | None
    max_concurrent_calls: int
    contacts_in_progress: int
    credits_available: int | None  # None: not known (the account service did not answer)


@dataclass(frozen=True)
class ContactFacts:
    state: str
    next_attempt_at: datetime
    zones: tuple[str, ...]  # its zone key's zones; () when the execution has no calling hours
    listed: bool  # its number is on the organization's do-not-call list now
    cap_until: datetime | None  # the frequency cap holds it until then; None: it does not


def blocked_by(execution: ExecutionFacts, contact: ContactFacts, now: datetime) -> str | None:
    if contact.state != ct.PENDING:
        return None
    if execution.status != st.RUNNING:
        return EXECUTION_NOT_RUNNING
    stop_at = execution.stop_at
    if stop_at is not None and (stop_at <= now or contact.next_attempt_at >= stop_at):
        return STOP_AT
    if execution.pause_windows is not None and is_paused(execution.pause_windows, execution.timezone, now):
        return PAUSE_WINDOW
    if execution.calling_hours is not None and not allowed(execution.calling_hours, contact.zones, now):
        return CALLING_HOURS
    if contact.listed:
        return DNC
    if contact.cap_until is not None and contact.cap_until > now:
        return FREQUENCY_CAP
    if execution.credits_available is not None and execution.credits_available < CREDITS_PER_CALL:
        return CREDITS
    if execution.contacts_in_progress >= execution.max_concurrent_calls:
        return CONCURRENCY_LIMIT
    if contact.next_attempt_at > now:
        return RETRY_DELAY
    return None


def skipped_reason(state: str, stored: str | None, execution_status: str) -> str | None:
    """Why a skipped contact was skipped (None for any other state)."""
    if state != ct.SKIPPED:
        return None
    if stored in SKIPPED_REASONS:
        return stored
    return SKIPPED_CANCELLED if execution_status == st.CANCELLED else SKIPPED_STOPPED


def skipped_by(status: str, skipped: int, skipped_dnc: int) -> dict[str, int]:
    """The execution's skipped contacts per reason; they add up to contactsSkipped."""
    rest = skipped - skipped_dnc
    return {SKIPPED_CANCELLED: rest if status == st.CANCELLED else 0,
            SKIPPED_STOPPED: rest if status != st.CANCELLED else 0,
            SKIPPED_DNC: skipped_dnc}
