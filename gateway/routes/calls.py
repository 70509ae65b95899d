"""/api/program-executions/{id}/calls: the calls placed for an execution."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from gateway.auth import clients, organization_id
from gateway.clients import Clients, call
from gateway.models import ApiResponse
from gateway.paging import DEFAULT_LIMIT, Cursor, Limit, next_page
from outbound.dialer.v1 import dialer_pb2
from outbound.execution.v1 import execution_pb2

router = APIRouter(tags=["executions"])


class AmdResponse(ApiResponse):
    result: str  # human | machine | unknown
    decision_ms: int  # how long detection listened before deciding


class CallResponse(ApiResponse):
    id: str
    contact_id: str
    phone: str
    attempt: int
    did_number: str | None
    outcome: str
    started_at: str | None
    answered_at: str | None
    ended_at: str | None
    talk_seconds: int
    node_ids: list[str]
    sip_code: int | None  # the far end's final SIP status; None when unknown (simulated carrier)
    q850_cause: int | None  # Q.850 cause from the far end's Reason header; None when unknown
    amd: AmdResponse | None = None  # answering-machine detection; None when none ran


def _none(value: str) -> str | None:
    return value or None


@router.get("/program-executions/{execution_id}/calls", response_model=list[CallResponse])
async def list_execution_calls(execution_id: str, response: Response, limit: Limit = DEFAULT_LIMIT,
                               cursor: Cursor = None,
                               org: str = Depends(organization_id),
                               stubs: Clients = Depends(clients)) -> list[CallResponse]:
    """Finished calls of the execution in the order they were placed; `nodeIds` are the flow
    nodes run in the call; `amd` what answering-machine detection decided (null when none ran).
    The next page's cursor is in the `X-Next-Cursor` header."""
    # The execution must exist for this organization (ExecutionNotFoundError otherwise).
    await call(stubs.execution.GetExecution, execution_pb2.GetExecutionRequest(
        organization_id=org, execution_id=execution_id))
    answer = await call(stubs.dialer.ListCalls, dialer_pb2.ListCallsRequest(
        organization_id=org, execution_id=execution_id, page_size=limit, page_token=cursor or ""))
    next_page(response, answer.next_page_token)
    return [
        CallResponse(id=c.id, contact_id=c.contact_id, phone=c.phone, attempt=c.attempt,
                     did_number=_none(c.did_number), outcome=c.outcome, started_at=_none(c.started_at),
                     answered_at=_none(c.answered_at), ended_at=_none(c.ended_at), talk_seconds=c.talk_seconds,
                     node_ids=list(c.node_ids), sip_code=c.sip_code if c.HasField("sip_code") else None,
                     q850_cause=c.q850_cause if c.HasField("q850_cause") else None,
                     amd=AmdResponse(result=c.amd.result, decision_ms=c.amd.decision_ms) if c.HasField("amd") else None)
        for c in answer.calls
    ]
