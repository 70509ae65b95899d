from hypothesis import given
from hypothesis import strategies as st

from services.audience.domain.slugs import MAX_SLUG_LENGTH, derive_slug, is_valid_slug


def test_examples():
    assert derive_slug("Date échéance") == "date_echeance"
    assert derive_slug("  Date d'échéance!! ") == "date_d_echeance"
    assert derive_slug("VIP") == "vip"
    assert derive_slug("Amount (EUR) 2") == "amount_eur_2"
    assert derive_slug("!!!") == ""


@given(st.text(max_size=200))
def test_derived_slugs_are_valid_or_empty_and_stable(name):
    slug = derive_slug(name)
    assert slug == "" or is_valid_slug(slug)
    assert len(slug) <= MAX_SLUG_LENGTH
    assert derive_slug(slug) == slug


@given(st.from_regex(r"[a-z0-9]+(_[a-z0-9]+)*", fullmatch=True).filter(lambda s: len(s) <= MAX_SLUG_LENGTH))
def test_valid_slugs_derive_to_themselves(slug):
    assert is_valid_slug(slug)
    assert derive_slug(slug) == slug


@given(st.text(min_size=1, max_size=30).filter(lambda s: not all(c.isascii() and (c.islower() or c.isdigit()
                                                                                     or c == "_") for c in s)))
def test_slugs_with_other_characters_are_invalid(slug):
    assert not is_valid_slug(slug)
