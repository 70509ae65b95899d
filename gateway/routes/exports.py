"""CSV exports of an execution: its calls and its contacts' final state, with the columns of the
JSON listings (/calls and /contacts), streamed a page at a time."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from campaign_rules.public_json import call_json, contact_json
from gateway.auth import clients, organization_id
from gateway.clients import Clients, call
from gateway.csv_stream import csv_response
from outbound.dialer.v1 import dialer_pb2
from outbound.execution.v1 import execution_pb2

router = APIRouter(tags=["executions"])

# Pages read from the services per round trip: large, the export is one long sequential read.
PAGE_SIZE = 1000

CALL_COLUMNS = ("id", "contactId", "phone", "attempt", "didNumber", "outcome", "startedAt", "answeredAt",
                "endedAt", "talkSeconds", "nodeIds", "sipCode", "q850Cause", "amdResult", "amdDecisionMs")
CONTACT_COLUMNS = ("contactId", "phone", "state", "attempts", "lastOutcome", "nextAttemptAt", "blockedBy",
                   "skippedReason")

_CSV: dict[int | str, dict[str, Any]] = {200: {"content": {"text/csv": {}}, "description": "CSV, UTF-8, with a header row"}}


def call_row(record: dialer_pb2.CallRecord) -> list[Any]:
    """The JSON call record flattened: `amd` becomes amdResult and amdDecisionMs."""
    fields = call_json(record)
    amd = fields.pop("amd") or {}
    fields.update(amdResult=amd.get("result"), amdDecisionMs=amd.get("decisionMs"))
    return [fields[c] for c in CALL_COLUMNS]


async def _execution(stubs: Clients, org: str, execution_id: str) -> None:
    # Checked before the first byte: an unknown id is a 404, not an empty file.
    await call(stubs.execution.GetExecution, execution_pb2.GetExecutionRequest(
        organization_id=org, execution_id=execution_id))


@router.get("/program-executions/{execution_id}/calls.csv", response_class=StreamingResponse, responses=_CSV)
async def export_execution_calls(execution_id: str, org: str = Depends(organization_id),
                                 stubs: Clients = Depends(clients)) -> StreamingResponse:
    """Every finished call of the execution as CSV, in the order they were placed, with the columns
    of the JSON call record (`nodeIds` joined with `|`, `amd` as amdResult and amdDecisionMs)."""
    await _execution(stubs, org, execution_id)

    async def page(cursor: str) -> tuple[Iterable[Sequence[Any]], str]:
        answer = await call(stubs.dialer.ListCalls, dialer_pb2.ListCallsRequest(
            organization_id=org, execution_id=execution_id, page_size=PAGE_SIZE, page_token=cursor))
        return [call_row(c) for c in answer.calls], answer.next_page_token

    return csv_response(f"execution-{execution_id}-calls.csv", CALL_COLUMNS, page)


@router.get("/program-executions/{execution_id}/contacts.csv", response_class=StreamingResponse, responses=_CSV)
async def export_execution_contacts(execution_id: str, org: str = Depends(organization_id),
                                    stubs: Clients = Depends(clients)) -> StreamingResponse:
    """Every contact of the execution with its state now (final once the execution has ended), with
    the columns of GET /program-executions/{id}/contacts."""
    await _execution(stubs, org, execution_id)

    async def page(cursor: str) -> tuple[Iterable[Sequence[Any]], str]:
        answer = await call(stubs.execution.ListExecutionContacts, execution_pb2.ListExecutionContactsRequest(
            organization_id=org, execution_id=execution_id, limit=PAGE_SIZE, cursor=cursor))
        return [[contact_json(c)[k] for k in CONTACT_COLUMNS] for c in answer.contacts], answer.next_cursor

    return csv_response(f"execution-{execution_id}-contacts.csv", CONTACT_COLUMNS, page)
