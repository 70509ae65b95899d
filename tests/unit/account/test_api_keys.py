from hypothesis import given
from hypothesis import strategies as st

from services.account.domain import api_keys


def test_issued_key_parses_back_and_matches_its_hash():
    key = api_keys.issue()
    parsed = api_keys.parse(key.plaintext)
    assert parsed is not None and parsed.key_id == key.key_id
    assert api_keys.matches(parsed.secret, key.secret_sha256)
    assert parsed.secret not in key.secret_sha256.hex()


def test_keys_are_unique():
    assert len({api_keys.issue().plaintext for _ in range(200)}) == 200


@given(st.text(max_size=80))
def test_parse_never_raises_and_rejects_garbage(text):
    parsed = api_keys.parse(text)
    if parsed is not None:
        assert text == f"ob_{parsed.key_id}_{parsed.secret}"


def test_a_different_secret_does_not_match():
    key = api_keys.issue()
    assert not api_keys.matches("other", key.secret_sha256)
