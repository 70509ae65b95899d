"""Voicemail: what an answered call does once answering-machine detection has decided, and when a
voicemail counts as reaching its contact.

- No detection (the program has no answeringMachine, or `detect` false): nothing listens and the
  flow runs from its start whoever answered; outcome answered.
- `human` or `unknown`: the flow runs from its start, outcome answered (unknown is treated as
  human: hanging up on a person costs more than playing the flow to a machine).
- `machine` + `hangup`: the call ends at once; outcome voicemail.
- `machine` + `leave_message`: the message (the say chain from `messageNodeId`) runs instead of
  the flow; outcome voicemail.

A voicemail reached its contact only when a machine was detected, the program leaves a message and
counts it as reached (`countAsReached`), and the message's first node ran: a far end that hung up
before it heard nothing. The answer depends only on the call record and the request's setting, so
a result published again says the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from campaign_rules.answering_machine import AnsweringMachine

HUMAN = "human"
MACHINE = "machine"
UNKNOWN = "unknown"
RESULTS = (HUMAN, MACHINE, UNKNOWN)

VOICEMAIL = "voicemail"  # the outcome of a call a detected machine answered

Features = Mapping[str, float | int | bool | str]


@dataclass(frozen=True)
class AmdResult:
    """What detection decided on one call, after how long, and the features it decided on
    (JSON-serialisable)."""

    result: str  # human | machine | unknown
    decision_ms: int
    features: Features = field(default_factory=dict)


class Handling(StrEnum):
    """What the call does once answered and, with detection, decided."""

    FLOW = "flow"  # the flow from its start
    HANG_UP = "hang_up"  # end the call now
    LEAVE_MESSAGE = "leave_message"  # the message chain from messageNodeId


def listens(setting: AnsweringMachine | None) -> bool:
    """Whether detection runs on the calls of this setting."""
    return setting is not None and setting.detect


def handling(setting: AnsweringMachine | None, result: str | None) -> Handling:
    """What a call answered with detection `result` (None: no detection ran) does."""
    if not listens(setting) or result != MACHINE or setting is None:
        return Handling.FLOW
    if setting.leaves_message:
        return Handling.LEAVE_MESSAGE
    return Handling.HANG_UP if setting.hangs_up else Handling.FLOW


def reached(setting: AnsweringMachine | None, outcome: str | None, amd: AmdResult | None,
            node_ids: list[str] | tuple[str, ...]) -> bool:
    """A voicemail whose message was left under a setting that counts it as reaching the contact."""
    if setting is None or amd is None or outcome != VOICEMAIL:
        return False
    if handling(setting, amd.result) != Handling.LEAVE_MESSAGE or not setting.count_as_reached:
        return False
    return setting.message_node_id in node_ids
