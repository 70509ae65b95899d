"""The `optout` node: its validation, its walk (domain and simulated carrier), the SIP walk of it
over a recording line, and the rule that a call whose walk ran one opted out."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kernel.clock import Clock
from services.dialer.adapters.carrier import CallRequest, SimCarrier
from services.dialer.adapters.sip_flow import FlowWalk, Step
from services.dialer.domain.flows import MAX_TEXT_LENGTH, Flow, FlowNode, validate_flow, walk_flow
from services.dialer.domain.optout import opted_out
from services.dialer.domain.sim_rules import parse_rules
from tests.unit.dialer.test_flows import error_of

HANGUP = FlowNode(id="bye", type="hangup")


def optout(id: str, next: str = "", text: str = "You will not be called again.") -> FlowNode:
    return FlowNode(id=id, type="optout", text=text, next=next)


def menu(optout_node: FlowNode) -> Flow:
    """welcome → menu: 1 → thanks, 9 → the optout node, no key → bye."""
    return Flow("Reminder", "welcome", (
        FlowNode(id="welcome", type="say", text="Hello", next="menu"),
        FlowNode(id="menu", type="gather", prompt="Press 1 to confirm, 9 to stop these calls",
                 options={"1": "thanks", "9": optout_node.id}, no_input="bye"),
        FlowNode(id="thanks", type="say", text="Thanks", next="bye"),
        optout_node,
        HANGUP,
    ))


# --- validation -------------------------------------------------------------------------------

def test_an_optout_with_next_is_kept_as_given():
    flow = validate_flow(menu(optout("stop", next=" bye ")))
    assert flow.node("stop") == FlowNode(id="stop", type="optout", text="You will not be called again.", next="bye")


def test_an_optout_without_next_ends_a_valid_path():
    flow = validate_flow(menu(optout("stop")))
    assert flow.node("stop") == FlowNode(id="stop", type="optout", text="You will not be called again.")
    # A flow may even be a single optout.
    assert validate_flow(Flow("Stop", "stop", (optout("stop"),))).nodes == (optout("stop"),)


@pytest.mark.parametrize("node, message", [
    (FlowNode(id="stop", type="optout"), "nodes[3].text: required"),
    (FlowNode(id="stop", type="optout", text="   "), "nodes[3].text: required"),
    (optout("stop", text="x" * (MAX_TEXT_LENGTH + 1)), f"nodes[3].text: must be at most {MAX_TEXT_LENGTH} characters"),
    (FlowNode(id="stop", type="optout", text="Bye", audio_id="a1"), "nodes[3].audioId: not allowed on an optout node"),
    (FlowNode(id="stop", type="optout", text="Bye", prompt="p"), "nodes[3].prompt: not allowed on an optout node"),
    (FlowNode(id="stop", type="optout", text="Bye", options={"1": "bye"}),
     "nodes[3].options: not allowed on an optout node"),
    (FlowNode(id="stop", type="optout", text="Bye", to="+212600000001"), "nodes[3].to: not allowed on an optout node"),
    (optout("stop", next="nowhere"), "nodes[3].next: unknown node 'nowhere'"),
    (optout("stop", next="welcome"), "nodes[3].next: cycle back to node 'welcome'"),
])
def test_invalid_optout_nodes_name_their_field(node, message):
    assert error_of(menu(node)).message == message


def test_the_other_types_keep_their_article():
    err = error_of(Flow("x", "bye", (FlowNode(id="bye", type="hangup", text="t"),)))
    assert err.message == "nodes[0].text: not allowed on a hangup node"


def test_an_unknown_type_lists_optout():
    assert "optout" in error_of(Flow("x", "a", (FlowNode(id="a", type="stop"),))).message


# --- the walk ---------------------------------------------------------------------------------

@pytest.mark.parametrize("next_node, digits, path", [
    ("bye", ["9"], ["welcome", "menu", "stop", "bye"]),
    ("", ["9"], ["welcome", "menu", "stop"]),
    ("bye", ["1"], ["welcome", "menu", "thanks", "bye"]),
    ("bye", [], ["welcome", "menu", "bye"]),
])
def test_walk_says_the_optout_then_goes_to_next_or_ends(next_node, digits, path):
    flow = validate_flow(menu(optout("stop", next=next_node)))
    executed = walk_flow(flow, digits)
    assert executed == path
    assert opted_out(flow, executed) == ("stop" in path)


SIM_RULES = parse_rules({
    "default": {"outcomes": ["answered"], "ringSeconds": 5, "talkSeconds": 30, "digits": []},
    "rules": [
        {"match": "^\\+2126009", "digits": ["9"]},
        {"match": "^\\+2126001", "digits": ["1"]},
        {"match": "^\\+2126003", "outcomes": ["busy"], "digits": ["9"]},
    ],
})


def sim_request(phone: str, flow: Flow) -> CallRequest:
    return CallRequest(attempt_id="e:c:1", phone=phone, attempt=1, did_number="+212522000001", flow=flow)


@pytest.mark.parametrize("phone, outcome, path", [
    ("+212600900001", "answered", ["welcome", "menu", "stop"]),  # presses 9: reaches the optout
    ("+212600100001", "answered", ["welcome", "menu", "thanks", "bye"]),  # presses 1: does not
    ("+212600500001", "answered", ["welcome", "menu", "bye"]),  # presses nothing
    ("+212600300001", "busy", []),  # never answers: no flow runs
])
async def test_the_simulated_carrier_walks_an_optout_through_its_digits(phone, outcome, path):
    flow = validate_flow(menu(optout("stop")))
    carrier = SimCarrier(SIM_RULES, Clock(speed=100_000))
    call = await carrier.place(sim_request(phone, flow))
    assert (call.outcome, call.node_ids) == (outcome, path)
    assert call.talk_seconds == (30 if outcome == "answered" else 0)
    assert opted_out(flow, call.node_ids) == ("stop" in path)


# --- the rule ---------------------------------------------------------------------------------

def test_opted_out_reads_node_types_in_the_flow():
    flow = validate_flow(menu(optout("stop", next="bye")))
    assert opted_out(flow, ["welcome", "menu", "stop", "bye"])
    assert not opted_out(flow, ["welcome", "menu", "thanks", "bye"])
    assert not opted_out(flow, [])
    assert not opted_out(None, ["stop"])  # the flow is unknown: nothing can be said
    # A say that happens to be called "optout" is a say.
    renamed = validate_flow(Flow("x", "optout", (FlowNode(id="optout", type="say", text="Hi", next="bye"), HANGUP)))
    assert not opted_out(renamed, ["optout", "bye"])


@st.composite
def chain_flows(draw):
    """Random acyclic flows with optouts: node i only points to later nodes; the last is a hangup."""
    n = draw(st.integers(1, 8))
    ids = [f"n{i}" for i in range(n)]
    nodes = []
    for i in range(n - 1):
        later = st.sampled_from(ids[i + 1:])
        kind = draw(st.sampled_from(["say", "gather", "optout", "hangup"]))
        if kind == "say":
            nodes.append(FlowNode(id=ids[i], type="say", text="Hi", next=draw(later)))
        elif kind == "optout":
            nodes.append(optout(ids[i], next=draw(st.one_of(st.just(""), later))))
        elif kind == "gather":
            keys = draw(st.lists(st.sampled_from("0123456789"), min_size=1, max_size=3, unique=True))
            nodes.append(FlowNode(id=ids[i], type="gather", prompt="Press",
                                  options={k: draw(later) for k in keys}, no_input=draw(later)))
        else:
            nodes.append(FlowNode(id=ids[i], type="hangup"))
    nodes.append(FlowNode(id=ids[-1], type="hangup"))
    return Flow("random", ids[0], tuple(nodes))


@given(chain_flows(), st.lists(st.sampled_from("0123456789#"), max_size=6))
def test_walks_end_at_a_hangup_or_an_optout_without_next_and_tell_the_optout(flow, digits):
    valid = validate_flow(flow)
    path = walk_flow(valid, digits)
    last = valid.node(path[-1])
    assert last is not None
    assert last.type == "hangup" or (last.type == "optout" and not last.next)
    assert len(path) == len(set(path))
    types = [node.type for node in valid.nodes if node.id in path]
    assert opted_out(valid, path) == ("optout" in types)


# --- the SIP walk -----------------------------------------------------------------------------

class RecordingLine:
    """The walk's Media: plays take the seconds the test gives them; what happened is recorded."""

    def __init__(self, seconds: dict[str, float]):
        self.seconds = seconds
        self.played: list[str] = []
        self.hung_up = False

    def play(self, wav: str) -> float:
        self.played.append(wav)
        return self.seconds.get(wav, 1.0)

    def stop_playing(self) -> None:
        return None

    def transfer(self, number: str) -> bool:
        return False

    def hang_up(self) -> None:
        self.hung_up = True


def sip_steps(next_node: str) -> dict[str, Step]:
    steps = [
        Step(id="menu", type="gather", wav="menu.wav", options={"9": "stop"}, no_input="bye", timeout_seconds=3),
        Step(id="stop", type="optout", wav="stop.wav", next=next_node),
        Step(id="after", type="say", wav="after.wav", next="bye"),
        Step(id="bye", type="hangup"),
    ]
    return {s.id: s for s in steps}


@pytest.mark.parametrize("next_node, path", [("after", ["menu", "stop", "after", "bye"]), ("", ["menu", "stop"])])
def test_the_sip_walk_plays_an_optout_like_a_say(next_node, path):
    line = RecordingLine({"menu.wav": 2.0, "stop.wav": 4.0})
    walk = FlowWalk("menu", sip_steps(next_node), line)
    walk.begin(0.0)
    walk.digit("9", 1.0)  # during the menu's prompt
    assert walk.executed == ["menu", "stop"] and line.played == ["menu.wav", "stop.wav"]
    walk.digit("1", 2.0)  # an optout does not listen
    walk.tick(4.9)  # its text is still playing
    assert walk.executed == ["menu", "stop"] and not line.hung_up
    walk.tick(5.0)
    walk.tick(6.0)
    assert walk.executed == path
    assert walk.done and line.hung_up
