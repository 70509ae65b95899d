"""What a say or gather node plays: exactly one of its text (prompt) and an uploaded audio."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kernel.errors import ValidationError
from services.dialer.domain.flows import Flow, FlowNode, audio_references, validate_flow, walk_flow

AUDIO = "3f1c2b7e-4d5a-4e6f-8a9b-0c1d2e3f4a5b"
HANGUP = FlowNode(id="bye", type="hangup")


def field_of(node: FlowNode) -> str | None:
    try:
        validate_flow(Flow("x", node.id, (node, HANGUP)))
    except ValidationError as exc:
        return exc.field
    return None


def say(text: str = "", audio_id: str = "") -> FlowNode:
    return FlowNode(id="a", type="say", text=text, audio_id=audio_id, next="bye")


def gather(prompt: str = "", audio_id: str = "") -> FlowNode:
    return FlowNode(id="a", type="gather", prompt=prompt, audio_id=audio_id, options={"1": "bye"}, no_input="bye")


@pytest.mark.parametrize("node, field", [
    (say(text="Hello"), None),
    (say(audio_id=AUDIO), None),
    (say(text="Hello", audio_id=AUDIO), "nodes[0].audioId"),
    (say(), "nodes[0].text"),
    (say(text="   "), "nodes[0].text"),
    (gather(prompt="Press 1"), None),
    (gather(audio_id=AUDIO), None),
    (gather(prompt="Press 1", audio_id=AUDIO), "nodes[0].audioId"),
    (gather(), "nodes[0].prompt"),
    (say(audio_id="x" * 101), "nodes[0].audioId"),
])
def test_exactly_one_of_text_and_audio(node, field):
    assert field_of(node) == field


@pytest.mark.parametrize("node", [
    FlowNode(id="a", type="transfer", to="+212600000001", next="bye", audio_id=AUDIO),
    FlowNode(id="a", type="hangup", audio_id=AUDIO),
])
def test_audio_is_refused_where_nothing_is_played(node):
    assert field_of(node) == "nodes[0].audioId"


def test_a_node_with_audio_keeps_no_text_and_a_trimmed_id():
    flow = validate_flow(Flow("x", "a", (say(audio_id=f"  {AUDIO} "), HANGUP)))
    assert (flow.nodes[0].text, flow.nodes[0].audio_id) == ("", AUDIO)


def test_audio_references_name_each_node_field_in_order():
    other = "0f0e0d0c-0b0a-4909-8807-060504030201"
    flow = validate_flow(Flow("x", "a", (
        say(audio_id=AUDIO),
        FlowNode(id="m", type="gather", audio_id=other, options={"1": "bye"}, no_input="t"),
        FlowNode(id="t", type="say", text="Thanks", next="bye"),
        HANGUP,
    )))
    assert audio_references(flow) == [("nodes[0].audioId", AUDIO), ("nodes[1].audioId", other)]


@given(text=st.text(max_size=20), audio=st.sampled_from(["", AUDIO]))
def test_the_rule_holds_for_any_text(text, audio):
    field = field_of(say(text=text, audio_id=audio))
    has_text = bool(text.strip())
    if has_text and audio:
        assert field == "nodes[0].audioId"
    elif not has_text and not audio:
        assert field == "nodes[0].text"
    else:
        assert field is None


def test_the_walk_is_the_same_whatever_a_node_plays():
    spoken = Flow("x", "a", (gather(prompt="Press 1"), HANGUP))
    played = Flow("x", "a", (gather(audio_id=AUDIO), HANGUP))
    for digits in ([], ["1"], ["9"]):
        assert walk_flow(validate_flow(spoken), digits) == walk_flow(validate_flow(played), digits)
