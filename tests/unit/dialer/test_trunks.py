"""SIP trunk configuration: a valid file parses whole; every wrong one stops with one line naming
the trunk and the field."""

from __future__ import annotations

import json

import pytest

from services.dialer.adapters.trunk_config import load_trunks
from services.dialer.domain.trunks import (
    Address,
    Trunk,
    TrunkConfigError,
    parse_public_addr,
    parse_ring_timeout,
    parse_rtp_ports,
    parse_sip_bind,
    parse_trunks,
)

MAIN = {"name": "main", "uri": "sip:198.51.100.7:5060;transport=udp", "username": "u", "password": "p",
        "maxCallsPerSecond": 10, "maxConcurrentCalls": 200, "countries": ["MA", "fr"]}
BACKUP = {"name": "backup", "uri": "sip:sbc.example.net;transport=TCP", "maxCallsPerSecond": 2,
          "maxConcurrentCalls": 5}


def test_a_valid_file_parses_in_order(tmp_path):
    path = tmp_path / "trunks.json"
    path.write_text(json.dumps([MAIN, BACKUP, {"name": "v6", "uri": "sip:[2001:db8::1]:5080",
                                               "maxCallsPerSecond": 1, "maxConcurrentCalls": 1}]))
    main, backup, v6 = load_trunks(str(path))
    assert main == Trunk("main", "198.51.100.7", 5060, "udp", "u", "p", 10, 200, frozenset({"MA", "FR"}))
    assert backup == Trunk("backup", "sbc.example.net", 5060, "tcp", None, None, 2, 5, None)
    assert (v6.host, v6.port, v6.transport, v6.hostport) == ("2001:db8::1", 5080, "udp", "[2001:db8::1]:5080")
    assert main.takes("ma") and main.takes("FR") and not main.takes("US") and not main.takes(None)
    assert backup.takes("US") and backup.takes(None)


def _error(raw: object) -> str:
    with pytest.raises(TrunkConfigError) as info:
        parse_trunks(raw)
    message = str(info.value)
    assert "\n" not in message
    return message


def _with(**changes: object) -> list[dict]:
    entry = {**MAIN, **changes}
    return [BACKUP, {k: v for k, v in entry.items() if v is not ...}]


@pytest.mark.parametrize(("raw", "expected"), [
    ({"name": "main"}, "trunks: must be a list of trunks, got dict"),
    ([], "trunks: no trunk"),
    ([BACKUP, "main"], "trunks[1]: must be an object"),
    (_with(max_cps=3), "trunk 'main': max_cps: unknown field"),
    (_with(name=...), "trunks[1]: name: missing"),
    (_with(name=""), "trunks[1]: name: must be a non-empty string"),
    (_with(name=7), "trunks[1]: name: must be a non-empty string"),
    (_with(uri=...), "trunk 'main': uri: missing"),
    (_with(maxCallsPerSecond=...), "trunk 'main': maxCallsPerSecond: missing"),
    (_with(name="backup"), "trunk 'backup': name: duplicate of trunks[0]"),
    (_with(uri="http://198.51.100.7"), "trunk 'main': uri: 'http://198.51.100.7' is not sip:host[:port]"),
    (_with(uri="sip:+2126@198.51.100.7"), "trunk 'main': uri:"),
    (_with(uri="sips:198.51.100.7"), "trunk 'main': uri:"),
    (_with(uri="sip:198.51.100.7;lr"), "trunk 'main': uri:"),
    (_with(uri="sip:999.1.1.1"), "trunk 'main': uri: '999.1.1.1' is not an IPv4, [IPv6] or DNS host"),
    (_with(uri="sip:[2001:db8::zz]"), "trunk 'main': uri:"),
    (_with(uri="sip:-bad-.example"), "trunk 'main': uri: '-bad-.example' is not an IPv4"),
    (_with(uri="sip:198.51.100.7:70000"), "trunk 'main': uri: port 70000 is not in 1..65535"),
    (_with(uri="sip:198.51.100.7:0"), "trunk 'main': uri: port 0"),
    (_with(uri="sip:198.51.100.7;transport=tls"), "trunk 'main': uri: transport 'tls' is not udp or tcp"),
    (_with(uri=5060), "trunk 'main': uri: must be a string"),
    (_with(maxCallsPerSecond=0), "trunk 'main': maxCallsPerSecond: must be a positive integer, got 0"),
    (_with(maxCallsPerSecond=2.5), "trunk 'main': maxCallsPerSecond: must be a positive integer, got 2.5"),
    (_with(maxConcurrentCalls=-1), "trunk 'main': maxConcurrentCalls: must be a positive integer"),
    (_with(maxConcurrentCalls="10"), "trunk 'main': maxConcurrentCalls: must be a positive integer"),
    (_with(maxConcurrentCalls=True), "trunk 'main': maxConcurrentCalls: must be a positive integer"),
    (_with(countries=["MA", "XX"]), "trunk 'main': countries[1]: 'XX' is not an ISO alpha-2 country code"),
    (_with(countries=["MAR"]), "trunk 'main': countries[0]: 'MAR' is not"),
    (_with(countries=[212]), "trunk 'main': countries[0]: 212 is not"),
    (_with(countries=[]), "trunk 'main': countries: must be a non-empty list"),
    (_with(countries="MA"), "trunk 'main': countries: must be a non-empty list"),
    (_with(password=...), "trunk 'main': password: missing (username is given)"),
    (_with(username=...), "trunk 'main': username: missing (password is given)"),
    (_with(username=""), "trunk 'main': username: must be a non-empty string"),
])
def test_each_error_names_the_trunk_and_the_field(raw, expected):
    assert _error(raw).startswith(expected)


def test_file_errors_name_the_file(tmp_path):
    missing = tmp_path / "nope.json"
    with pytest.raises(TrunkConfigError, match=rf"^SIP_TRUNKS {missing}: unreadable: FileNotFoundError"):
        load_trunks(str(missing))
    with pytest.raises(TrunkConfigError, match=r"^SIP_TRUNKS .*: unreadable"):
        load_trunks(str(tmp_path))
    bad = tmp_path / "bad.json"
    bad.write_text('[{"name": "main",}]')
    with pytest.raises(TrunkConfigError, match=r"^SIP_TRUNKS .*bad.json: invalid JSON: .* at line 1 column"):
        load_trunks(str(bad))
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    with pytest.raises(TrunkConfigError, match=r"^SIP_TRUNKS .*empty.json: trunks: no trunk"):
        load_trunks(str(empty))
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps([{**MAIN, "uri": "sip:a..b"}]))
    with pytest.raises(TrunkConfigError, match=r"^SIP_TRUNKS .*wrong.json: trunk 'main': uri:"):
        load_trunks(str(wrong))
    with pytest.raises(TrunkConfigError, match=r"^SIP_TRUNKS: not set"):
        load_trunks("")


@pytest.mark.parametrize(("value", "expected"), [
    (None, Address("127.0.0.1", 0)),
    ("", Address("127.0.0.1", 0)),
    ("0.0.0.0:5060", Address("0.0.0.0", 5060)),
    ("[::1]:5070", Address("::1", 5070)),
    ("localhost:5080", Address("localhost", 5080)),
])
def test_sip_bind(value, expected):
    assert parse_sip_bind(value) == expected


@pytest.mark.parametrize("value", ["0.0.0.0", "0.0.0.0:70000", ":5060", "::1:5060", "300.0.0.1:5060", "a b:1"])
def test_sip_bind_errors(value):
    with pytest.raises(TrunkConfigError, match=r"^SIP_BIND: .* is not host:port"):
        parse_sip_bind(value)


@pytest.mark.parametrize(("value", "expected"), [
    (None, None), ("", None), ("203.0.113.9", "203.0.113.9"), ("2001:db8::9", "2001:db8::9"),
    ("[2001:db8::9]", "2001:db8::9"), ("sip.example.com", "sip.example.com"),
])
def test_public_addr(value, expected):
    assert parse_public_addr(value) == expected


@pytest.mark.parametrize("value", ["203.0.113.9:5060", "a_b", "1.2.3.4.5"])
def test_public_addr_errors(value):
    with pytest.raises(TrunkConfigError, match="^SIP_PUBLIC_ADDR: "):
        parse_public_addr(value)


@pytest.mark.parametrize(("value", "expected"), [
    (None, (10000, 20000)), ("", (10000, 20000)), ("16384-32767", (16384, 32767)), (" 1024 - 1025 ", (1024, 1025)),
])
def test_rtp_ports(value, expected):
    assert parse_rtp_ports(value) == expected


@pytest.mark.parametrize(("value", "message"), [
    ("10000", "is not lo-hi"), ("a-b", "is not lo-hi"), ("10001-20000", "lo 10001 must be even"),
    ("1000-2000", "1024 <= lo < hi <= 65535"), ("20000-10000", "lo < hi"), ("60000-70000", "hi <= 65535"),
    ("10000-10000", "lo < hi"),
])
def test_rtp_ports_errors(value, message):
    with pytest.raises(TrunkConfigError, match=r"^RTP_PORTS: .*" + message):
        parse_rtp_ports(value)


@pytest.mark.parametrize(("value", "expected"), [(None, 30), ("", 30), ("1", 1), ("300", 300), (" 45 ", 45)])
def test_ring_timeout(value, expected):
    assert parse_ring_timeout(value) == expected


@pytest.mark.parametrize("value", ["0", "301", "2.5", "-5", "thirty"])
def test_ring_timeout_errors(value):
    with pytest.raises(TrunkConfigError, match=r"^SIP_RING_TIMEOUT_SECONDS: .* in 1..300"):
        parse_ring_timeout(value)


def test_a_password_is_never_shown():
    (main,) = parse_trunks([{**MAIN, "password": "s3cret"}])
    assert "s3cret" not in repr(main)
    assert "9999" not in _error([{**MAIN, "password": 9999}])
