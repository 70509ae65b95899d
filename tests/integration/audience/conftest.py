"""The audience context's integration tests: one audience service per module, over its stub."""

from __future__ import annotations

import pytest

from outbound.audience.v1 import audience_pb2_grpc


@pytest.fixture(scope="module")
def audience(system_factory):
    system = system_factory(services=["audience"], gateway=False)
    channel = system.channel("audience")
    yield system, audience_pb2_grpc.AudienceServiceStub(channel)
    channel.close()
