"""GET /api/programs/{id}/upcoming-triggers: how many contacts a live program will call per day.

The trigger service lists a program's triggers (newest execution first, then by triggerAt); this
route counts the pending ones per calendar day of the program's time zone, for `days` days from
today. A pending trigger already due is counted today (it fires at the next evaluation).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query
from pydantic import Field

from gateway.auth import clients, organization_id
from gateway.clients import Clients, call
from gateway.models import ApiResponse
from gateway.routes.triggers import ProgramNotFoundError
from kernel import errors, ids
from kernel.clock import get_clock
from kernel.timefmt import parse_iso
from outbound.program.v1 import program_pb2
from outbound.trigger.v1 import trigger_pb2

router = APIRouter(tags=["programs"])

PAGE = 1000
MAX_PAGES = 50  # 50 000 pending triggers read at most; `complete` says when there were more


class TriggerDay(ApiResponse):
    date: str = Field(description="Calendar day (YYYY-MM-DD) in the program's time zone")
    count: int = Field(description="Pending triggers due that day")


class UpcomingTriggersResponse(ApiResponse):
    timezone: str = Field(description="The program's time zone, in which the days are counted")
    days: list[TriggerDay] = Field(description="One entry per day from today, zero counts included")
    complete: bool = Field(description="false when there were more pending triggers than the route reads")


def per_day(instants: Iterable[datetime], now: datetime, days: int, zone: ZoneInfo) -> list[tuple[date, int]]:
    """Counts per local day from today for `days` days; instants before now count today."""
    today = now.astimezone(zone).date()
    last = today + timedelta(days=days - 1)
    counts: Counter[date] = Counter()
    for instant in instants:
        day = max(instant.astimezone(zone).date(), today)
        if day <= last:
            counts[day] += 1
    return [(today + timedelta(days=i), counts[today + timedelta(days=i)]) for i in range(days)]


@router.get("/programs/{program_id}/upcoming-triggers", response_model=UpcomingTriggersResponse,
            summary="Pending triggers of a live program per day")
async def upcoming_triggers(program_id: str, days: int = Query(14, ge=1, le=90, description="Days from today"),
                            org: str = Depends(organization_id),
                            stubs: Clients = Depends(clients)) -> UpcomingTriggersResponse:
    ids.parse(program_id, ProgramNotFoundError)
    program = await call(stubs.program.GetProgram, program_pb2.GetProgramRequest(
        organization_id=org, program_id=program_id, include_archived=True))
    if program.mode != "live":
        raise errors.BadRequestException("Program is not in live mode")
    zone = ZoneInfo(program.timezone or "UTC")
    now = get_clock().now()  # the shared (possibly virtual) clock the trigger service fires by
    horizon = now + timedelta(days=days + 1)
    instants: list[datetime] = []
    cursor, complete = "", False
    for _ in range(MAX_PAGES):
        answer = await call(stubs.trigger.ListTriggers, trigger_pb2.ListTriggersRequest(
            organization_id=org, program_id=program_id, status="pending", limit=PAGE, cursor=cursor))
        page = [parse_iso(t.trigger_at) for t in answer.triggers]
        instants.extend(page)
        cursor = answer.next_cursor
        # Listed by triggerAt within the live execution: past the horizon, the rest is too.
        if not cursor or (page and page[-1] > horizon):
            complete = True
            break
    return UpcomingTriggersResponse(timezone=zone.key, complete=complete, days=[
        TriggerDay(date=d.isoformat(), count=n) for d, n in per_day(instants, now, days, zone)])
