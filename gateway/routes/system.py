"""GET /api/time: the shared clock, so clients see the same virtual time as the services."""

from fastapi import APIRouter

from gateway.models import ApiResponse
from kernel.clock import get_clock
from kernel.timefmt import iso

router = APIRouter(tags=["system"])


class TimeResponse(ApiResponse):
    now: str
    speed: float


@router.get("/time", response_model=TimeResponse)
async def get_time() -> TimeResponse:
    clock = get_clock()
    return TimeResponse(now=iso(clock.now()), speed=clock.speed)
