"""Which URLs an endpoint may have, and which addresses a delivery may go to.

An endpoint URL is absolute http(s) with a host. Its host must resolve only to public
addresses: loopback, private, link-local, unspecified, multicast and reserved ones would let a
tenant make Outbound call into its own network. The rule is checked at creation and again
before every attempt (DNS may change); a deployment may lift it (WEBHOOK_ALLOW_PRIVATE=1) for
local development and tests.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from kernel.errors import ValidationError

MAX_URL_LENGTH = 2048


def parse(url: str) -> tuple[str, str]:
    """(scheme, host) of an acceptable URL, or a ValidationError saying why not."""
    if not url:
        raise ValidationError("url: is required", field="url")
    if len(url) > MAX_URL_LENGTH:
        raise ValidationError(f"url: at most {MAX_URL_LENGTH} characters", field="url")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (a bad port raises here)
    except ValueError as exc:
        raise ValidationError(f"url: not a valid URL ({exc})", field="url") from None
    if parts.scheme not in ("http", "https"):
        raise ValidationError("url: must be an http:// or https:// URL", field="url")
    if not parts.hostname:
        raise ValidationError("url: must name a host", field="url")
    return parts.scheme, parts.hostname


def forbidden(address: str) -> str | None:
    """Why an address may not be called (e.g. "loopback"), None when it is public."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for kind, flag in (("loopback", ip.is_loopback), ("unspecified", ip.is_unspecified),
                       ("link-local", ip.is_link_local), ("multicast", ip.is_multicast),
                       ("private", ip.is_private), ("reserved", ip.is_reserved)):
        if flag:
            return kind
    return None


def refusal(host: str, addresses: Iterable[str], allow_private: bool) -> str | None:
    """Why `host`, resolving to `addresses`, may not be called; None when it may."""
    resolved = list(addresses)
    if not resolved:
        return f"host {host} does not resolve"
    if allow_private:
        return None
    for address in resolved:
        kind = forbidden(address)
        if kind:
            return f"host {host} resolves to a {kind} address ({address}); only public addresses are allowed"
    return None
