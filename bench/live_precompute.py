"""Live-mode launch cost: pre-compute triggers for 100,000 contacts and print the time it took.

    .venv/bin/python -m bench.live_precompute [--contacts 100000]

Starts real PostgreSQL, NATS and the account, audience and trigger services (the test harness),
imports the contacts, then times StartLiveExecution (stream the attribute values, COPY the triggers).
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from google.protobuf import struct_pb2

from kernel.timefmt import iso
from outbound.audience.v1 import audience_pb2, audience_pb2_grpc
from outbound.program.v1 import program_pb2
from outbound.trigger.v1 import trigger_pb2, trigger_pb2_grpc
from tests.support.infra import Infra
from tests.support.system import System

IMPORT_BATCH = 10_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=100_000)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="outbound-bench-"))
    infra = Infra(root).start()
    system = System(infra, root / "system", gateway=False)
    try:
        system.start(["account", "audience", "trigger"])
        org = system.create_org("bench")
        audience = audience_pb2_grpc.AudienceServiceStub(system.channel("audience"))
        trigger = trigger_pb2_grpc.TriggerServiceStub(system.channel("trigger"))
        audience.CreateAttribute(audience_pb2.CreateAttributeRequest(
            organization_id=org.id, name="due_date", slug="due_date", type="date"), timeout=30)

        base = datetime.now(UTC) + timedelta(days=30)
        started = time.perf_counter()
        for offset in range(0, args.contacts, IMPORT_BATCH):
            contacts = []
            for i in range(offset, min(offset + IMPORT_BATCH, args.contacts)):
                attrs = struct_pb2.Struct()
                attrs.update({"due_date": iso(base + timedelta(minutes=i))})
                contacts.append(audience_pb2.ContactInput(phone=f"+2126{i:08d}", name=f"Contact {i}",
                                                          attributes=attrs))
            audience.BulkImportContacts(audience_pb2.BulkImportContactsRequest(
                organization_id=org.id, contacts=contacts), timeout=300)
        print(f"imported {args.contacts} contacts in {time.perf_counter() - started:.1f}s")

        request = trigger_pb2.StartLiveExecutionRequest(
            organization_id=org.id, program_id=str(uuid.uuid4()), execution_id=str(uuid.uuid4()),
            trigger_condition=program_pb2.TriggerCondition(
                type="date", attribute_name="due_date", direction="before",
                offset=program_pb2.TriggerOffset(days=2, hours=15)))
        started = time.perf_counter()
        answer = trigger.StartLiveExecution(request, timeout=600)
        elapsed = time.perf_counter() - started
        print(f"pre-computed {answer.triggers_created} triggers in {elapsed:.2f}s "
              f"({answer.triggers_created / elapsed:,.0f} triggers/s)")
    finally:
        system.stop()
        infra.stop()


if __name__ == "__main__":
    main()
