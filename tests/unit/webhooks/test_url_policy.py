"""The URL policy: http(s) only, and no host resolving to a non-public address unless allowed."""

from __future__ import annotations

import pytest

from kernel.errors import ValidationError
from services.webhooks.domain import url_policy


@pytest.mark.parametrize("url", ["ftp://example.com/x", "example.com/hook", "", "http://", "javascript:alert(1)",
                                 "http://example.com:99999/", "file:///etc/passwd"])
def test_only_absolute_http_urls(url):
    with pytest.raises(ValidationError):
        url_policy.parse(url)


def test_http_and_https_urls_give_their_host():
    assert url_policy.parse("https://Hooks.Example.com:8443/in?x=1") == ("https", "hooks.example.com")
    assert url_policy.parse("http://[2001:db8::1]/in") == ("http", "2001:db8::1")


@pytest.mark.parametrize(("address", "kind"), [
    ("127.0.0.1", "loopback"), ("::1", "loopback"), ("10.1.2.3", "private"), ("172.16.0.1", "private"),
    ("192.168.1.1", "private"), ("169.254.169.254", "link-local"), ("fe80::1", "link-local"),
    ("0.0.0.0", "unspecified"), ("::", "unspecified"), ("::ffff:127.0.0.1", "loopback"),
    ("fd00::1", "private"), ("224.0.0.1", "multicast"),
])
def test_non_public_addresses_are_refused(address, kind):
    assert url_policy.forbidden(address) == kind
    reason = url_policy.refusal("h.example", [address], allow_private=False)
    assert reason is not None and kind in reason and address in reason


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700::1111"])
def test_public_addresses_pass(address):
    assert url_policy.forbidden(address) is None
    assert url_policy.refusal("h.example", [address], allow_private=False) is None


def test_one_private_address_among_public_ones_is_refused():
    assert url_policy.refusal("h.example", ["8.8.8.8", "10.0.0.1"], allow_private=False)


def test_allowing_private_lifts_the_address_rule_but_not_resolution():
    assert url_policy.refusal("h.example", ["127.0.0.1"], allow_private=True) is None
    assert "does not resolve" in (url_policy.refusal("h.example", [], allow_private=True) or "")
