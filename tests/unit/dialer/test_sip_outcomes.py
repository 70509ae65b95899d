"""The SIP outcome table: every final status has exactly one outcome; Q.850 causes are read
from Reason headers however they are spelled."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.dialer.domain.sip_outcomes import OUTCOMES, outcome_for, parse_q850


@pytest.mark.parametrize(("status", "we_cancelled", "transport_error", "expected"), [
    (200, False, False, "answered"),
    (202, False, False, "answered"),
    (200, True, False, "answered"),  # picked up as the CANCEL crossed: the far end answered
    (486, False, False, "busy"),
    (600, False, False, "busy"),
    (486, True, False, "busy"),
    (408, False, False, "no_answer"),
    (480, False, False, "no_answer"),
    (487, True, False, "no_answer"),
    (None, True, False, "no_answer"),  # ring timeout, no final status came back
    (487, False, False, "failed"),  # terminated by someone else than us
    (404, False, False, "invalid_number"),
    (484, False, False, "invalid_number"),
    (604, False, False, "invalid_number"),
    (403, False, False, "failed"),
    (401, False, False, "failed"),
    (407, False, False, "failed"),
    (500, False, False, "failed"),
    (503, False, False, "failed"),
    (603, False, False, "failed"),
    (302, False, False, "failed"),
    (183, False, False, "failed"),
    (None, False, False, "failed"),
    (None, False, True, "failed"),
    (200, False, True, "failed"),
    (None, True, True, "failed"),
])
def test_outcome_table(status, we_cancelled, transport_error, expected):
    assert outcome_for(status, we_cancelled=we_cancelled, transport_error=transport_error) == expected


@given(st.integers(100, 699), st.booleans(), st.booleans())
def test_every_status_has_one_known_outcome(status, we_cancelled, transport_error):
    outcome = outcome_for(status, we_cancelled=we_cancelled, transport_error=transport_error)
    assert outcome in OUTCOMES
    if transport_error:
        assert outcome == "failed"
    else:
        assert (outcome == "answered") == (200 <= status <= 299)
        # Only 487 depends on who cancelled.
        if status != 487:
            assert outcome == outcome_for(status, we_cancelled=not we_cancelled)


@pytest.mark.parametrize("status", [0, 99, 700, -1])
def test_a_status_outside_sip_is_refused(status):
    with pytest.raises(ValueError, match="outside 100..699"):
        outcome_for(status, we_cancelled=False)


@pytest.mark.parametrize(("header", "cause"), [
    ('Q.850;cause=16;text="Normal call clearing"', 16),
    ("Q.850;cause=17", 17),
    ('Reason: Q.850;cause=17;text="User busy"', 17),
    ('  q.850 ; CAUSE = 21 ; text="Call rejected"', 21),
    ('SIP;cause=200;text="Call completed elsewhere", Q.850;cause=26', 26),
    ('SIP;cause=487;text="a, b; Q.850;cause=3", Q.850;text="x, y";cause=31', 31),
    ('Q.850;cause="18"', 18),
    ("Q.850;cause=0", 0),
    ("Q.850;cause=127", 127),
    ("Q.850;cause=128", None),
    ("Q.850;cause=abc", None),
    ("Q.850;cause=", None),
    ("Q.850", None),
    ('SIP;cause=503;text="Service Unavailable"', None),
    ("", None),
    ("garbage;;;,,,", None),
    ("Q.850;cause=1\u00b2", None),
    ("Q.850;cause=999, Q.850;cause=34", 34),
])
def test_q850_cause(header, cause):
    assert parse_q850(header) == cause


@given(st.integers(0, 127), st.sampled_from(["Q.850", "q.850", "Q.850 "]),
       st.text(alphabet=st.characters(blacklist_characters='"\\\r\n'), max_size=30),
       st.booleans())
def test_q850_cause_round_trip(cause, protocol, text, sip_first):
    header = f'{protocol};cause={cause};text="{text}"'
    if sip_first:
        header = f'SIP;cause=480;text="{text}", {header}'
    assert parse_q850(header) == cause


@given(st.text(max_size=80))
def test_q850_never_raises(header):
    cause = parse_q850(header)
    assert cause is None or 0 <= cause <= 127
