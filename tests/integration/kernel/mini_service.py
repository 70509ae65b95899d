"""A minimal service on the kernel's runtime, for testing the runtime itself.

Method /test.Probe/Fail raises a domain error; /test.Probe/Slow answers after a second;
/test.Probe/Started answers how many Slow calls have begun (so a test knows one is in flight).
"""

import asyncio
import sys

import grpc

from kernel import errors, logs
from kernel.grpc_server import ServiceRuntime
from kernel.settings import load

# A named error as a context declares one (its domain/errors.py), for the interceptor to carry.
DidNotActiveError = errors.named(errors.PreconditionError, "DidNotActiveError", "DID is not active")


async def fail(request: bytes, context) -> bytes:
    raise DidNotActiveError("DID +212500000001 is not active", field="didPool[0]")


slow_started = 0


async def slow(request: bytes, context) -> bytes:
    global slow_started
    slow_started += 1
    await asyncio.sleep(1.0)
    return b"done"


async def started(request: bytes, context) -> bytes:
    return str(slow_started).encode()


async def main(port: int) -> None:
    logs.configure("mini")
    runtime = ServiceRuntime("mini", load())
    runtime.server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("test.Probe", {
        "Fail": grpc.unary_unary_rpc_method_handler(fail),
        "Slow": grpc.unary_unary_rpc_method_handler(slow),
        "Started": grpc.unary_unary_rpc_method_handler(started),
    })])
    runtime.add_services(["test.Probe"])
    await runtime.run(port)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
