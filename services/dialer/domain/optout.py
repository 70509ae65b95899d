"""Opt-out: a call whose walk ran an `optout` node tells that its number asked not to be called again.

The executed node ids alone do not say it (ids are the customer's names), so the rule reads their
types in the call's flow. Flows are immutable, so the answer for a call never changes: a result
published again for the same call carries the same `opted_out`.
"""

from __future__ import annotations

from collections.abc import Iterable

from services.dialer.domain.flows import Flow

OPTOUT = "optout"


def opted_out(flow: Flow | None, node_ids: Iterable[str]) -> bool:
    """True when one of the executed `node_ids` is an optout node of `flow` (no flow: False)."""
    if flow is None:
        return False
    optouts = {node.id for node in flow.nodes if node.type == OPTOUT}
    return bool(optouts) and any(node_id in optouts for node_id in node_ids)
