import pytest
from hypothesis import given
from hypothesis import strategies as st

from kernel.errors import ValidationError
from services.dialer.domain.flows import Flow, FlowNode, validate_flow, walk_flow


def say(id, next, text="Hi"):
    return FlowNode(id=id, type="say", text=text, next=next)


def gather(id, options, no_input, prompt="Press"):
    return FlowNode(id=id, type="gather", prompt=prompt, options=options, no_input=no_input)


HANGUP = FlowNode(id="bye", type="hangup")
MENU = Flow("Menu", "welcome", (
    say("welcome", "menu"),
    gather("menu", {"1": "confirm", "2": "transfer"}, "bye"),
    say("confirm", "bye", "Thanks"),
    FlowNode(id="transfer", type="transfer", to="+212600000001", next="bye"),
    HANGUP,
))


def error_of(flow: Flow) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        validate_flow(flow)
    return info.value


def test_valid_flow_is_normalized():
    flow = validate_flow(MENU)
    assert [n.id for n in flow.nodes] == ["welcome", "menu", "confirm", "transfer", "bye"]
    assert flow.node("menu").timeout_seconds == 5


def test_at_least_one_node():
    assert error_of(Flow("x", "a", ())).field == "nodes"


def test_duplicate_node_id_names_the_second():
    err = error_of(Flow("x", "a", (say("a", "bye"), say("a", "bye"), HANGUP)))
    assert err.field == "nodes[1].id"
    assert "duplicate node id 'a'" in err.message


def test_unknown_reference_names_the_edge():
    err = error_of(Flow("x", "a", (say("a", "b"), HANGUP, say("c", "x"))))
    assert err.message == "nodes[0].next: unknown node 'b'"
    err = error_of(Flow("x", "m", (gather("m", {"1": "nowhere"}, "bye"), HANGUP)))
    assert err.field == "nodes[0].options.1"
    err = error_of(Flow("x", "m", (gather("m", {"1": "bye"}, "gone"), HANGUP)))
    assert err.field == "nodes[0].noInput"


def test_unknown_start_node():
    assert error_of(Flow("x", "nope", (HANGUP,))).message == "startNodeId: unknown node 'nope'"


def test_cycle_reachable_from_start_is_rejected():
    err = error_of(Flow("x", "a", (say("a", "b"), say("b", "a"), HANGUP)))
    assert err.field == "nodes[1].next"
    assert "cycle" in err.message


def test_gather_loop_back_is_a_cycle():
    err = error_of(Flow("x", "m", (gather("m", {"9": "m"}, "bye"), HANGUP)))
    assert err.field == "nodes[0].options.9"


def test_unreachable_cycle_is_tolerated():
    validate_flow(Flow("x", "bye", (HANGUP, say("a", "b"), say("b", "a"))))


@pytest.mark.parametrize("node, field", [
    (FlowNode(id="a", type="say", next="bye"), "nodes[0].text"),
    (FlowNode(id="a", type="say", text="t"), "nodes[0].next"),
    (FlowNode(id="a", type="gather", options={"1": "bye"}, no_input="bye"), "nodes[0].prompt"),
    (FlowNode(id="a", type="gather", prompt="p", no_input="bye"), "nodes[0].options"),
    (FlowNode(id="a", type="gather", prompt="p", options={"1": "bye"}), "nodes[0].noInput"),
    (FlowNode(id="a", type="gather", prompt="p", options={"12": "bye"}, no_input="bye"), "nodes[0].options.12"),
    (FlowNode(id="a", type="gather", prompt="p", options={"1": "bye"}, no_input="bye", timeout_seconds=999),
     "nodes[0].timeoutSeconds"),
    (FlowNode(id="a", type="transfer", next="bye"), "nodes[0].to"),
    (FlowNode(id="a", type="transfer", to="0612", next="bye"), "nodes[0].to"),
    (FlowNode(id="a", type="transfer", to="+212600000001"), "nodes[0].next"),
    (FlowNode(id="a", type="hangup", next="bye"), "nodes[0].next"),
    (FlowNode(id="a", type="dance"), "nodes[0].type"),
    (FlowNode(id="", type="hangup"), "nodes[0].id"),
])
def test_required_fields_per_type(node, field):
    assert error_of(Flow("x", "a" if node.id else "bye", (node, HANGUP))).field == field


def test_name_is_required():
    assert error_of(Flow(" ", "bye", (HANGUP,))).field == "name"


@pytest.mark.parametrize("digits, path", [
    ([], ["welcome", "menu", "bye"]),
    (["1"], ["welcome", "menu", "confirm", "bye"]),
    (["2"], ["welcome", "menu", "transfer", "bye"]),
    (["7"], ["welcome", "menu", "bye"]),
])
def test_walk_follows_digits(digits, path):
    assert walk_flow(validate_flow(MENU), digits) == path


def test_walk_uses_the_nth_digit_for_the_nth_gather():
    flow = validate_flow(Flow("two", "g1", (
        gather("g1", {"1": "g2"}, "bye"),
        gather("g2", {"2": "yes"}, "bye"),
        say("yes", "bye"),
        HANGUP,
    )))
    assert walk_flow(flow, ["1", "2"]) == ["g1", "g2", "yes", "bye"]
    assert walk_flow(flow, ["1"]) == ["g1", "g2", "bye"]
    assert walk_flow(flow, ["2", "2"]) == ["g1", "bye"]


@st.composite
def chain_flows(draw):
    """Random acyclic flows: node i only points to later nodes; the last is a hangup."""
    n = draw(st.integers(1, 8))
    ids = [f"n{i}" for i in range(n)]
    nodes = []
    for i in range(n - 1):
        later = st.sampled_from(ids[i + 1:])
        kind = draw(st.sampled_from(["say", "gather", "transfer", "hangup"]))
        if kind == "say":
            nodes.append(say(ids[i], draw(later)))
        elif kind == "transfer":
            nodes.append(FlowNode(id=ids[i], type="transfer", to="+212600000001", next=draw(later)))
        elif kind == "gather":
            keys = draw(st.lists(st.sampled_from("0123456789"), min_size=1, max_size=3, unique=True))
            nodes.append(gather(ids[i], {k: draw(later) for k in keys}, draw(later)))
        else:
            nodes.append(FlowNode(id=ids[i], type="hangup"))
    nodes.append(FlowNode(id=ids[-1], type="hangup"))
    return Flow("random", ids[0], tuple(nodes))


@given(chain_flows(), st.lists(st.sampled_from("0123456789#"), max_size=6))
def test_walks_of_valid_flows_end_at_a_hangup(flow, digits):
    valid = validate_flow(flow)
    path = walk_flow(valid, digits)
    assert path[0] == valid.start_node_id
    assert valid.node(path[-1]).type == "hangup"
    assert len(path) == len(set(path))


@given(chain_flows(), st.data())
def test_any_back_edge_is_rejected(flow, data):
    valid = validate_flow(flow)
    path = walk_flow(valid, [])
    if len(path) < 2:
        return
    # Redirect the hangup's predecessor on the walked path back to an earlier node.
    i = data.draw(st.integers(0, len(path) - 2))
    back_to = data.draw(st.sampled_from(path[: i + 1]))
    nodes = list(valid.nodes)
    idx = next(k for k, n in enumerate(nodes) if n.id == path[i])
    node = nodes[idx]
    if node.type in ("say", "transfer"):
        nodes[idx] = FlowNode(id=node.id, type=node.type, text=node.text, to=node.to, next=back_to)
    else:
        nodes[idx] = FlowNode(id=node.id, type="gather", prompt="p", options=dict(node.options),
                              no_input=back_to)
    with pytest.raises(ValidationError, match="cycle"):
        validate_flow(Flow(valid.name, valid.start_node_id, tuple(nodes)))
