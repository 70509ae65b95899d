"""/api/flows: call flows (say / gather / transfer / hangup / optout graphs), immutable once created."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response
from pydantic import Field

from gateway.auth import clients, organization_id
from gateway.clients import Clients, call
from gateway.models import ApiModel, ApiResponse, Int32
from gateway.paging import DEFAULT_LIMIT, Cursor, Limit, next_page
from outbound.dialer.v1 import dialer_pb2

router = APIRouter(tags=["flows"])


class FlowNodeIn(ApiModel):
    id: str = Field(description="Unique within the flow; auto-pause rules name nodes by it")
    type: str = Field(description="say | gather | transfer | hangup | optout (says its text and puts the called "
                                  "number on the organization's do-not-call list)")
    text: str | None = Field(None, description="say: what is spoken (or audioId); optout: what is spoken (required)")
    next: str | None = Field(None, description="say, transfer: the node that follows; optout: the node that "
                                               "follows, optional (absent: the call ends)")
    prompt: str | None = Field(None, description="gather: what is spoken before listening (or audioId)")
    options: dict[str, str] | None = Field(None, description="gather: key pressed (0-9, *, #) → node id")
    timeout_seconds: Int32 | None = Field(None, description="gather: seconds to wait for a key, 1-120 (default 5)")
    no_input: str | None = Field(None, description="gather: node when no key or an unknown key is pressed")
    to: str | None = Field(None, description="transfer: E.164 number the call is transferred to")
    audio_id: str | None = Field(None, description="say, gather: an uploaded audio (POST /api/audio) played "
                                                   "instead of text / prompt; exactly one of the two")


class CreateFlowRequest(ApiModel):
    name: str
    start_node_id: str
    nodes: list[FlowNodeIn] = Field(description="At least one node; every path from the start ends at a hangup "
                                                "(or an optout without next)")


class FlowNodeOut(ApiResponse):
    id: str
    type: str
    text: str | None = None
    next: str | None = None
    prompt: str | None = None
    options: dict[str, str] | None = None
    timeout_seconds: int | None = None
    no_input: str | None = None
    to: str | None = None
    audio_id: str | None = None


class FlowResponse(ApiResponse):
    id: str
    organization_id: str
    name: str
    start_node_id: str
    nodes: list[FlowNodeOut]
    created_at: str


# The fields each node type carries in responses; the others are left out.
_NODE_FIELDS = {
    "say": ("text", "next"),
    "gather": ("prompt", "options", "timeout_seconds", "no_input"),
    "transfer": ("to", "next"),
    "hangup": (),
    "optout": ("text", "next"),
}
# A node that plays an uploaded audio shows audioId in place of its text or prompt.
_SPOKEN = {"say": "text", "gather": "prompt"}


def _node(node: dialer_pb2.FlowNode) -> dict[str, Any]:
    out: dict[str, Any] = {"id": node.id, "type": node.type}
    for name in _NODE_FIELDS.get(node.type, ()):
        value = getattr(node, name)
        if name == "next" and not value:
            continue  # an optout without next ends the call: no field rather than ""
        out[name] = dict(value) if name == "options" else value
    if node.audio_id and node.type in _SPOKEN:
        out.pop(_SPOKEN[node.type], None)
        out["audio_id"] = node.audio_id
    return out


def flow_json(flow: dialer_pb2.Flow) -> FlowResponse:
    return FlowResponse(id=flow.id, organization_id=flow.organization_id, name=flow.name,
                        start_node_id=flow.start_node_id, nodes=[FlowNodeOut(**_node(n)) for n in flow.nodes],
                        created_at=flow.created_at)


_RESPONSE = {"response_model": FlowResponse, "response_model_exclude_unset": True}


@router.post("/flows", status_code=201, **_RESPONSE)
async def create_flow(request: CreateFlowRequest, org: str = Depends(organization_id),
                      stubs: Clients = Depends(clients)) -> FlowResponse:
    """Create a flow. Node ids must be unique, every reference must name a node, and every
    path from the start node must end at a hangup or an optout without next (no loops)."""
    nodes = [
        dialer_pb2.FlowNode(id=n.id, type=n.type, text=n.text or "", next=n.next or "", prompt=n.prompt or "",
                            options=n.options or {}, timeout_seconds=n.timeout_seconds or 0,
                            no_input=n.no_input or "", to=n.to or "", audio_id=n.audio_id or "")
        for n in request.nodes
    ]
    flow = await call(stubs.flows.CreateFlow, dialer_pb2.CreateFlowRequest(
        organization_id=org, name=request.name, start_node_id=request.start_node_id, nodes=nodes))
    return flow_json(flow)


@router.get("/flows", response_model=list[FlowResponse], response_model_exclude_unset=True)
async def list_flows(response: Response, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None,
                     org: str = Depends(organization_id), stubs: Clients = Depends(clients)) -> list[FlowResponse]:
    """The organization's flows, oldest first. The next page's cursor is in the
    `X-Next-Cursor` header (absent on the last page)."""
    answer = await call(stubs.flows.ListFlows, dialer_pb2.ListFlowsRequest(
        organization_id=org, limit=limit, cursor=cursor or ""))
    next_page(response, answer.next_cursor)
    return [flow_json(f) for f in answer.flows]


@router.get("/flows/{flow_id}", **_RESPONSE)
async def get_flow(flow_id: str, org: str = Depends(organization_id),
                   stubs: Clients = Depends(clients)) -> FlowResponse:
    return flow_json(await call(stubs.flows.GetFlow, dialer_pb2.GetFlowRequest(organization_id=org,
                                                                                 flow_id=flow_id)))
