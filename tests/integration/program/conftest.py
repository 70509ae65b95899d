"""The program context's integration tests: stubs of the services they call, over the module's system."""

from __future__ import annotations

import pytest

from outbound.account.v1 import account_pb2_grpc
from outbound.audience.v1 import audience_pb2_grpc
from outbound.dialer.v1 import dialer_pb2_grpc
from outbound.program.v1 import program_pb2_grpc


@pytest.fixture(scope="module")
def stubs(system):
    channels = {name: system.channel(name) for name in ("account", "audience", "dialer", "program")}
    yield {
        "account": account_pb2_grpc.AccountServiceStub(channels["account"]),
        "audience": audience_pb2_grpc.AudienceServiceStub(channels["audience"]),
        "dids": dialer_pb2_grpc.DialerServiceStub(channels["dialer"]),
        "flows": dialer_pb2_grpc.FlowServiceStub(channels["dialer"]),
        "program": program_pb2_grpc.ProgramServiceStub(channels["program"]),
    }
    for channel in channels.values():
        channel.close()
