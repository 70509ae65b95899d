"""Campaign set-up shared by the e2e and fault tests: REST only, DIDs via the admin helper."""

from __future__ import annotations

import itertools
import random
from datetime import timedelta
from typing import Any

from kernel.timefmt import iso, parse_iso
from tests.support.system import DEFAULT_FLOW, Org, System, wait_progressing

COUNTERS = ("contactsCompleted", "contactsFailed", "contactsPending", "contactsInProgress", "contactsSkipped")
ACTIVE = ("scheduled", "running", "paused", "paused_no_credits", "paused_threshold")

# Phone prefixes the simulated carrier treats differently (see SIM_RULES).
RETRY_THEN_ANSWER = "1"  # busy, busy, answered
ALWAYS_BUSY = "2"
LONG_CALL = "3"          # answered, two virtual minutes of talk
ANSWER = "9"

SIM_RULES = {
    "default": {"outcomes": ["answered"], "ringSeconds": 1, "talkSeconds": 5, "digits": []},
    "rules": [
        {"match": r"^\+21261", "outcomes": ["busy", "busy", "answered"], "ringSeconds": 1, "talkSeconds": 5,
         "digits": []},
        {"match": r"^\+21262", "outcomes": ["busy"], "ringSeconds": 1, "talkSeconds": 5, "digits": []},
        {"match": r"^\+21263", "outcomes": ["answered"], "ringSeconds": 1, "talkSeconds": 120, "digits": []},
    ],
}

serial = itertools.count(random.randrange(0, 9_000_000, 100_000))
_did_serial = itertools.count(random.randrange(10_000_000, 90_000_000, 1000))


def progress(execution: dict[str, Any]) -> tuple[Any, ...]:
    """What moves while a campaign runs: its status and its counters."""
    return (execution["status"], *(execution[c] for c in COUNTERS))


def sum_holds(execution: dict[str, Any]) -> bool:
    return execution["totalContacts"] == sum(execution[c] for c in COUNTERS)


class Tenant:
    def __init__(self, system: System, credits: int = 1_000_000):
        self.system = system
        self.org: Org = system.create_org(credits=credits)
        flow = self.org.post("/flows", json=DEFAULT_FLOW)
        assert flow.status_code == 201, flow.text
        self.flow_id = flow.json()["id"]
        self.dids = [system.add_did(f"+2125{next(_did_serial):08d}", "MA", org=self.org.id) for _ in range(3)]

    def audience(self, count: int, kind: str = ANSWER) -> str:
        made = self.org.post("/audiences", json={"name": f"audience {kind}"})
        assert made.status_code == 201, made.text
        audience_id = made.json()["id"]
        for start in range(0, count, 5000):
            contacts = [{"phone": f"+2126{kind}{next(serial):07d}"} for _ in range(min(5000, count - start))]
            answer = self.org.post("/contacts/bulk", json={"contacts": contacts, "audienceId": audience_id})
            assert answer.status_code == 201, answer.text
        return audience_id

    def program(self, audience_id: str, **changes: Any) -> dict[str, Any]:
        body = {
            "name": "Campaign",
            "audienceId": audience_id,
            "flowId": self.flow_id,
            "startAt": iso(self.system.now() - timedelta(minutes=1)),
            "didPool": [d.id for d in self.dids],
            "retryStrategy": {"type": "none"},
        }
        body.update(changes)
        answer = self.org.post("/programs", json=body)
        assert answer.status_code == 201, answer.text
        return answer.json()

    def launch(self, program_id: str) -> str:
        answer = self.org.post(f"/programs/{program_id}/launch")
        assert answer.status_code == 201, answer.text
        return answer.json()["executionId"]

    def execution(self, execution_id: str) -> dict[str, Any]:
        answer = self.org.get(f"/program-executions/{execution_id}")
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert sum_holds(body), body
        return body

    def wait_status(self, execution_id: str, *statuses: str) -> dict[str, Any]:
        """A campaign runs as fast as the machine lets it: fail only once it stops moving."""
        return wait_progressing(lambda: self.execution(execution_id), lambda e: e["status"] in statuses,
                                progress, message=f"execution {execution_id} in {statuses}")

    def calls(self, execution_id: str) -> list[dict[str, Any]]:
        out, cursor = [], None
        while True:
            params = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
            answer = self.org.get(f"/program-executions/{execution_id}/calls", params=params)
            assert answer.status_code == 200, answer.text
            out.extend(answer.json())
            cursor = answer.headers.get("X-Next-Cursor")
            if not cursor:
                return out


def started(call: dict[str, Any]):
    return parse_iso(call["startedAt"])
