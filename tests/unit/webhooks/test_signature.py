"""The signature rule, and the snippet of docs/webhooks.md agreeing with it."""

from __future__ import annotations

import time

from hypothesis import given
from hypothesis import strategies as st

from services.webhooks.domain import signature
from tests.support.webhook_docs import verify_signature


@given(st.text(min_size=1), st.binary(), st.integers(min_value=0, max_value=2**40))
def test_a_signature_verifies_and_changing_anything_breaks_it(secret, body, t):
    header = signature.sign(secret, body, t)
    assert signature.verify(secret, body, header, now=t)
    assert not signature.verify(secret + "x", body, header, now=t)
    assert not signature.verify(secret, body + b"x", header, now=t)
    assert not signature.verify(secret, body, header.replace(f"t={t}", f"t={t + 1}"), now=t)


def test_the_header_is_hmac_sha256_of_t_dot_body():
    # A known answer: HMAC-SHA256("secret", "1700000000.{}"), computed independently.
    import hashlib
    import hmac

    expected = hmac.new(b"secret", b"1700000000.{}", hashlib.sha256).hexdigest()
    assert signature.sign("secret", b"{}", 1700000000) == f"t=1700000000,v1={expected}"


def test_an_old_signature_is_refused():
    header = signature.sign("s", b"body", 1000)
    assert signature.verify("s", b"body", header, now=1000 + signature.DEFAULT_TOLERANCE_SECONDS)
    assert not signature.verify("s", b"body", header, now=1001 + signature.DEFAULT_TOLERANCE_SECONDS)


def test_garbage_headers_do_not_verify():
    for header in ("", "t=abc,v1=00", "v1=00", "t=1", "nonsense"):
        assert not signature.verify("s", b"x", header, now=1)


@given(st.text(min_size=1), st.binary())
def test_the_documented_snippet_accepts_what_the_service_signs(secret, body):
    now = int(time.time())
    assert verify_signature(secret, body, signature.sign(secret, body, now))
    assert not verify_signature(secret, body + b"!", signature.sign(secret, body, now))
    assert not verify_signature(secret, body, signature.sign(secret, body, now - 3600))
