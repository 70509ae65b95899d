"""The signature of a delivery: `Outbound-Signature: t=<unix seconds>,v1=<hex>` where the hex is
HMAC-SHA256 keyed by the endpoint's secret over `f"{t}.{body}"`, body being the exact bytes sent.

Invariant: `verify(secret, body, sign(secret, body, t), now=t)` holds, and changing any byte of the
body, the time or the secret makes it fail. The time in the signed text lets a receiver refuse
replays older than its tolerance.
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "Outbound-Signature"
EVENT_ID_HEADER = "Outbound-Event-Id"
# How old a signature a receiver accepts by default (seconds): replays beyond it are refused.
DEFAULT_TOLERANCE_SECONDS = 300


def digest(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The header value for `body` sent at `timestamp` (unix seconds)."""
    return f"t={timestamp},v1={digest(secret, timestamp, body)}"


def verify(secret: str, body: bytes, header: str, *, now: int,
           tolerance: int = DEFAULT_TOLERANCE_SECONDS) -> bool:
    """True when `header` signs `body` with `secret` and its time is within `tolerance` of `now`."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(digest(secret, timestamp, body), parts.get("v1", ""))
