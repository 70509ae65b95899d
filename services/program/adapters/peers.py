"""The services the program context asks: the dialer (DIDs, flows), audiences and executions."""

from __future__ import annotations

from collections.abc import Iterable

from campaign_rules.answering_machine import NodeStep
from campaign_rules.checks import fail
from kernel import errors, rpc
from kernel.settings import Settings
from outbound.audience.v1 import audience_pb2, audience_pb2_grpc
from outbound.dialer.v1 import dialer_pb2, dialer_pb2_grpc
from outbound.execution.v1 import execution_pb2, execution_pb2_grpc
from services.program.domain.model import DidItem

# Custom attributes read per ListAttributes call.
ATTRIBUTES_PAGE = 1000


class Peers:
    def __init__(self, settings: Settings):
        self._channels = rpc.Channels(settings)
        dialer = self._channels.open("dialer")
        audience = self._channels.open("audience")
        self.dids = dialer_pb2_grpc.DialerServiceStub(dialer)
        self.flows = dialer_pb2_grpc.FlowServiceStub(dialer)
        self.audiences = audience_pb2_grpc.AudienceServiceStub(audience)
        self.executions = execution_pb2_grpc.ExecutionServiceStub(self._channels.open("execution"))

    async def close(self) -> None:
        await self._channels.close()

    async def flow_nodes(self, organization_id: str, flow_id: str) -> dict[str, NodeStep]:
        """The nodes of the org's flow by id, in flow order, with their type and `next`; a missing
        flow is the request's fault (flowId)."""
        try:
            flow = await rpc.call(self.flows.GetFlow,
                                  dialer_pb2.GetFlowRequest(organization_id=organization_id, flow_id=flow_id))
        except (errors.NotFoundError, errors.ValidationError):
            raise fail("flowId", "no such flow in this organization") from None
        return {node.id: NodeStep(node.type, node.next) for node in flow.nodes}

    async def check_audience(self, organization_id: str, audience_id: str) -> None:
        try:
            await rpc.call(self.audiences.GetAudience,
                           audience_pb2.GetAudienceRequest(organization_id=organization_id, audience_id=audience_id))
        except (errors.NotFoundError, errors.ValidationError):
            raise fail("audienceId", "no such audience in this organization") from None

    async def attribute_types(self, organization_id: str) -> dict[str, str]:
        """slug → type of every custom attribute of the organization, read page by page (a paging
        reader, not a periodic loop): it ends at the last page, or if a token comes back unchanged."""
        types: dict[str, str] = {}
        token = ""
        while True:
            page = await rpc.call(self.audiences.ListAttributes, audience_pb2.ListAttributesRequest(
                organization_id=organization_id, page_size=ATTRIBUTES_PAGE, page_token=token))
            types.update({a.slug: a.type for a in page.attributes})
            if not page.next_page_token or page.next_page_token == token:
                return types
            token = page.next_page_token

    async def create_audience(self, organization_id: str, name: str, description: str) -> str:
        audience = await rpc.call(self.audiences.CreateAudience, audience_pb2.CreateAudienceRequest(
            organization_id=organization_id, name=name, description=description))
        return audience.id

    async def resolve_dids(self, organization_id: str, did_ids: Iterable[str], *,
                           validate: bool) -> dict[str, DidItem]:
        """With validate, the dialer's DidNotFound/NotActive/NotAccessible errors pass through unchanged.
        Without, DIDs deleted or no longer accessible are left out."""
        ids = list(dict.fromkeys(did_ids))
        if not ids:
            return {}
        answer = await rpc.call(self.dids.ResolveDids, dialer_pb2.ResolveDidsRequest(
            organization_id=organization_id, did_ids=ids, validate=validate))
        return {d.id: DidItem(d.id, d.number, d.country) for d in answer.dids if not d.deleted}

    async def cancel_active_execution(self, organization_id: str, program_id: str) -> str:
        """Cancel the program's active execution; answers once its call gate is closed."""
        answer = await rpc.call(self.executions.CancelProgramExecution, execution_pb2.CancelProgramExecutionRequest(
            organization_id=organization_id, program_id=program_id))
        return answer.execution_id
