"""/api/programs/{id}/launch, /api/programs/{id}/executions and /api/program-executions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Response
from pydantic import Field

from campaign_rules.public_json import contact_json, execution_detail_json, execution_json
from gateway.auth import clients, organization_id
from gateway.clients import Clients, call
from gateway.models import ApiModel, ApiResponse, AutoPauseRuleIn
from gateway.paging import DEFAULT_LIMIT, Cursor, Limit, next_page
from outbound.execution.v1 import execution_pb2 as pb
from outbound.program.v1 import program_pb2

router = APIRouter(tags=["executions"])


class ResumeExecutionRequest(ApiModel):
    auto_pause_rules: list[AutoPauseRuleIn] | None = Field(
        None, description="If provided, replaces the execution's auto-pause rules before resuming")


class AutoPauseRuleOut(ApiResponse):
    node_id: str
    threshold: int
    reset_on_resume: bool


class AutoPauseCounterOut(ApiResponse):
    node_id: str
    count: int = Field(description="Times the node has run in this execution's calls since the last reset")
    threshold: int


class PauseRuleOut(ApiResponse):
    node_id: str
    threshold: int
    count: int


class PauseReasonOut(ApiResponse):
    kind: str = Field(description="manual | threshold | credits")
    rule: PauseRuleOut | None = Field(description="threshold only: the rule that tripped, with its count "
                                                  "(null when the counters cannot be read)")
    until: str | None = Field(description="Always null: a pause lasts until the execution is resumed")


class HeldByOut(ApiResponse):
    kind: str = Field(description="pause_window")
    until: str | None = Field(description="When the pause window (and any window it runs into) ends")


class LaunchResponse(ApiResponse):
    execution_id: str


class ExecutionResponse(ApiResponse):
    id: str
    program_id: str
    organization_id: str
    audience_id: str
    flow_id: str
    status: str = Field(description="scheduled | running | paused | paused_no_credits | paused_threshold | "
                                    "completed | stopped | cancelled")
    total_contacts: int
    contacts_completed: int
    contacts_failed: int
    contacts_pending: int
    contacts_in_progress: int
    contacts_skipped: int = Field(description="Left uncalled by cancel or stopAt, or skipped because the "
                                              "number is on the do-not-call list; the five counters sum to "
                                              "totalContacts")
    contacts_skipped_by: dict[str, int] = Field(
        description="contactsSkipped per reason: cancelled, stopped, dnc (they add up to contactsSkipped)")
    scheduled_start_at: str
    scheduled_stop_at: str | None
    actual_start_at: str | None
    actual_end_at: str | None
    auto_pause_rules: list[AutoPauseRuleOut] | None
    created_at: str
    updated_at: str
    pause_reason: PauseReasonOut | None = Field(None, description="Why it is paused; null unless paused*")
    held_by: HeldByOut | None = Field(
        None, description="GET /api/program-executions/{id} only: a running execution held by a pause "
                          "window now; null otherwise")


class ExecutionDetailResponse(ExecutionResponse):
    auto_pause_counters: list[AutoPauseCounterOut] | None = Field(
        description="One counter per auto-pause rule ([] without rules) while the execution is active; "
                    "null once it has ended (counters are deleted) or when the counters cannot be read")


@router.post("/programs/{program_id}/launch", status_code=201, response_model=LaunchResponse)
async def launch_program(program_id: str, org: str = Depends(organization_id),
                         stubs: Clients = Depends(clients)) -> dict[str, str]:
    """Batch: snapshots the audience and starts calling (or waits for startAt). Live: starts the
    trigger evaluation; contacts are called as their triggers fire."""
    answer = await call(stubs.execution.LaunchProgram, pb.LaunchProgramRequest(
        organization_id=org, program_id=program_id))
    return {"executionId": answer.execution_id}


@router.get("/programs/{program_id}/executions", response_model=list[ExecutionResponse])
async def list_program_executions(program_id: str, response: Response, limit: Limit = DEFAULT_LIMIT,
                                  cursor: Cursor = None,
                                  org: str = Depends(organization_id),
                                  stubs: Clients = Depends(clients)) -> list[dict[str, Any]]:
    """Every execution of the program (archived programs included), newest first."""
    await call(stubs.program.GetProgram, program_pb2.GetProgramRequest(
        organization_id=org, program_id=program_id, include_archived=True))
    answer = await call(stubs.execution.ListExecutions, pb.ListExecutionsRequest(
        organization_id=org, program_id=program_id, limit=limit, cursor=cursor or ""))
    next_page(response, answer.next_cursor)
    return [execution_json(e) for e in answer.executions]


@router.get("/program-executions", response_model=list[ExecutionResponse])
async def list_active_executions(response: Response, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None,
                                 org: str = Depends(organization_id),
                                 stubs: Clients = Depends(clients)) -> list[dict[str, Any]]:
    """The organization's active executions (scheduled, running, paused*), newest first."""
    answer = await call(stubs.execution.ListExecutions, pb.ListExecutionsRequest(
        organization_id=org, active_only=True, limit=limit, cursor=cursor or ""))
    next_page(response, answer.next_cursor)
    return [execution_json(e) for e in answer.executions]


@router.get("/program-executions/{execution_id}", response_model=ExecutionDetailResponse)
async def get_execution(execution_id: str, org: str = Depends(organization_id),
                        stubs: Clients = Depends(clients)) -> dict[str, Any]:
    """The execution, with its auto-pause counters (how close each rule is to pausing it)."""
    execution = await call(stubs.execution.GetExecution, pb.GetExecutionRequest(
        organization_id=org, execution_id=execution_id))
    return execution_detail_json(execution)


@router.patch("/program-executions/{execution_id}/pause", response_model=ExecutionResponse)
async def pause_execution(execution_id: str, org: str = Depends(organization_id),
                          stubs: Clients = Depends(clients)) -> dict[str, Any]:
    """Only from running. Calls already queued finish; no new call starts until resumed."""
    return execution_json(await call(stubs.execution.PauseExecution, pb.PauseExecutionRequest(
        organization_id=org, execution_id=execution_id)))


@router.patch("/program-executions/{execution_id}/resume", response_model=ExecutionResponse)
async def resume_execution(execution_id: str, request: ResumeExecutionRequest | None = Body(None),
                           org: str = Depends(organization_id),
                           stubs: Clients = Depends(clients)) -> dict[str, Any]:
    """From paused, paused_no_credits or paused_threshold. autoPauseRules, when given, replace the rules
    (validated like the program's). Resuming from paused_threshold resets the counters of rules with
    resetOnResume; a counter left at or over its threshold pauses again on the next call that runs its
    node. When the available credits cannot cover one minute the answer is paused_no_credits."""
    message = pb.ResumeExecutionRequest(organization_id=org, execution_id=execution_id)
    if request is not None and request.auto_pause_rules is not None:
        message.auto_pause_rules.SetInParent()
        for rule in request.auto_pause_rules:
            message.auto_pause_rules.rules.add(node_id=rule.node_id, threshold=rule.threshold,
                                               reset_on_resume=rule.reset_on_resume)
    return execution_json(await call(stubs.execution.ResumeExecution, message))


@router.delete("/program-executions/{execution_id}", status_code=204, response_class=Response)
async def cancel_execution(execution_id: str, org: str = Depends(organization_id),
                           stubs: Clients = Depends(clients)) -> Response:
    """Pending contacts become skipped, calls already queued finish, the execution is cancelled."""
    await call(stubs.execution.CancelExecution, pb.CancelExecutionRequest(
        organization_id=org, execution_id=execution_id))
    return Response(status_code=204)


class ExecutionContactResponse(ApiResponse):
    contact_id: str
    phone: str
    state: str = Field(description="pending | in_progress | completed | failed | skipped")
    attempts: int = Field(description="Attempts placed or under way")
    last_outcome: str | None
    next_attempt_at: str | None = Field(description="When a pending contact is due next; null otherwise")
    blocked_by: str | None = Field(
        description="What holds a pending contact now, the first that applies of: execution_not_running, "
                    "stop_at, pause_window, calling_hours, dnc, frequency_cap, credits, concurrency_limit, "
                    "retry_delay; null when nothing holds it (or it is not pending)")
    skipped_reason: str | None = Field(description="For a skipped contact: cancelled, stopped or dnc")


@router.get("/program-executions/{execution_id}/contacts", response_model=list[ExecutionContactResponse])
async def list_execution_contacts(execution_id: str, response: Response, state: str | None = None,
                                  limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None,
                                  org: str = Depends(organization_id),
                                  stubs: Clients = Depends(clients)) -> list[dict[str, Any]]:
    """The execution's contacts (optionally of one `state`), each with why it is not being called now."""
    answer = await call(stubs.execution.ListExecutionContacts, pb.ListExecutionContactsRequest(
        organization_id=org, execution_id=execution_id, state=state or "", limit=limit, cursor=cursor or ""))
    next_page(response, answer.next_cursor)
    return [contact_json(c) for c in answer.contacts]


@router.get("/program-executions/{execution_id}/contacts/{contact_id}", response_model=ExecutionContactResponse)
async def get_execution_contact(execution_id: str, contact_id: str, org: str = Depends(organization_id),
                                stubs: Clients = Depends(clients)) -> dict[str, Any]:
    """One contact of the execution and why it is not being called now."""
    return contact_json(await call(stubs.execution.GetExecutionContact, pb.GetExecutionContactRequest(
        organization_id=org, execution_id=execution_id, contact_id=contact_id)))
