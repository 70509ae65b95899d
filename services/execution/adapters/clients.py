"""gRPC clients of the contexts the execution service calls."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from kernel import errors, rpc
from kernel.settings import Settings
from outbound.account.v1 import account_pb2_grpc
from outbound.audience.v1 import audience_pb2, audience_pb2_grpc
from outbound.dialer.v1 import dialer_pb2_grpc
from outbound.program.v1 import program_pb2_grpc
from outbound.trigger.v1 import trigger_pb2_grpc


class Clients:
    def __init__(self, settings: Settings):
        self._channels = {name: rpc.channel(settings.address(name))
                          for name in ("program", "audience", "dialer", "trigger", "account")}
        self.program = program_pb2_grpc.ProgramServiceStub(self._channels["program"])
        self.audience = audience_pb2_grpc.AudienceServiceStub(self._channels["audience"])
        self.dialer = dialer_pb2_grpc.DialerServiceStub(self._channels["dialer"])
        self.flows = dialer_pb2_grpc.FlowServiceStub(self._channels["dialer"])
        self.trigger = trigger_pb2_grpc.TriggerServiceStub(self._channels["trigger"])
        self.account = account_pb2_grpc.AccountServiceStub(self._channels["account"])

    async def stream_audience(self, organization_id: str, audience_id: str, batch_size: int = 5000
                              ) -> AsyncIterator[tuple[list[str], list[str], list[str]]]:
        """The audience's contacts, batch by batch, as columns: (contact ids, phones, countries)."""
        request = audience_pb2.StreamAudienceContactsRequest(
            organization_id=organization_id, audience_id=audience_id, batch_size=batch_size, columnar=True)
        try:
            async for batch in self.audience.StreamAudienceContacts(request, timeout=600):
                if batch.contacts:  # a server that answers one ContactRef per contact
                    yield ([c.contact_id for c in batch.contacts], [c.phone for c in batch.contacts],
                           [c.country for c in batch.contacts])
                else:
                    yield list(batch.contact_ids), list(batch.phones), list(batch.countries)
        except grpc.aio.AioRpcError as exc:
            raise errors.from_rpc_error(exc) from None

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
