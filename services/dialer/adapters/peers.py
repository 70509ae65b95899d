"""The contexts the dialer asks: the account service, for credit reservations around each call.

The reservations and settlements of the calls in flight together go in one batch RPC (one
round trip, one transaction in the account service); each is answered as it would be alone.
"""

from __future__ import annotations

import grpc

from kernel import errors, rpc
from outbound.account.v1 import account_pb2, account_pb2_grpc
from services.dialer.adapters.batching import Coalescer


def _item_error(name: str, message: str) -> errors.DomainError:
    if name == errors.NotFoundError.name:
        return errors.NotFoundError(message)
    return errors.DomainError(message, name=name)


class Accounts:
    def __init__(self, address: str):
        self._channel: grpc.aio.Channel = rpc.channel(address)
        self._stub = account_pb2_grpc.AccountServiceStub(self._channel)
        self._reservations = Coalescer(self._reserve_batch, max_batch=1000)
        self._settlements = Coalescer(self._settle_batch, max_batch=1000)

    async def reserve(self, organization_id: str, reservation_id: str, amount: int) -> bool:
        return await self._reservations(account_pb2.ReserveCreditsRequest(
            organization_id=organization_id, reservation_id=reservation_id, amount=amount))

    async def _reserve_batch(self, items: list[account_pb2.ReserveCreditsRequest]) -> list[bool | Exception]:
        answer = await rpc.call(self._stub.ReserveCreditsBatch,
                                account_pb2.ReserveCreditsBatchRequest(items=items), timeout=10)
        return [_item_error(o.error, o.error_message) if o.error else o.reserved for o in answer.outcomes]

    async def settle(self, reservation_id: str, amount: int) -> int:
        return await self._settlements(account_pb2.SettleReservationRequest(
            reservation_id=reservation_id, amount=amount))

    async def _settle_batch(self, items: list[account_pb2.SettleReservationRequest]) -> list[int | Exception]:
        answer = await rpc.call(self._stub.SettleReservations,
                                account_pb2.SettleReservationsRequest(items=items), timeout=10)
        return [_item_error(o.error, o.error_message) if o.error else o.charged for o in answer.outcomes]

    async def close(self) -> None:
        await self._channel.close()
