"""What the OpenAPI document declares beyond what FastAPI infers: each route's error names, the
HTTP status of every error name, the closed value sets (enums) of response fields, and examples.

Invariant: every route under /api has exactly one line in ROUTE_ERRORS (tests/e2e/test_openapi.py
names any route without one). A route lists only its own errors: ValidationError (400) for a route
with parameters or a body, PayloadTooLargeError (413) for a body, UnauthorizedError (401),
TooManyRequestsError (429) and ServiceUnavailableError (503) for a route that needs an API key
are added by gateway/openapi.py to every route they apply to.
"""

from __future__ import annotations

from typing import Any

# Error name → HTTP status (kernel/errors.py's gRPC code → HTTP table, by the name's base class).
STATUS_OF: dict[str, int] = {
    "ValidationError": 400,
    "BadRequestException": 400,
    "DidNotActiveError": 400,
    "DidNotAccessibleError": 400,
    "ExecutionAlreadyRunningError": 400,
    "AudienceEmptyError": 400,
    "EmptyDidPoolError": 400,
    "InvalidExecutionStateError": 400,
    "UnauthorizedError": 401,
    "NotFoundError": 404,
    "ProgramNotFoundError": 404,
    "ExecutionNotFoundError": 404,
    "ContactNotFoundError": 404,
    "AudienceNotFoundError": 404,
    "AttributeNotFoundError": 404,
    "DncEntryNotFoundError": 404,
    "DidNotFoundError": 404,
    "FlowNotFoundError": 404,
    "AudioNotFoundError": 404,
    "ImportNotFoundError": 404,
    "WebhookNotFoundError": 404,
    "ConflictError": 409,
    "ProgramStatusConflictError": 409,
    "IdempotencyKeyInUseError": 409,
    "PayloadTooLargeError": 413,
    "UnsupportedMediaTypeError": 415,
    "IdempotencyKeyReusedError": 422,
    "TooManyRequestsError": 429,
    "ServiceUnavailableError": 503,
}

# The spec's descriptions (programs-api-reference), used as the examples' messages.
MESSAGES: dict[str, str] = {
    "ValidationError": "Invalid request (missing fields, invalid format)",
    "BadRequestException": "The request is not allowed in the current state",
    "DidNotActiveError": "DID is not active",
    "DidNotAccessibleError": "DID is not available to this organization",
    "ExecutionAlreadyRunningError": "Program already has a running execution",
    "AudienceEmptyError": "Audience has no contacts (batch only)",
    "EmptyDidPoolError": "All DIDs have been deleted since program creation",
    "InvalidExecutionStateError": "Execution is not in a state that allows this",
    "UnauthorizedError": "Missing or invalid API key",
    "ProgramStatusConflictError": "Program status changed (concurrent operation)",
    "ConflictError": "Already exists",
    "PayloadTooLargeError": "Body larger than the limit",
    "UnsupportedMediaTypeError": "Content type not supported here",
    "TooManyRequestsError": "Rate limit exceeded for this API key",
    "ServiceUnavailableError": "Service unavailable, try again",
    "IdempotencyKeyInUseError": "A request with this Idempotency-Key is still running",
    "IdempotencyKeyReusedError": "This Idempotency-Key was used with another body",
}

_PROGRAM = ("ProgramNotFoundError",)
_EXECUTION = ("ExecutionNotFoundError",)
_DIDS = ("DidNotFoundError", "DidNotActiveError", "DidNotAccessibleError")

# "METHOD /api/path" → the route's own error names (one line per route).
ROUTE_ERRORS: dict[str, tuple[str, ...]] = {
    "POST /api/custom-attributes": ("ConflictError",),
    "GET /api/custom-attributes": (),
    "POST /api/audiences": (),
    "GET /api/audiences": (),
    "GET /api/audiences/{audience_id}": ("AudienceNotFoundError",),
    "POST /api/audiences/{audience_id}/contacts": ("AudienceNotFoundError", "ContactNotFoundError"),
    "DELETE /api/audiences/{audience_id}/contacts": ("AudienceNotFoundError",),
    "GET /api/audiences/{audience_id}/contacts": ("AudienceNotFoundError",),
    "POST /api/audio": ("UnsupportedMediaTypeError",),
    "GET /api/audio/{audio_id}": ("AudioNotFoundError",),
    "GET /api/program-executions/{execution_id}/calls": _EXECUTION,
    "GET /api/program-executions/{execution_id}/call-stats": _EXECUTION,
    "GET /api/program-executions/{execution_id}/events": _EXECUTION,
    "GET /api/program-executions/{execution_id}/calls.csv": _EXECUTION,
    "GET /api/program-executions/{execution_id}/contacts.csv": _EXECUTION,
    "GET /api/programs/{program_id}/upcoming-triggers": (*_PROGRAM, "BadRequestException"),
    "POST /api/contacts": ("ConflictError",),
    "GET /api/contacts": (),
    "POST /api/contacts/bulk": ("ConflictError", "AudienceNotFoundError"),
    "POST /api/contacts/import": ("AudienceNotFoundError", "UnsupportedMediaTypeError"),
    "GET /api/imports/{import_id}": ("ImportNotFoundError",),
    "GET /api/contacts/{contact_id}": ("ContactNotFoundError",),
    "PATCH /api/contacts/{contact_id}": ("ContactNotFoundError", "ConflictError"),
    "DELETE /api/contacts/{contact_id}": ("ContactNotFoundError",),
    "GET /api/credits": (),
    "GET /api/dids/available": (),
    "POST /api/dnc": (),
    "GET /api/dnc": ("DncEntryNotFoundError",),
    "DELETE /api/dnc/{phone}": ("DncEntryNotFoundError",),
    "POST /api/dnc/import": ("UnsupportedMediaTypeError",),
    "POST /api/programs/{program_id}/launch": (*_PROGRAM, "ExecutionAlreadyRunningError", "AudienceEmptyError",
                                               "EmptyDidPoolError", "BadRequestException",
                                               "ProgramStatusConflictError"),
    "GET /api/programs/{program_id}/executions": _PROGRAM,
    "GET /api/program-executions": (),
    "GET /api/program-executions/{execution_id}": _EXECUTION,
    "DELETE /api/program-executions/{execution_id}": (*_EXECUTION, "InvalidExecutionStateError"),
    "PATCH /api/program-executions/{execution_id}/pause": (*_EXECUTION, "InvalidExecutionStateError"),
    "PATCH /api/program-executions/{execution_id}/resume": (*_EXECUTION, "InvalidExecutionStateError"),
    "GET /api/program-executions/{execution_id}/contacts": _EXECUTION,
    "GET /api/program-executions/{execution_id}/contacts/{contact_id}": (*_EXECUTION, "ContactNotFoundError"),
    "POST /api/flows": ("AudioNotFoundError",),
    "GET /api/flows": (),
    "GET /api/flows/{flow_id}": ("FlowNotFoundError",),
    "POST /api/programs": (*_DIDS, "FlowNotFoundError", "AudienceNotFoundError", "BadRequestException"),
    "GET /api/programs": (),
    "GET /api/programs/{program_id}": _PROGRAM,
    "PATCH /api/programs/{program_id}": (*_PROGRAM, *_DIDS, "FlowNotFoundError", "AudienceNotFoundError",
                                         "BadRequestException"),
    "DELETE /api/programs/{program_id}": _PROGRAM,
    "GET /api/settings/contact-limits": (),
    "PUT /api/settings/contact-limits": (),
    "GET /api/time": (),
    "POST /api/webhooks": (),
    "GET /api/webhooks": (),
    "GET /api/webhooks/{webhook_id}": ("WebhookNotFoundError",),
    "PATCH /api/webhooks/{webhook_id}": ("WebhookNotFoundError",),
    "DELETE /api/webhooks/{webhook_id}": ("WebhookNotFoundError",),
    "POST /api/webhooks/{webhook_id}/test": ("WebhookNotFoundError",),
    "GET /api/webhooks/{webhook_id}/deliveries": ("WebhookNotFoundError",),
    "GET /api/programs/{program_id}/triggers": (*_PROGRAM, "BadRequestException"),
}

_EXECUTION_STATUS = ("scheduled", "running", "paused", "paused_no_credits", "paused_threshold", "completed",
                     "stopped", "cancelled")
_CALL_OUTCOME = ("answered", "no_answer", "busy", "failed", "voicemail", "invalid_number", "unknown",
                 "not_placed", "rejected")

# "Schema.property" → its values (a nullable property keeps null besides them).
ENUMS: dict[str, tuple[str, ...]] = {
    "ExecutionResponse.status": _EXECUTION_STATUS,
    "ExecutionDetailResponse.status": _EXECUTION_STATUS,
    "ExecutionContactResponse.state": ("pending", "in_progress", "completed", "failed", "skipped"),
    "ExecutionContactResponse.lastOutcome": _CALL_OUTCOME,
    "ExecutionContactResponse.skippedReason": ("cancelled", "stopped", "dnc"),
    "ExecutionContactResponse.blockedBy": ("execution_not_running", "stop_at", "pause_window", "calling_hours",
                                           "dnc", "frequency_cap", "credits", "concurrency_limit",
                                           "retry_delay"),
    "CallResponse.outcome": _CALL_OUTCOME,
    "AmdResponse.result": ("human", "machine", "unknown"),
    "AttributeResponse.type": ("date", "number", "boolean", "text"),
    "FlowNodeOut.type": ("say", "gather", "transfer", "hangup", "optout"),
    "FlowNodeIn.type": ("say", "gather", "transfer", "hangup", "optout"),
}

_BATCH_PROGRAM = {
    "name": "Holiday Campaign 2025",
    "audienceId": "550e8400-e29b-41d4-a716-446655440001",
    "flowId": "550e8400-e29b-41d4-a716-446655440002",
    "startAt": "2025-12-20T09:00:00Z",
    "stopAt": "2025-12-20T18:00:00Z",
    "didPool": ["123e4567-e89b-12d3-a456-426614174000", "123e4567-e89b-12d3-a456-426614174001"],
    "retryStrategy": {"type": "fixed_delay", "delayMinutes": 30, "maxRetries": 2},
    "pauseWindows": {"monday": [{"startAt": {"hour": 12, "minute": 0}, "endAt": {"hour": 14, "minute": 0}}]},
    "autoPauseRules": [{"nodeId": "node_abc123", "threshold": 100, "resetOnResume": True}],
}

_LIVE_PROGRAM = {
    "name": "Payment Reminder",
    "mode": "live",
    "flowId": "550e8400-e29b-41d4-a716-446655440002",
    "triggerCondition": {"type": "date", "attributeName": "date_echeance", "direction": "before",
                         "offset": {"days": 2, "hours": 15, "minutes": 0}},
    "startAt": "2026-03-01T09:00:00Z",
    "stopAt": "2026-06-01T00:00:00Z",
    "didPool": ["123e4567-e89b-12d3-a456-426614174000"],
    "retryStrategy": {"type": "fixed_delay", "delayMinutes": 30, "maxRetries": 2},
}

# Schema name → examples (the spec's), shown by Swagger UI.
EXAMPLES: dict[str, list[dict[str, Any]]] = {
    "CreateProgramRequest": [_BATCH_PROGRAM, _LIVE_PROGRAM],
    "ProgramResponse": [{
        "id": "550e8400-e29b-41d4-a716-446655440000", "name": "Holiday Campaign 2025", "mode": "batch",
        "organizationId": "660e8400-e29b-41d4-a716-446655440001",
        "audienceId": "550e8400-e29b-41d4-a716-446655440001", "flowId": "550e8400-e29b-41d4-a716-446655440002",
        "status": "draft", "triggerCondition": None,
        "startAt": "2025-12-20T09:00:00.000Z", "stopAt": "2025-12-20T18:00:00.000Z",
        "didPool": [{"id": "123e4567-e89b-12d3-a456-426614174000", "number": "+212500000001", "country": "MA"}],
        "retryStrategy": {"type": "fixed_delay", "delayMinutes": 30, "maxRetries": 2},
        "autoPauseRules": [{"nodeId": "node_abc123", "threshold": 100, "resetOnResume": True}],
        "createdAt": "2025-12-17T10:30:00.000Z", "updatedAt": "2025-12-17T10:30:00.000Z",
    }],
    "ExecutionResponse": [{
        "id": "770e8400-e29b-41d4-a716-446655440003", "programId": "550e8400-e29b-41d4-a716-446655440000",
        "organizationId": "660e8400-e29b-41d4-a716-446655440001", "status": "running", "totalContacts": 5000,
        "contactsCompleted": 2500, "contactsFailed": 100, "contactsPending": 2350, "contactsInProgress": 50,
    }],
    "ContactTriggerResponse": [{
        "id": "880e8400-e29b-41d4-a716-446655440010", "contactId": "990e8400-e29b-41d4-a716-446655440020",
        "contactName": "Ahmed Benali", "contactPhone": "+212600000001",
        "triggerAt": "2026-03-18T10:00:00.000Z", "attributeValue": "2026-03-20T10:00:00.000Z",
        "status": "pending", "triggeredAt": None, "createdAt": "2026-03-01T09:00:00.000Z",
    }],
}
