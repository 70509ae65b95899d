"""program.* events on JetStream (stream PROGRAMS)."""

from __future__ import annotations

from nats.js import JetStreamContext

from kernel import jetstream
from kernel.timefmt import iso
from outbound.program.v1 import events_pb2
from services.program.domain.model import Program


class ProgramEvents:
    def __init__(self, js: JetStreamContext):
        self._js = js

    async def archived(self, program: Program) -> None:
        # Same id for every republish: JetStream drops the copies inside its duplicate window,
        # and consumers treat a second copy as a no-op anyway.
        event = events_pb2.ProgramArchived(program_id=program.id, organization_id=program.organization_id,
                                           archived_at=iso(program.updated_at))
        await jetstream.publish(self._js, "program.archived", event.SerializeToString(),
                                f"program.archived:{program.id}")
