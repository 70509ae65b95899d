"""The contact's time zone: IANA names only, as written."""

import pytest

from kernel import errors
from services.audience.domain.contacts import validate_bulk, validate_contact
from services.audience.domain.timezones import validate_timezone


@pytest.mark.parametrize("name", ["Europe/Paris", "America/New_York", "America/Argentina/Buenos_Aires", "UTC",
                                  "Africa/Casablanca", "Etc/GMT+5"])
def test_iana_names_are_kept_as_written(name):
    assert validate_timezone(f"  {name} ") == name


@pytest.mark.parametrize("blank", [None, "", "   "])
def test_blank_means_none(blank):
    assert validate_timezone(blank) is None


@pytest.mark.parametrize("name", ["europe/paris", "Europe/Atlantis", "CEST", "+02:00", "localtime", "Factory", "../etc/passwd",
                                  "Europe/Paris\x00"])
def test_anything_else_is_refused_naming_the_field(name):
    with pytest.raises(errors.ValidationError) as caught:
        validate_timezone(name, "contacts[3].timezone")
    assert caught.value.field == "contacts[3].timezone"
    assert caught.value.message.startswith("contacts[3].timezone: unknown time zone (an IANA name")


def test_a_contact_carries_its_time_zone():
    assert validate_contact("+33612345678", None, {}, {}, timezone="Europe/Paris").timezone == "Europe/Paris"
    assert validate_contact("+33612345678", None, {}, {}).timezone is None


def test_bulk_items_may_have_a_time_zone_or_not():
    valid = validate_bulk([("+33612345678", None, {}), ("+33612345679", None, {}, "Europe/Paris")], {})
    assert [c.timezone for c in valid] == [None, "Europe/Paris"]
    with pytest.raises(errors.ValidationError, match=r"^contacts\[1\]\.timezone: unknown time zone"):
        validate_bulk([("+33612345678", None, {}), ("+33612345679", None, {}, "Mars/Olympus")], {})
