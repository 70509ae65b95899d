"""A contact's zones: its own timezone, else its number's (phonenumbers' data), else the program's;
and the key that groups contacts by their zones."""

from hypothesis import given
from hypothesis import strategies as s

from campaign_rules.contact_zones import is_valid_timezone, number_zones, zone_key, zones_for, zones_of


def test_a_number_gives_its_zone():
    assert zones_for("+12125550123", None, "UTC") == ("America/New_York",)
    assert zones_for("+13105550123", None, "UTC") == ("America/Los_Angeles",)
    assert zones_for("+33612345678", None, "UTC") == ("Europe/Paris",)


def test_the_contacts_own_timezone_wins_when_known():
    assert zones_for("+12125550123", "Europe/Paris", "UTC") == ("Europe/Paris",)
    assert zones_for("+12125550123", "Mars/Olympus_Mons", "UTC") == ("America/New_York",)
    assert zones_for("+12125550123", "", "UTC") == ("America/New_York",)


def test_a_number_spanning_several_zones_gives_them_all_sorted():
    zones = zones_for("+18005550123", None, "UTC")
    assert len(zones) > 3 and list(zones) == sorted(set(zones))
    assert {"America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"} <= set(zones)
    assert all(is_valid_timezone(zone) for zone in zones)


def test_an_unknown_or_unparsable_number_falls_back_to_the_program_zone():
    assert number_zones("+15550100") == ()  # phonenumbers says Etc/Unknown
    assert zones_for("+15550100", None, "Africa/Casablanca") == ("Africa/Casablanca",)
    assert zones_for("not a number", None, "Europe/Paris") == ("Europe/Paris",)
    assert zones_for("", None, "UTC") == ("UTC",)


def test_valid_timezones_are_the_zoneinfo_database():
    assert is_valid_timezone("Europe/Paris") and is_valid_timezone("UTC")
    assert not is_valid_timezone("Etc/Unknown")
    assert not is_valid_timezone("europe/paris")
    assert not is_valid_timezone("")


@given(s.from_regex(r"\+[1-9][0-9]{6,13}", fullmatch=True), s.sampled_from(["UTC", "Asia/Tokyo"]))
def test_zones_are_never_empty_and_always_known(phone, fallback):
    zones = zones_for(phone, None, fallback)
    assert zones and all(is_valid_timezone(zone) for zone in zones)
    assert list(zones) == sorted(set(zones))


zone_lists = s.lists(s.sampled_from(["America/New_York", "Europe/Paris", "UTC", "America/Argentina/Buenos_Aires"]),
                     min_size=1, max_size=4)


@given(zone_lists)
def test_the_key_gives_back_the_zones(zones):
    key = zone_key(zones)
    assert zones_of(key) == tuple(sorted(set(zones)))
    assert zone_key(reversed(zones)) == key
    assert zones_of("") == ()
