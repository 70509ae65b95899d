"""RFC 4028 session timers honoured when the far end asks: its 200 OK requires the timer with the
minimum interval (90 s) and makes us, the caller, the refresher; the line worker must refresh
the session (re-INVITE or UPDATE carrying Session-Expires) before the interval ends, at half of
it, or a carrier that enforces the timer would tear the call down. The far end (SIPp) fails the
call when no refresh comes within 80 s; the call is held by a long gather until the far end's BYE,
so this one case takes about 50 s."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.dialer.adapters.trunk_limits import TrunkLimits
from services.dialer.domain.flows import Flow, FlowNode
from tests.integration.dialer.test_sip_carrier import (  # noqa: F401 - fixtures
    CALLEE,
    CALLER,
    TonePrompts,
    assert_far_end_ok,
    prompts,
    request,
    sip_carrier,
    trunk,
)
from tests.support.sipp import Sipp

# SIPp's own run limit: past the 45 s refresh and the 80 s the scenario waits for it at most.
FAR_END_RUN_LIMIT = "150s"


@pytest.fixture
def far_end(tmp_path: Path) -> Iterator[Sipp]:
    sipp = Sipp("answer_session_timer", tmp_path, timeout=FAR_END_RUN_LIMIT, CALLER_ID=CALLER, CALLEE=CALLEE)
    try:
        yield sipp.start()
    finally:
        sipp.stop()


def hold_flow() -> Flow:
    """A gather that waits longer than the refresh takes: only the far end's BYE ends the call."""
    return Flow("hold", "hold", (
        FlowNode(id="hold", type="gather", prompt="Press a key", options={"1": "bye"}, timeout_seconds=120,
                 no_input="bye"),
        FlowNode(id="bye", type="hangup"),
    ))


def received_requests(sipp: Sipp, method: str) -> list[str]:
    """Every `method` request SIPp received, whole, in order, from its messages log (-trace_msg)."""
    log = (sipp.workdir / f"{sipp.name}.messages.log").read_text(errors="replace")
    found = []
    # Each entry: a dashed line with its time, "UDP message received [N] bytes :", the message.
    for entry in re.split(r"^-{10,}.*$", log, flags=re.MULTILINE):
        kind, _, message = entry.partition(" bytes :")
        if " message received " in kind and message.strip().startswith(f"{method} "):
            found.append(message.strip())
    return found


def header(message: str, name: str) -> str | None:
    for line in message.split("\n\n", 1)[0].splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return None


async def test_the_session_is_refreshed_when_the_far_end_makes_us_the_refresher(
        far_end: Sipp, limits: TrunkLimits, prompts: TonePrompts) -> None:  # noqa: F811 - fixtures
    async with sip_carrier([trunk(far_end)], limits, prompts) as carrier:
        outcome = await carrier.place(request(hold_flow()))
    assert_far_end_ok(far_end)  # the scenario failed the call unless the refresh came and got its 200
    assert (outcome.outcome, outcome.sip_code, outcome.node_ids) == ("answered", 200, ["hold"])
    invites, updates = received_requests(far_end, "INVITE"), received_requests(far_end, "UPDATE")
    refreshes = invites[1:] + updates
    assert len(refreshes) == 1, far_end.messages()
    refresh = refreshes[0]
    # In the dialog (the far end's tag in To), keeping the negotiated interval and our role.
    assert header(refresh, "Call-ID") == header(invites[0], "Call-ID")
    assert ";tag=" in (header(refresh, "To") or "")
    assert (header(refresh, "Session-Expires") or "").replace(" ", "") == "90;refresher=uac", refresh
