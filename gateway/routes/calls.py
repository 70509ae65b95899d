"""/api/program-executions/{id}/calls: the calls placed for an execution, and
/api/program-executions/{id}/call-stats: how many ended per time bucket and outcome."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import Field

from campaign_rules.public_json import call_json
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


@router.get("/program-executions/{execution_id}/calls", response_model=list[CallResponse])
async def list_execution_calls(execution_id: str, response: Response, limit: Limit = DEFAULT_LIMIT,
                               cursor: Cursor = None, order: Literal["placed", "newest"] = "placed",
                               org: str = Depends(organization_id),
                               stubs: Clients = Depends(clients)) -> list[dict[str, Any]]:
    """Finished calls of the execution in the order they were placed (`order=newest`: the last
    placed first); `nodeIds` are the flow
    nodes run in the call; `amd` what answering-machine detection decided (null when none ran).
    The next page's cursor is in the `X-Next-Cursor` header."""
    # The execution must exist for this organization (ExecutionNotFoundError otherwise).
    await call(stubs.execution.GetExecution, execution_pb2.GetExecutionRequest(
        organization_id=org, execution_id=execution_id))
    answer = await call(stubs.dialer.ListCalls, dialer_pb2.ListCallsRequest(
        organization_id=org, execution_id=execution_id, page_size=limit, page_token=cursor or "",
        newest_first=order == "newest"))
    next_page(response, answer.next_page_token)
    return [call_json(c) for c in answer.calls]


class CallStatsBucketResponse(ApiResponse):
    start: str = Field(description="Start of the bucket (a multiple of bucketSeconds since the Unix epoch)")
    total: int = Field(description="Calls that ended in [start, start + bucketSeconds)")
    outcomes: dict[str, int] = Field(description="Those calls per outcome (only outcomes that occurred)")


class CallStatsResponse(ApiResponse):
    bucket_seconds: int
    buckets: list[CallStatsBucketResponse] = Field(description="In order of start; buckets without calls are left out")


@router.get("/program-executions/{execution_id}/call-stats", response_model=CallStatsResponse)
async def execution_call_stats(execution_id: str,
                               bucket_seconds: int = Query(60, alias="bucketSeconds", ge=10, le=3600),
                               org: str = Depends(organization_id),
                               stubs: Clients = Depends(clients)) -> dict[str, Any]:
    """Finished calls of the execution counted per `bucketSeconds` (10-3600) of their end time and
    per outcome, computed by the database."""
    await call(stubs.execution.GetExecution, execution_pb2.GetExecutionRequest(
        organization_id=org, execution_id=execution_id))
    answer = await call(stubs.dialer.GetCallStats, dialer_pb2.GetCallStatsRequest(
        organization_id=org, execution_id=execution_id, bucket_seconds=bucket_seconds))
    return {"bucketSeconds": answer.bucket_seconds,
            "buckets": [{"start": b.start, "total": b.total, "outcomes": dict(b.outcomes)} for b in answer.buckets]}
