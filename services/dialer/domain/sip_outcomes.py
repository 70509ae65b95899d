"""What a SIP call's final answer means for the campaign: one outcome per final status.

The table is total: every status 100..699, no status at all, and a transport error each map to
exactly one of OUTCOMES, so the carrier adapter never has to invent an outcome.

- 2xx → answered. 200 is what an INVITE gets in practice, but any 2xx to an INVITE establishes
  the dialog (RFC 3261 §13.2.2.4): the far end picked up, whatever the exact code.
- 486 Busy Here, 600 Busy Everywhere → busy.
- 408 Request Timeout, 480 Temporarily Unavailable → no_answer; 487 Request Terminated → no_answer
  only when it answers our own CANCEL (the ring timeout). A 487 we did not provoke means a proxy or
  the trunk ended the attempt on its own: failed, so a carrier-side cancellation is not hidden
  as a person who did not pick up.
- 404 Not Found, 484 Address Incomplete, 604 Does Not Exist Anywhere → invalid_number.
- 403, every other 3xx/4xx/5xx/6xx (redirects are not followed), a provisional status given as
  final, and transport errors → failed. No final status at all after our CANCEL → no_answer (the
  ring timeout ended the call); without our CANCEL → failed.
"""

from __future__ import annotations

import re

ANSWERED = "answered"
BUSY = "busy"
NO_ANSWER = "no_answer"
INVALID_NUMBER = "invalid_number"
FAILED = "failed"
OUTCOMES = (ANSWERED, BUSY, NO_ANSWER, INVALID_NUMBER, FAILED)

# Final statuses with an outcome of their own; 487 is decided by who cancelled.
BY_STATUS: dict[int, str] = {
    486: BUSY,
    600: BUSY,
    408: NO_ANSWER,
    480: NO_ANSWER,
    404: INVALID_NUMBER,
    484: INVALID_NUMBER,
    604: INVALID_NUMBER,
}
REQUEST_TERMINATED = 487


def outcome_for(status_code: int | None, *, we_cancelled: bool, transport_error: bool = False) -> str:
    """The outcome of an INVITE whose final status is `status_code` (None: none received).

    `we_cancelled`: we sent CANCEL because the ring timeout passed. `transport_error`: the
    request could not be delivered or its transaction timed out; it wins over any status.
    """
    if transport_error:
        return FAILED
    if status_code is None:
        return NO_ANSWER if we_cancelled else FAILED
    if not 100 <= status_code <= 699:
        raise ValueError(f"SIP status {status_code} is outside 100..699")
    if 200 <= status_code <= 299:
        return ANSWERED
    if status_code == REQUEST_TERMINATED:
        return NO_ANSWER if we_cancelled else FAILED
    return BY_STATUS.get(status_code, FAILED)


# One reason of a Reason header (RFC 3326): protocol, then ;name=value parameters. Values may be
# quoted strings holding commas and semicolons, so the header is split outside quotes only.
_PARAM = re.compile(r'\s*;\s*([A-Za-z0-9._!%*+`\'~-]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^;,\s"]*))?\s*')
_PREFIX = re.compile(r"^\s*reason\s*:", re.IGNORECASE)
_CAUSE = re.compile(r"[0-9]{1,3}")
_MAX_Q850_CAUSE = 127


def _split_outside_quotes(text: str, sep: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for ch in text:
        if escaped:
            escaped = False
        elif quoted and ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == sep and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return parts


def parse_q850(reason_header: str) -> int | None:
    """The Q.850 cause of a Reason header value (`Q.850;cause=16;text="..."`), or None.

    Several reasons may be given comma-separated (`SIP;cause=200, Q.850;cause=16`); the first
    Q.850 one with a cause in 0..127 counts. Protocol and parameter names are case-insensitive
    and whitespace around separators is tolerated, as is a leading `Reason:` header name.
    """
    if not isinstance(reason_header, str):
        return None
    for reason in _split_outside_quotes(_PREFIX.sub("", reason_header, count=1), ","):
        protocol, _, params = reason.partition(";")
        if protocol.strip().lower() != "q.850":
            continue
        for chunk in _split_outside_quotes(params, ";"):
            match = _PARAM.fullmatch(";" + chunk)
            if match and match.group(1).lower() == "cause":
                value = (match.group(2) or "").strip('"')
                if _CAUSE.fullmatch(value) and int(value) <= _MAX_Q850_CAUSE:
                    return int(value)
    return None
