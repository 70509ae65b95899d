"""Call records in PostgreSQL: the record of an attempt id decides whether a call happened.

One repository over call_records, its statements grouped by job: claims and leases
(call_claims), what became of each attempt and its settlement (call_results). The decision on a
repeated attempt id is the domain's (domain.attempts.decide_repeat); these only read and write rows.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from services.dialer.adapters.call_claims import CallClaims
from services.dialer.adapters.call_results import CallResults


class CallRepository(CallClaims, CallResults):
    def __init__(self, engine: AsyncEngine):
        CallClaims.__init__(self, engine)
        CallResults.__init__(self, engine)
