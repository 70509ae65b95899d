"""The signature-verification snippet of docs/webhooks.md, executed from the doc's own text so
that the tests fail when the doc and the signatures disagree."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


def _snippet() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    found = [b for b in blocks if "def verify_signature" in b]
    assert len(found) == 1, "docs/webhooks.md holds one Python block defining verify_signature"
    return found[0]


def _load() -> Callable[..., bool]:
    namespace: dict[str, Any] = {}
    exec(compile(_snippet(), str(DOC), "exec"), namespace)  # noqa: S102  (the doc's snippet, on purpose)
    return namespace["verify_signature"]


verify_signature = _load()
