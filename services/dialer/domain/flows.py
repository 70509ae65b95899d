"""Call flows: a graph of say / gather / transfer / hangup / optout nodes, its rules, and its walk.

What a say or gather node plays is exactly one of: its text (say `text`, gather `prompt`), spoken by
text-to-speech, or an uploaded audio (`audioId`). The audio must be the organization's own; that
check needs the stored audio, so `audio_references` names each reference for the use case to look up.

An `optout` node says its text (text-to-speech only) and goes on to `next`, or ends the call when it
has none: the called person asked not to be called again (see `domain.optout`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from kernel.errors import ValidationError
from services.dialer.domain.phone import normalize_e164

NODE_TYPES = ("say", "gather", "transfer", "hangup", "optout")
MAX_NODES = 500
MAX_ID_LENGTH = 100
MAX_NAME_LENGTH = 200
MAX_TEXT_LENGTH = 5000
DEFAULT_GATHER_TIMEOUT = 5
MAX_GATHER_TIMEOUT = 120
DIGITS = set("0123456789*#")

# Fields each type may carry; any other non-empty field is refused, so a typo in the
# type ("say" with "options") is caught instead of being silently ignored.
_FIELDS = {
    "say": {"text", "audio_id", "next"},
    "gather": {"prompt", "audio_id", "options", "timeout_seconds", "no_input"},
    "transfer": {"to", "next"},
    "hangup": set(),
    "optout": {"text", "next"},
}
_API_NAMES = {"text": "text", "next": "next", "prompt": "prompt", "options": "options",
              "timeout_seconds": "timeoutSeconds", "no_input": "noInput", "to": "to", "audio_id": "audioId"}


@dataclass(frozen=True)
class FlowNode:
    id: str
    type: str
    text: str = ""
    next: str = ""
    prompt: str = ""
    options: dict[str, str] = field(default_factory=dict)
    timeout_seconds: int = 0
    no_input: str = ""
    to: str = ""
    audio_id: str = ""  # say, gather: an uploaded audio played instead of the text

    def successors(self) -> list[tuple[str, str]]:
        """(api field, target node id) for every edge leaving this node."""
        if self.type in ("say", "transfer"):
            return [("next", self.next)]
        if self.type == "optout":
            # `next` is optional: an optout without it ends the call, like a hangup.
            return [("next", self.next)] if self.next else []
        if self.type == "gather":
            edges = [(f"options.{digit}", target) for digit, target in sorted(self.options.items())]
            return [*edges, ("noInput", self.no_input)]
        return []


@dataclass(frozen=True)
class Flow:
    name: str
    start_node_id: str
    nodes: tuple[FlowNode, ...]

    def node(self, node_id: str) -> FlowNode | None:
        for node in self.nodes:
            if node.id == node_id:
                return node
        return None


def _fail(field_name: str, text: str) -> ValidationError:
    return ValidationError(f"{field_name}: {text}", field=field_name)


def _present(node: FlowNode, name: str) -> bool:
    value = getattr(node, name)
    return bool(value)


def validate_flow(flow: Flow) -> Flow:
    """Raise ValidationError naming the first offending field; answer the normalized flow."""
    name = (flow.name or "").strip()
    if not name:
        raise _fail("name", "required")
    if len(name) > MAX_NAME_LENGTH:
        raise _fail("name", f"must be at most {MAX_NAME_LENGTH} characters")
    if not flow.nodes:
        raise _fail("nodes", "at least one node is required")
    if len(flow.nodes) > MAX_NODES:
        raise _fail("nodes", f"at most {MAX_NODES} nodes")

    index: dict[str, int] = {}
    normalized: list[FlowNode] = []
    for i, node in enumerate(flow.nodes):
        where = f"nodes[{i}]"
        node_id = (node.id or "").strip()
        if not node_id:
            raise _fail(f"{where}.id", "required")
        if len(node_id) > MAX_ID_LENGTH:
            raise _fail(f"{where}.id", f"must be at most {MAX_ID_LENGTH} characters")
        if node_id in index:
            raise _fail(f"{where}.id", f"duplicate node id '{node_id}'")
        index[node_id] = i
        normalized.append(_check_fields(node, node_id, where))

    start = (flow.start_node_id or "").strip()
    if not start:
        raise _fail("startNodeId", "required")
    if start not in index:
        raise _fail("startNodeId", f"unknown node '{start}'")

    for i, node in enumerate(normalized):
        for edge, target in node.successors():
            if target not in index:
                raise _fail(f"nodes[{i}].{edge}", f"unknown node '{target}'")

    _reject_cycles(normalized, index, start)
    return Flow(name=name, start_node_id=start, nodes=tuple(normalized))


def _check_fields(node: FlowNode, node_id: str, where: str) -> FlowNode:
    kind = node.type
    if kind not in NODE_TYPES:
        raise _fail(f"{where}.type", f"must be one of {', '.join(NODE_TYPES)}")
    for attr, api in _API_NAMES.items():
        if attr not in _FIELDS[kind] and _present(node, attr):
            raise _fail(f"{where}.{api}", f"not allowed on {_article(kind)} {kind} node")
    if kind == "say":
        text, audio_id = _spoken(node.text, node.audio_id, f"{where}.text", f"{where}.audioId")
        if not node.next.strip():
            raise _fail(f"{where}.next", "required")
        return FlowNode(id=node_id, type=kind, text=text, audio_id=audio_id, next=node.next.strip())
    if kind == "gather":
        prompt, audio_id = _spoken(node.prompt, node.audio_id, f"{where}.prompt", f"{where}.audioId")
        if not node.options:
            raise _fail(f"{where}.options", "at least one option is required")
        options: dict[str, str] = {}
        for digit, target in node.options.items():
            if len(digit) != 1 or digit not in DIGITS:
                raise _fail(f"{where}.options.{digit}", "key must be one of 0-9, * or #")
            if not (target or "").strip():
                raise _fail(f"{where}.options.{digit}", "required")
            options[digit] = target.strip()
        timeout = node.timeout_seconds or DEFAULT_GATHER_TIMEOUT
        if not 1 <= timeout <= MAX_GATHER_TIMEOUT:
            raise _fail(f"{where}.timeoutSeconds", f"must be between 1 and {MAX_GATHER_TIMEOUT}")
        if not node.no_input.strip():
            raise _fail(f"{where}.noInput", "required")
        return FlowNode(id=node_id, type=kind, prompt=prompt, audio_id=audio_id, options=options,
                        timeout_seconds=timeout, no_input=node.no_input.strip())
    if kind == "transfer":
        if not node.to.strip():
            raise _fail(f"{where}.to", "required")
        to = normalize_e164(node.to)
        if to is None:
            raise _fail(f"{where}.to", "must be an E.164 phone number")
        if not node.next.strip():
            raise _fail(f"{where}.next", "required")
        return FlowNode(id=node_id, type=kind, to=to, next=node.next.strip())
    if kind == "optout":
        if not node.text.strip():
            raise _fail(f"{where}.text", "required")
        if len(node.text) > MAX_TEXT_LENGTH:
            raise _fail(f"{where}.text", f"must be at most {MAX_TEXT_LENGTH} characters")
        return FlowNode(id=node_id, type=kind, text=node.text, next=node.next.strip())
    return FlowNode(id=node_id, type=kind)


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _spoken(text: str, audio_id: str, text_field: str, audio_field: str) -> tuple[str, str]:
    """Exactly one of the text and the audio id: (text, "") or ("", audio id)."""
    has_text, audio = bool(text.strip()), audio_id.strip()
    if has_text and audio:
        raise _fail(audio_field, f"give either {text_field.rsplit('.', 1)[1]} or audioId, not both")
    if audio:
        if len(audio) > MAX_ID_LENGTH:
            raise _fail(audio_field, f"must be at most {MAX_ID_LENGTH} characters")
        return "", audio
    if not has_text:
        raise _fail(text_field, "required (or audioId)")
    if len(text) > MAX_TEXT_LENGTH:
        raise _fail(text_field, f"must be at most {MAX_TEXT_LENGTH} characters")
    return text, ""


def audio_references(flow: Flow) -> list[tuple[str, str]]:
    """(api field, audio id) of every node that plays an uploaded audio, in node order."""
    return [(f"nodes[{i}].audioId", node.audio_id) for i, node in enumerate(flow.nodes) if node.audio_id]


def _reject_cycles(nodes: Sequence[FlowNode], index: dict[str, int], start: str) -> None:
    """Every path from the start must end (at a hangup, or an optout without `next`): no cycle
    may be reachable.

    Iterative depth-first search; the edge that closes a cycle is the field named.
    """
    state: dict[str, int] = {}  # 1 = on the current path, 2 = fully explored
    stack: list[tuple[str, int]] = [(start, 0)]
    state[start] = 1
    while stack:
        node_id, edge_no = stack[-1]
        node = nodes[index[node_id]]
        edges = node.successors()
        if edge_no >= len(edges):
            state[node_id] = 2
            stack.pop()
            continue
        stack[-1] = (node_id, edge_no + 1)
        edge, target = edges[edge_no]
        seen = state.get(target)
        if seen == 1:
            raise _fail(f"nodes[{index[node_id]}].{edge}", f"cycle back to node '{target}'")
        if seen is None:
            state[target] = 1
            stack.append((target, 0))


def walk_flow(flow: Flow, digits: Sequence[str]) -> list[str]:
    """Node ids executed in one answered call, in order.

    The n-th gather takes digits[n]; a missing digit, or one the gather has no option
    for, follows the gather's noInput edge. An optout goes on to `next` like a say, and
    without one the call ends there. Valid flows are acyclic, so the walk ends;
    the step bound guards against a flow stored before validation existed.
    """
    executed: list[str] = []
    gathers = 0
    current = flow.node(flow.start_node_id)
    while current is not None and len(executed) <= len(flow.nodes):
        executed.append(current.id)
        if current.type == "hangup":
            break
        if current.type == "gather":
            digit = digits[gathers] if gathers < len(digits) else None
            gathers += 1
            target = current.options.get(digit) if digit is not None else None
            current = flow.node(target or current.no_input)
        else:
            current = flow.node(current.next)
    return executed
