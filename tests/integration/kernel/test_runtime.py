"""The service runtime: health, the error interceptor, and SIGTERM → NOT_SERVING → exit."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from kernel import errors
from outbound_cli.devservers import free_port
from tests.integration.kernel.mini_service import DidNotActiveError

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def mini():
    port = free_port()
    env = {**os.environ, "DRAIN_SECONDS": "1.5", "GRACE_SECONDS": "3",
           "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "gen")])}
    proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("mini_service.py")), str(port)], env=env)
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    health = health_pb2_grpc.HealthStub(channel)
    deadline = time.monotonic() + 30
    while True:
        try:
            if health.Check(health_pb2.HealthCheckRequest(), timeout=1).status == health_pb2.HealthCheckResponse.SERVING:
                break
        except grpc.RpcError:
            assert time.monotonic() < deadline, "mini service never became healthy"
            time.sleep(0.1)
    yield proc, channel, health
    channel.close()
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_domain_error_becomes_status_with_error_info(mini):
    _, channel, _ = mini
    fail = channel.unary_unary("/test.Probe/Fail")
    with pytest.raises(grpc.RpcError) as caught:
        fail(b"", timeout=5)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    err = errors.from_rpc_error(caught.value)
    assert isinstance(err, DidNotActiveError)
    assert err.field == "didPool[0]" and "not active" in err.message


def test_sigterm_reports_not_serving_then_exits_within_grace(mini):
    proc, channel, health = mini
    for service in ("", "test.Probe"):
        answer = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=2)
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
    slow = channel.unary_unary("/test.Probe/Slow").future(b"", timeout=10)
    time.sleep(0.2)  # the slow call is in flight when the signal lands
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    seen_not_serving = False
    while time.monotonic() - sent < 1.2:
        try:
            status = health.Check(health_pb2.HealthCheckRequest(service="test.Probe"), timeout=0.5).status
        except grpc.RpcError:
            break
        if status == health_pb2.HealthCheckResponse.NOT_SERVING:
            seen_not_serving = True
            break
        time.sleep(0.05)
    assert seen_not_serving, "health never reported NOT_SERVING during the drain"
    assert slow.result() == b"done", "an in-flight call was cut off by the shutdown"
    assert proc.wait(timeout=10) == 0
    # drain 1.5 s + grace 3 s is the budget; exiting inside it is the contract
    assert time.monotonic() - sent < 1.5 + 3 + 2
