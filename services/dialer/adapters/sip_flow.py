"""The flow walk of one answered SIP call, inside a line worker (adapters.sip_line).

The walk follows the same edges as `domain.flows.walk_flow`, but over real media: `say` (and
`optout`, walked exactly like it) plays its prompt and goes on when the prompt has played, an
`optout` without `next` ending the call; `gather` plays its prompt and takes the first
digit heard from the prompt's start until `timeout_seconds` after its end, then follows
`options[digit]`, or `noInput` for no digit or a digit without an option; `transfer` sends REFER
and is over for us once the far end accepts it (a final 2xx NOTIFY; its BYE ends the call too),
while a refused transfer goes on to `next`; `hangup` and the end of the flow hang up. A far-end
BYE stops the walk where it is: `executed` holds the nodes run so far, in order.

Digits are kept with the instant they were heard until the walk has moved: the worker hands over
a step's digits before its clock tick, so a digit heard in the step where a `say` ran out
reaches the gather that follows (its prompt started when the `say` ended), while one heard
earlier in the `say` is not listened to.

The walk never touches pjsua itself: it drives a `Media` (the line), so its rules read apart
from the SIP plumbing, and every step is taken from the worker's main loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

# How long an accepted REFER may go without its final NOTIFY (or the far end's BYE).
TRANSFER_WAIT_SECONDS = 30.0
# After the final NOTIFY of a connected transfer: our BYE waits for the next pass of the loop.
# pjsip 2.15 tears the REFER subscription down around that NOTIFY, and a BYE sent in the same
# pass once crashed the line worker inside pjsua_call_hangup (an evsub use-after-free class of
# bug fixed upstream after 2.15.1).
TRANSFER_SETTLE_SECONDS = 0.2
# Node types that play their prompt, then go on to `next` (none: the call ends).
_SPOKEN_THEN_NEXT = ("say", "optout")


@dataclass(frozen=True)
class Step:
    """One node as the worker receives it; prompts are WAV paths rendered by the carrier."""

    id: str
    type: str
    next: str = ""
    wav: str = ""  # say, optout: its text; gather: its prompt ("" plays nothing)
    options: dict[str, str] = field(default_factory=dict)
    no_input: str = ""
    timeout_seconds: float = 0.0
    to: str = ""  # transfer: E.164 number

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Step:
        return cls(id=raw["id"], type=raw["type"], next=raw.get("next", ""), wav=raw.get("wav", ""),
                   options=dict(raw.get("options", {})), no_input=raw.get("no_input", ""),
                   timeout_seconds=float(raw.get("timeout_seconds", 0)), to=raw.get("to", ""))


class Media(Protocol):
    def play(self, wav: str) -> float:
        """Start playing `wav` to the far end (replacing what plays); answers its seconds."""

    def stop_playing(self) -> None: ...

    def transfer(self, number: str) -> bool:
        """Send REFER to `number`; False when it could not be sent."""

    def hang_up(self) -> None: ...


class FlowWalk:
    """Where one call is in its flow. `now` is the worker's monotonic clock, in seconds."""

    def __init__(self, start: str, steps: dict[str, Step], media: Media):
        self.start = start
        self.steps = steps
        self.media = media
        self.executed: list[str] = []
        self.current: Step | None = None
        self.until = 0.0  # say: end of the prompt; gather: end of the wait for a digit
        self.done = False
        self.heard: list[tuple[float, str]] = []  # digits no node has listened to yet

    def begin(self, now: float, start: str | None = None) -> None:
        """Runs the flow from its start, or from `start` (a voicemail message's first node)."""
        self._enter(start or self.start, now)

    def _enter(self, node_id: str, now: float, since: float | None = None) -> None:
        """Runs `node_id` from `now`; `since` is when it really began (a prompt that ran out
        between two ticks), so a gather hears the digits that came after it."""
        heard, self.heard = self.heard, []
        step = self.steps.get(node_id)
        # A valid flow is acyclic; the bound guards against a stored flow that is not.
        if step is None or len(self.executed) > len(self.steps):
            self._finish()
            return
        self.current = step
        self.executed.append(step.id)
        if step.type in _SPOKEN_THEN_NEXT:
            self.until = now + self.media.play(step.wav)
        elif step.type == "gather":
            self.until = now + self.media.play(step.wav) + step.timeout_seconds
            start = now if since is None else since
            early = next((digit for at, digit in heard if at >= start), None)
            if early is not None:
                self.digit(early, now)
        elif step.type == "transfer":
            self.until = now + TRANSFER_WAIT_SECONDS
            if not self.media.transfer(step.to):
                self._enter(step.next, now)
        else:
            self._finish()

    def _finish(self) -> None:
        self.current = None
        if not self.done:
            self.done = True
            self.media.stop_playing()
            self.media.hang_up()

    def tick(self, now: float) -> None:
        """Time passed: a prompt may have ended, or a gather's wait run out."""
        step = self.current
        if self.done or step is None or now < self.until:
            return
        if step.type in _SPOKEN_THEN_NEXT:
            self._enter(step.next, now, since=self.until)
        elif step.type == "gather":
            self.media.stop_playing()
            self._enter(step.no_input, now)
        elif step.type == "transfer":
            self._finish()  # accepted but never confirmed: the far end has it, we leave

    def digit(self, digit: str, now: float) -> None:
        """A DTMF digit from the far end (RFC 4733 or SIP INFO); only a gather listens."""
        step = self.current
        if self.done or step is None:
            return
        if step.type != "gather":
            self.heard.append((now, digit))  # the next gather may have begun before it came
            return
        self.media.stop_playing()
        self._enter(step.options.get(digit) or step.no_input, now)

    def transfer_status(self, code: int, final: bool, now: float) -> None:
        """Progress of our REFER: the REFER's own answer, then the NOTIFYs' status lines."""
        step = self.current
        if self.done or step is None or step.type != "transfer":
            return
        if 200 <= code < 300 and final:
            # Accepted and connected: the call is the transfer target's now; tick() leaves it.
            self.until = min(self.until, now + TRANSFER_SETTLE_SECONDS)
        elif code >= 300:
            self._enter(step.next, now)

    def stop(self) -> None:
        """The call ended under the walk (far-end BYE, shutdown): nothing more runs."""
        self.done = True
        self.current = None
