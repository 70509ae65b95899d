"""Charging a finished call: `ceil(talk/60)` credits for an answered call, 0 otherwise, once.

The account settles idempotently by reservation id, and the record says whether it was done
(`settled`), so a settlement that failed or was cut short is simply done again.
"""

from __future__ import annotations

from kernel import errors, logs
from services.dialer.adapters.call_results import CallResults
from services.dialer.adapters.peers import Accounts
from services.dialer.domain import attempts
from services.dialer.domain.attempts import CallRecord
from services.dialer.domain.billing import billable_minutes

log = logs.get("dialer.placement")


class Settlement:
    def __init__(self, *, calls: CallResults, accounts: Accounts):
        self._calls = calls
        self._accounts = accounts

    async def settle(self, record: CallRecord, *, unknown: bool = False) -> bool:
        """Charge the finished call; False when the account could not be reached (retry later).

        A call of unknown outcome keeps its reservation until the sweeper gives up waiting for
        its real result (`unknown`): a late answered call is then still charged."""
        if record.settled or not record.reservation_id or record.state != attempts.FINISHED:
            return True
        if record.outcome == attempts.UNKNOWN and not unknown:
            return True
        amount = billable_minutes(record.outcome == attempts.ANSWERED, record.talk_seconds)
        try:
            await self._accounts.settle(record.reservation_id, amount)
        except errors.DomainError as exc:
            if not isinstance(exc, errors.NotFoundError):
                log.warning("settlement failed; will retry",
                            extra={"attempt_id": record.attempt_id, "error": exc.name})
                return False
        await self._calls.mark_settled(record.attempt_id)
        return True
