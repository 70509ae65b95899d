"""Answering-machine handling: whether a program's calls listen for a machine, and what a call a
machine answered does.

{"detect": true, "onMachine": "hangup" | "leave_message", "messageNodeId": "vm", "countAsReached": false}

- `detect` false: nothing listens; a machine runs the flow like a person (outcome answered).
- `detect` true: `onMachine` is required.
  - `hangup`: the call ends as soon as a machine is recognised; outcome voicemail.
  - `leave_message`: the flow runs from `messageNodeId` instead of its start; outcome voicemail.
    The node must be a node of the program's flow starting a chain of `say` nodes that ends in a
    `hangup` (at least one say): a message, with nothing that waits for a person.
- `countAsReached` (default false, `leave_message` only): a call that left the message completes
  its contact instead of being retried.
- `messageNodeId` belongs to `leave_message` and `countAsReached: true` too; given with `hangup`
  they are refused, so a mistyped setting cannot be silently ignored. A setting with `detect`
  false keeps its other fields (so detection can be switched back on), checked the same way.

The stored form is the API's camelCase JSON with every field: {"detect": true, "onMachine":
"leave_message", "messageNodeId": "vm", "countAsReached": true}; a field not given is null.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from campaign_rules.checks import fail, one_of
from campaign_rules.proto import AnsweringMachineMessage

FIELD = "answeringMachine"
HANGUP = "hangup"
LEAVE_MESSAGE = "leave_message"
ON_MACHINE = (HANGUP, LEAVE_MESSAGE)

SAY = "say"
END = "hangup"  # the node type a message chain ends with


@dataclass(frozen=True)
class AnsweringMachine:
    detect: bool = False
    on_machine: str | None = None  # hangup | leave_message; None: not given
    message_node_id: str | None = None  # leave_message only
    count_as_reached: bool = False  # leave_message only

    @property
    def hangs_up(self) -> bool:
        """A machine detected ends the call at once."""
        return self.detect and self.on_machine == HANGUP

    @property
    def leaves_message(self) -> bool:
        """A machine detected is left the message from `message_node_id`."""
        return self.detect and self.on_machine == LEAVE_MESSAGE and bool(self.message_node_id)


@dataclass(frozen=True)
class NodeStep:
    """What a message chain needs of a flow node: its type and its `next`."""

    type: str
    next: str = ""


# --- parsing and validation ---------------------------------------------------------------------

def from_proto(message: AnsweringMachineMessage) -> AnsweringMachine:
    """The setting of a request, checked on its own (the node against the flow: `check_message_node`).
    Raises ValidationError naming the field."""
    on_machine = one_of(f"{FIELD}.onMachine", message.on_machine, ON_MACHINE) if message.on_machine else None
    if message.detect and on_machine is None:
        raise fail(f"{FIELD}.onMachine", f"is required when detect is true (one of {', '.join(ON_MACHINE)})")
    node_id = message.message_node_id or None
    if on_machine == LEAVE_MESSAGE:
        if node_id is None or not node_id.strip():
            raise fail(f"{FIELD}.messageNodeId", "is required when onMachine is leave_message")
    else:
        if node_id is not None:
            raise fail(f"{FIELD}.messageNodeId", "is only allowed when onMachine is leave_message")
        if message.count_as_reached:
            raise fail(f"{FIELD}.countAsReached", "applies only when onMachine is leave_message")
    return AnsweringMachine(message.detect, on_machine, node_id, message.count_as_reached)


def message_chain(node_id: str, nodes: Mapping[str, NodeStep]) -> tuple[str, ...] | None:
    """The node ids of the message starting at `node_id`: say nodes followed through `next` up to
    and including the hangup that ends them; None when that is not what starts there (an unknown
    node, another type on the way, a cycle, or no say at all)."""
    chain: list[str] = []
    current: str = node_id
    while current not in chain:
        step = nodes.get(current)
        if step is None:
            return None
        chain.append(current)
        if step.type == END:
            return tuple(chain) if len(chain) > 1 else None
        if step.type != SAY or not step.next:
            return None
        current = step.next
    return None  # a cycle: the message would never end


def check_message_node(setting: AnsweringMachine | None, nodes: Mapping[str, NodeStep]) -> None:
    """`messageNodeId` must be a node of the program's flow (`nodes`, by id) starting a say chain
    that ends in a hangup."""
    if setting is None or setting.message_node_id is None:
        return
    field = f"{FIELD}.messageNodeId"
    node_id = setting.message_node_id
    if node_id not in nodes:
        raise fail(field, f"node '{node_id}' is not in the program's flow")
    if message_chain(node_id, nodes) is None:
        raise fail(field, f"node '{node_id}' must start a chain of say nodes ending in a hangup")


def to_proto(setting: AnsweringMachine) -> AnsweringMachineMessage:
    return AnsweringMachineMessage(detect=setting.detect, on_machine=setting.on_machine or "",
                                   message_node_id=setting.message_node_id or "",
                                   count_as_reached=setting.count_as_reached)


# --- the stored form ----------------------------------------------------------------------------

def from_json(data: Mapping[str, Any] | None) -> AnsweringMachine | None:
    """From the stored form; None or {} is no setting. Fields at their default may be left out."""
    if not data:
        return None
    return AnsweringMachine(detect=bool(data.get("detect", False)), on_machine=data.get("onMachine") or None,
                            message_node_id=data.get("messageNodeId") or None,
                            count_as_reached=bool(data.get("countAsReached", False)))


def to_json(setting: AnsweringMachine) -> dict[str, Any]:
    return {"detect": setting.detect, "onMachine": setting.on_machine, "messageNodeId": setting.message_node_id,
            "countAsReached": setting.count_as_reached}
