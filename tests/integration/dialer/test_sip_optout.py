"""An optout node over real SIP: SIPp answers and presses 9 (RFC 4733) at the menu, the line plays the
optout's rendered text like a say's, then goes on to its `next` and hangs up there; the node ids
reported include it, so the call's result opts the number out."""

from __future__ import annotations

from services.dialer.domain.flows import Flow, FlowNode, validate_flow
from services.dialer.domain.optout import opted_out
from tests.integration.dialer.test_sip_carrier import (  # noqa: F401 - fixtures
    assert_far_end_ok,
    assert_times,
    far_ends,
    prompts,
    request,
    sip_carrier,
    trunk,
)

STOP_TEXT = "You will not be called again"


def optout_flow() -> Flow:
    """menu: 1 → thanks, 9 → stop (optout) → goodbye; no key → bye."""
    return validate_flow(Flow("stop", "menu", (
        FlowNode(id="menu", type="gather", prompt="Press a key", options={"1": "thanks", "9": "stop"},
                 timeout_seconds=3, no_input="bye"),
        FlowNode(id="thanks", type="say", text="Thanks", next="bye"),
        FlowNode(id="stop", type="optout", text=STOP_TEXT, next="goodbye"),
        FlowNode(id="goodbye", type="say", text="Goodbye", next="bye"),
        FlowNode(id="bye", type="hangup"),
    )))


async def test_a_digit_leading_to_an_optout_reports_its_node(far_ends, limits, prompts):  # noqa: F811
    sipp = far_ends("answer_rfc4733", DIGIT="9")
    flow = optout_flow()
    async with sip_carrier([trunk(sipp)], limits, prompts) as carrier:
        outcome = await carrier.place(request(flow))
    assert_far_end_ok(sipp)  # SIPp got our BYE at the end of the flow
    assert (outcome.outcome, outcome.sip_code) == ("answered", 200)
    # Past the optout: its text played and ran out like a say's, then `next` was taken.
    assert outcome.node_ids == ["menu", "stop", "goodbye", "bye"]
    assert_times(outcome)
    # The optout's text went through the renderer like a say's text.
    assert STOP_TEXT in prompts.rendered
    assert opted_out(flow, outcome.node_ids)
