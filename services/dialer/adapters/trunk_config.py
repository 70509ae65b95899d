"""Reads the SIP_TRUNKS file: the only I/O of the trunk configuration (the rules are in
domain.trunks). Any failure is a TrunkConfigError of one line naming the file."""

from __future__ import annotations

import json

from services.dialer.domain.trunks import Trunk, TrunkConfigError, parse_trunks


def load_trunks(path: str) -> tuple[Trunk, ...]:
    """The trunks of the JSON file at `path`, checked whole."""
    where = f"SIP_TRUNKS {path}"
    if not path or not path.strip():
        raise TrunkConfigError("SIP_TRUNKS: not set (a path to a JSON list of trunks)")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise TrunkConfigError(f"{where}: unreadable: {exc.__class__.__name__}: {exc}") from exc
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TrunkConfigError(f"{where}: invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    try:
        return parse_trunks(raw)
    except TrunkConfigError as exc:
        raise TrunkConfigError(f"{where}: {exc}") from exc
