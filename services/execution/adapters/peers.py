"""The services the execution context asks: program, dialer (DIDs, flows), audience, trigger, account.

Each call answers this context's own types; the peers' errors come back as domain errors
(kernel.rpc rebuilds them by name), recognised by name or base class, never by import.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from campaign_rules import (
    answering_machine,
    auto_pause,
    calling_hours,
    pause_windows,
    retry,
    trigger_condition,
)
from campaign_rules.contact_limits import ContactLimits
from campaign_rules.retry import RetryStrategy
from campaign_rules.trigger_condition import TriggerCondition
from kernel import rpc
from kernel.settings import Settings
from kernel.timefmt import parse_optional
from outbound.account.v1 import account_pb2, account_pb2_grpc
from outbound.audience.v1 import audience_pb2, audience_pb2_grpc
from outbound.dialer.v1 import dialer_pb2, dialer_pb2_grpc
from outbound.program.v1 import program_pb2, program_pb2_grpc
from outbound.trigger.v1 import trigger_pb2, trigger_pb2_grpc
from services.execution.domain.launch import ProgramSnapshot
from services.execution.domain.organization_limits import OrganizationLimits

# contact ids, phones, countries, time zones ("" where the contact has none)
ContactColumns = tuple[list[str], list[str], list[str], list[str]]


def _snapshot(program: program_pb2.Program) -> ProgramSnapshot:
    """The program's answer, its rules parsed with campaign_rules (the program validated them when
    it was written, with the same checks); a rule the program does not set is None (a retry
    strategy without a type: none)."""
    return ProgramSnapshot(
        id=program.id, organization_id=program.organization_id, status=program.status, mode=program.mode,
        audience_id=program.audience_id, flow_id=program.flow_id, timezone=program.timezone,
        start_at=parse_optional(program.start_at), stop_at=parse_optional(program.stop_at),
        did_ids=tuple(d.id for d in program.did_pool), max_concurrent_calls=program.max_concurrent_calls,
        retry_strategy=retry.from_proto(program.retry_strategy) if program.retry_strategy.type else RetryStrategy(),
        pause_windows=(pause_windows.from_proto(program.pause_windows)
                       if program.HasField("pause_windows") else None),
        auto_pause_rules=(auto_pause.from_proto(program.auto_pause_rules)
                          if program.HasField("auto_pause_rules") else None),
        trigger_condition=(trigger_condition.from_proto(program.trigger_condition)
                           if program.HasField("trigger_condition") else None),
        calling_hours=(calling_hours.from_proto(program.calling_hours)
                       if program.HasField("calling_hours") else None),
        answering_machine=(answering_machine.from_proto(program.answering_machine)
                           if program.HasField("answering_machine") else None))


class Peers:
    def __init__(self, settings: Settings):
        self._channels = rpc.Channels(settings)
        dialer = self._channels.open("dialer")
        self.programs = program_pb2_grpc.ProgramServiceStub(self._channels.open("program"))
        self.audiences = audience_pb2_grpc.AudienceServiceStub(self._channels.open("audience"))
        self.dids = dialer_pb2_grpc.DialerServiceStub(dialer)
        self.flows = dialer_pb2_grpc.FlowServiceStub(dialer)
        self.triggers = trigger_pb2_grpc.TriggerServiceStub(self._channels.open("trigger"))
        self.accounts = account_pb2_grpc.AccountServiceStub(self._channels.open("account"))

    async def close(self) -> None:
        await self._channels.close()

    # ------------------------------------------------------------ program

    async def program(self, organization_id: str, program_id: str) -> ProgramSnapshot:
        """The program as it is now (ProgramNotFoundError passes through)."""
        return _snapshot(await rpc.call(self.programs.GetProgram, program_pb2.GetProgramRequest(
            organization_id=organization_id, program_id=program_id)))

    async def mark_program_active(self, organization_id: str, program_id: str) -> str:
        """Mark the program active; answers its status (an archived program is answered unchanged)."""
        program = await rpc.call(self.programs.MarkProgramActive, program_pb2.MarkProgramActiveRequest(
            organization_id=organization_id, program_id=program_id))
        return str(program.status)

    async def listed_dnc(self, organization_id: str, phones: Sequence[str]) -> set[str]:
        """Those of the numbers on the organization's do-not-call list (one indexed lookup)."""
        if not phones:
            return set()
        answer = await rpc.call(self.audiences.CheckDnc, audience_pb2.CheckDncRequest(
            organization_id=organization_id, phones=list(phones)), timeout=10)
        return set(answer.listed)

    # ------------------------------------------------------------ dialer

    async def usable_dids(self, organization_id: str, did_ids: Sequence[str]) -> set[str]:
        """Those of the DIDs neither deleted nor inactive."""
        answer = await rpc.call(self.dids.ResolveDids, dialer_pb2.ResolveDidsRequest(
            organization_id=organization_id, did_ids=list(did_ids), validate=False))
        return {d.id for d in answer.dids if not d.deleted and d.status == "active"}

    async def flow_node_ids(self, organization_id: str, flow_id: str) -> set[str]:
        flow = await rpc.call(self.flows.GetFlow, dialer_pb2.GetFlowRequest(
            organization_id=organization_id, flow_id=flow_id))
        return {node.id for node in flow.nodes}

    # ------------------------------------------------------------ account

    async def contact_limits(self, organization_id: str) -> ContactLimits | None:
        """The organization's frequency cap; None when it has none."""
        answer = await rpc.call(self.accounts.GetContactLimits,
                                account_pb2.GetContactLimitsRequest(organization_id=organization_id), timeout=5)
        if not answer.HasField("limits"):
            return None
        return ContactLimits(int(answer.limits.max_attempts), int(answer.limits.per_days))

    async def dispatch_limits(self, organization_ids: list[str]) -> dict[str, OrganizationLimits]:
        """The organizations' effective dispatch limits (defaults applied); unknown ids absent."""
        answer = await rpc.call(self.accounts.ListDispatchLimits,
                                account_pb2.ListDispatchLimitsRequest(organization_ids=organization_ids), timeout=2)
        return {i: OrganizationLimits(int(v.max_concurrent_calls), int(v.max_calls_per_second), int(v.weight))
                for i, v in answer.limits.items()}

    async def available_credits(self, organization_id: str) -> int:
        answer = await rpc.call(self.accounts.GetCredits,
                                account_pb2.GetCreditsRequest(organization_id=organization_id), timeout=5)
        return int(answer.credits.available)

    # ------------------------------------------------------------ trigger

    async def start_live(self, organization_id: str, program_id: str, execution_id: str, audience_id: str,
                         condition: TriggerCondition | None) -> None:
        request = trigger_pb2.StartLiveExecutionRequest(
            organization_id=organization_id, program_id=program_id, execution_id=execution_id,
            output_audience_id=audience_id)
        if condition is not None:
            request.trigger_condition.CopyFrom(trigger_condition.to_proto(condition))
        await rpc.call(self.triggers.StartLiveExecution, request)

    async def end_live(self, execution_id: str) -> None:
        await rpc.call(self.triggers.EndLiveExecution, trigger_pb2.EndLiveExecutionRequest(execution_id=execution_id))

    # ------------------------------------------------------------ audience

    async def stream_audience(self, organization_id: str, audience_id: str,
                              batch_size: int = 5000) -> AsyncIterator[ContactColumns]:
        """The audience's contacts, batch by batch, as columns: (contact ids, phones, countries, zones)."""
        request = audience_pb2.StreamAudienceContactsRequest(
            organization_id=organization_id, audience_id=audience_id, batch_size=batch_size, columnar=True)
        async for batch in rpc.stream(self.audiences.StreamAudienceContacts, request, timeout=600):
            if batch.contacts:  # a server that answers one ContactRef per contact
                yield ([c.contact_id for c in batch.contacts], [c.phone for c in batch.contacts],
                       [c.country for c in batch.contacts], [""] * len(batch.contacts))
            else:
                zones = list(batch.timezones) or [""] * len(batch.contact_ids)
                yield list(batch.contact_ids), list(batch.phones), list(batch.countries), zones
