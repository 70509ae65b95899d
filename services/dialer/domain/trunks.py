"""SIP trunk configuration (`SIP_TRUNKS` and the SIP_* settings), checked whole before any use.

A configuration either parses completely or raises TrunkConfigError with one line naming the
setting, the trunk (by name, or `trunks[i]` when it has none) and the field, so a dialer with a
bad configuration stops at start instead of half-starting.

SIP_TRUNKS is a JSON list of trunks:
  [{"name": "main", "uri": "sip:198.51.100.7:5060;transport=udp", "username": "u", "password": "p",
    "maxCallsPerSecond": 10, "maxConcurrentCalls": 200, "countries": ["MA", "FR"]}]
`username`/`password` are optional but go together; `countries` is optional (absent: any number).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import phonenumbers

DEFAULT_SIP_PORT = 5060
DEFAULT_TRANSPORT = "udp"
TRANSPORTS = ("udp", "tcp")
DEFAULT_SIP_BIND = "127.0.0.1:0"
DEFAULT_RTP_PORTS = "10000-20000"
RTP_PORT_MIN, RTP_PORT_MAX = 1024, 65535
DEFAULT_RING_TIMEOUT_SECONDS = 30
RING_TIMEOUT_RANGE = (1, 300)
MAX_NAME_LENGTH = 100

FIELDS = ("name", "uri", "username", "password", "maxCallsPerSecond", "maxConcurrentCalls", "countries")
REQUIRED = ("name", "uri", "maxCallsPerSecond", "maxConcurrentCalls")

# Alpha-2 regions of the numbering plan ("001", the non-geographic entities, is not a country).
KNOWN_COUNTRIES = frozenset(
    region for regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.values() for region in regions
    if len(region) == 2 and region.isalpha()
)

# sip:host[:port][;transport=udp|tcp] — host is a DNS name, an IPv4 address or a bracketed IPv6.
_URI = re.compile(r"^sip:(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(?P<port>[0-9]{1,5}))?"
                  r"(?:;transport=(?P<transport>[A-Za-z0-9]+))?$", re.IGNORECASE)
_HOST_PORT = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(?P<port>[0-9]{1,5})$")
_DNS_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_RANGE = re.compile(r"^\s*([0-9]{1,5})\s*-\s*([0-9]{1,5})\s*$")


class TrunkConfigError(ValueError):
    """The SIP configuration is wrong; the message is one line naming the trunk and the field."""


@dataclass(frozen=True)
class Trunk:
    name: str
    host: str  # without brackets for IPv6
    port: int
    transport: str  # "udp" | "tcp"
    username: str | None
    password: str | None = dataclasses.field(repr=False)  # kept out of logs
    max_calls_per_second: int
    max_concurrent_calls: int
    countries: frozenset[str] | None  # None: takes any number

    @property
    def hostport(self) -> str:
        """`host:port` as written in a SIP URI (IPv6 in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def takes(self, country: str | None) -> bool:
        """True when the trunk may carry a number of `country` (ISO alpha-2, None: unknown)."""
        return self.countries is None or (country is not None and country.upper() in self.countries)


@dataclass(frozen=True)
class Address:
    host: str
    port: int


def _fail(where: str, field: str, problem: str) -> TrunkConfigError:
    return TrunkConfigError(f"{where}: {field}: {problem}")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def valid_host(host: str) -> str | None:
    """The host without brackets when it is an IPv4 address, a bracketed IPv6 or a DNS name."""
    if host.startswith("["):
        try:
            return str(ipaddress.IPv6Address(host[1:-1])) if host.endswith("]") else None
        except ValueError:
            return None
    if re.fullmatch(r"[0-9.]+", host):
        try:
            return str(ipaddress.IPv4Address(host))
        except ValueError:
            return None
    labels = host.rstrip(".").split(".")
    if len(host) > 253 or not all(_DNS_LABEL.match(label) for label in labels):
        return None
    return host.rstrip(".").lower()


def parse_uri(uri: object, where: str) -> tuple[str, int, str]:
    """(host, port, transport) of `sip:host[:port][;transport=udp|tcp]`."""
    if not isinstance(uri, str):
        raise _fail(where, "uri", f"must be a string, got {_shown(uri)}")
    match = _URI.match(uri.strip())
    if not match:
        raise _fail(where, "uri", f"{_shown(uri)} is not sip:host[:port][;transport=udp|tcp]")
    host = valid_host(match["host"])
    if host is None:
        raise _fail(where, "uri", f"{_shown(match['host'])} is not an IPv4, [IPv6] or DNS host")
    port = int(match["port"]) if match["port"] else DEFAULT_SIP_PORT
    if not 1 <= port <= 65535:
        raise _fail(where, "uri", f"port {port} is not in 1..65535")
    transport = (match["transport"] or DEFAULT_TRANSPORT).lower()
    if transport not in TRANSPORTS:
        raise _fail(where, "uri", f"transport {_shown(match['transport'])} is not udp or tcp")
    return host, port, transport


def _limit(entry: Mapping[str, Any], field: str, where: str) -> int:
    value = entry[field]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _fail(where, field, f"must be a positive integer, got {_shown(value)}")
    return value


def _credential(entry: Mapping[str, Any], field: str, where: str) -> str | None:
    value = entry.get(field)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        # The value is not shown: it may be a secret.
        raise _fail(where, field, f"must be a non-empty string, got {type(value).__name__}")
    return value


def _countries(value: object, where: str) -> frozenset[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise _fail(where, "countries", "must be a non-empty list of ISO alpha-2 codes (omit it to take any number)")
    codes = set()
    for i, code in enumerate(value):
        upper = code.strip().upper() if isinstance(code, str) else None
        if upper not in KNOWN_COUNTRIES:
            raise _fail(where, f"countries[{i}]", f"{_shown(code)} is not an ISO alpha-2 country code")
        codes.add(upper)
    return frozenset(codes)


def _trunk(entry: object, index: int) -> Trunk:
    where = f"trunks[{index}]"
    if not isinstance(entry, dict):
        raise TrunkConfigError(f"{where}: must be an object, got {_shown(entry)}")
    name = entry.get("name")
    if isinstance(name, str) and name.strip():
        where = f"trunk {name.strip()!r}"
    for field in entry:
        if field not in FIELDS:
            raise _fail(where, str(field), f"unknown field (known: {', '.join(FIELDS)})")
    for field in REQUIRED:
        if field not in entry:
            raise _fail(where, field, "missing")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_NAME_LENGTH:
        raise _fail(where, "name", f"must be a non-empty string of at most {MAX_NAME_LENGTH} characters")
    host, port, transport = parse_uri(entry["uri"], where)
    username = _credential(entry, "username", where)
    password = _credential(entry, "password", where)
    if username is not None and password is None:
        raise _fail(where, "password", "missing (username is given)")
    if password is not None and username is None:
        raise _fail(where, "username", "missing (password is given)")
    return Trunk(name=name.strip(), host=host, port=port, transport=transport, username=username,
                 password=password, max_calls_per_second=_limit(entry, "maxCallsPerSecond", where),
                 max_concurrent_calls=_limit(entry, "maxConcurrentCalls", where),
                 countries=_countries(entry.get("countries"), where))


def parse_trunks(raw: object) -> tuple[Trunk, ...]:
    """The trunks of a decoded SIP_TRUNKS document, in file order (the order calls try them)."""
    if not isinstance(raw, list):
        raise TrunkConfigError(f"trunks: must be a list of trunks, got {type(raw).__name__}")
    if not raw:
        raise TrunkConfigError("trunks: no trunk (the list is empty)")
    trunks: list[Trunk] = []
    first: dict[str, int] = {}
    for index, entry in enumerate(raw):
        trunk = _trunk(entry, index)
        if trunk.name in first:
            raise _fail(f"trunk {trunk.name!r}", "name", f"duplicate of trunks[{first[trunk.name]}]")
        first[trunk.name] = index
        trunks.append(trunk)
    return tuple(trunks)


def parse_sip_bind(value: str | None) -> Address:
    """SIP_BIND `host:port` (default 127.0.0.1:0, port 0: any free port)."""
    text = (value or "").strip() or DEFAULT_SIP_BIND
    match = _HOST_PORT.match(text)
    host = valid_host(match["host"]) if match else None
    if match is None or host is None or int(match["port"]) > 65535:
        raise TrunkConfigError(f"SIP_BIND: {_shown(text)} is not host:port (port 0..65535)")
    return Address(host, int(match["port"]))


def parse_public_addr(value: str | None) -> str | None:
    """SIP_PUBLIC_ADDR: the host put in Contact and SDP behind NAT, or None (unset)."""
    text = (value or "").strip()
    if not text:
        return None
    host = valid_host(text if not (":" in text and not text.startswith("[")) else f"[{text}]")
    if host is None:
        raise TrunkConfigError(f"SIP_PUBLIC_ADDR: {_shown(text)} is not an IPv4, IPv6 or DNS host")
    return host


def parse_rtp_ports(value: str | None) -> tuple[int, int]:
    """RTP_PORTS `lo-hi` (default 10000-20000): even lo (RTP even, RTCP odd), lo < hi, in 1024..65535."""
    text = (value or "").strip() or DEFAULT_RTP_PORTS
    match = _RANGE.match(text)
    if not match:
        raise TrunkConfigError(f"RTP_PORTS: {_shown(text)} is not lo-hi")
    lo, hi = int(match[1]), int(match[2])
    if not RTP_PORT_MIN <= lo < hi <= RTP_PORT_MAX:
        raise TrunkConfigError(f"RTP_PORTS: {lo}-{hi} must satisfy {RTP_PORT_MIN} <= lo < hi <= {RTP_PORT_MAX}")
    if lo % 2:
        raise TrunkConfigError(f"RTP_PORTS: lo {lo} must be even")
    return lo, hi


def parse_ring_timeout(value: str | None) -> int:
    """SIP_RING_TIMEOUT_SECONDS: whole seconds in 1..300 (default 30) before CANCEL."""
    text = (value or "").strip()
    if not text:
        return DEFAULT_RING_TIMEOUT_SECONDS
    low, high = RING_TIMEOUT_RANGE
    if not re.fullmatch(r"[0-9]{1,4}", text) or not low <= int(text) <= high:
        raise TrunkConfigError(f"SIP_RING_TIMEOUT_SECONDS: {_shown(text)} is not a whole number of seconds in {low}..{high}")
    return int(text)
