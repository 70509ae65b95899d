import pytest
from hypothesis import given
from hypothesis import strategies as st

from kernel import errors
from services.audience.domain.contacts import merge_attributes, validate_bulk, validate_contact
from services.audience.domain.phones import normalise_phone

TYPES = {"due": "date", "amount": "number", "vip": "boolean", "notes": "text"}


@pytest.mark.parametrize("raw,e164,country", [
    ("+212600000001", "+212600000001", "MA"),
    ("+212 6-00 00 00 01", "+212600000001", "MA"),
    ("+33 6 12 34 56 78", "+33612345678", "FR"),
    ("+1 650 253 0000", "+16502530000", "US"),
])
def test_phones_are_normalised(raw, e164, country):
    assert normalise_phone(raw) == (e164, country)


@pytest.mark.parametrize("raw", ["0612345678", "+1", "+999123", "hello", "", "+2126000000011111"])
def test_invalid_phones(raw):
    with pytest.raises(errors.ValidationError) as caught:
        normalise_phone(raw)
    assert caught.value.field == "phone" and caught.value.message.startswith("phone: invalid phone number")


def test_contact_errors_name_the_field_with_the_prefix():
    with pytest.raises(errors.ValidationError) as caught:
        validate_contact("+212600000001", None, {"colour": "red"}, TYPES, prefix="contacts[4]")
    assert caught.value.message == "contacts[4].attributes.colour: unknown custom attribute"
    with pytest.raises(errors.ValidationError) as caught:
        validate_contact("bad", None, {}, TYPES, prefix="contacts[17]")
    assert caught.value.message.startswith("contacts[17].phone: invalid phone number")


def test_bulk_limits_and_duplicates():
    with pytest.raises(errors.ValidationError) as caught:
        validate_bulk([("+212600000001", None, {})] * 10_001, TYPES)
    assert caught.value.field == "contacts"
    with pytest.raises(errors.ValidationError) as caught:
        validate_bulk([("+212600000001", None, {}), ("+212 600000001", None, {})], TYPES)
    assert caught.value.message == "contacts[1].phone: duplicate of contacts[0].phone"


values = st.one_of(st.booleans(), st.integers(-1000, 1000), st.text(max_size=5))
attributes = st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), values, max_size=4)
patches = st.dictionaries(st.sampled_from(["a", "b", "c", "d", "e"]), st.one_of(st.none(), values), max_size=5)


@given(attributes, patches)
def test_merge(current, patch):
    merged, changed = merge_attributes(current, patch)
    for slug, value in patch.items():
        if value is None:
            assert slug not in merged
        else:
            assert merged[slug] == value
    for slug in set(current) - set(patch):
        assert merged[slug] == current[slug]
    # The changes are exactly what differs, removals as None.
    for slug in set(current) | set(merged):
        before, after = current.get(slug), merged.get(slug)
        differs = (slug in current) != (slug in merged) or type(before) is not type(after) or before != after
        assert (slug in changed) == differs
        if slug in changed:
            assert changed[slug] == after
    assert current == dict(current)  # the input is not mutated
