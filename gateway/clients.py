"""gRPC stubs of every service, and the one call wrapper that turns statuses into errors."""

from __future__ import annotations

from kernel import rpc
from kernel.rpc import call
from kernel.settings import Settings
from outbound.account.v1 import account_pb2_grpc
from outbound.audience.v1 import audience_pb2_grpc
from outbound.dialer.v1 import dialer_pb2_grpc
from outbound.execution.v1 import execution_pb2_grpc
from outbound.program.v1 import program_pb2_grpc
from outbound.trigger.v1 import trigger_pb2_grpc
from outbound.webhooks.v1 import webhooks_pb2_grpc

__all__ = ["Clients", "call"]


class Clients:
    def __init__(self, settings: Settings):
        self._channels = {
            name: rpc.channel(settings.address(name), settings, name)
            for name in ("account", "audience", "dialer", "program", "execution", "trigger", "webhooks")
        }
        self.account = account_pb2_grpc.AccountServiceStub(self._channels["account"])
        self.audience = audience_pb2_grpc.AudienceServiceStub(self._channels["audience"])
        self.dialer = dialer_pb2_grpc.DialerServiceStub(self._channels["dialer"])
        self.flows = dialer_pb2_grpc.FlowServiceStub(self._channels["dialer"])
        self.program = program_pb2_grpc.ProgramServiceStub(self._channels["program"])
        self.execution = execution_pb2_grpc.ExecutionServiceStub(self._channels["execution"])
        self.trigger = trigger_pb2_grpc.TriggerServiceStub(self._channels["trigger"])
        self.webhooks = webhooks_pb2_grpc.WebhookServiceStub(self._channels["webhooks"])

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()

