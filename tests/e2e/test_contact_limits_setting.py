"""PUT/GET /api/settings/contact-limits: the organization's frequency cap, set, replaced and removed
with `null`, integers within the documented bounds, per organization."""

from __future__ import annotations

import pytest

from tests.support.system import System

PATH = "/settings/contact-limits"


@pytest.fixture(scope="module")
def system(system_factory) -> System:
    return system_factory(services=["account"])


def test_limits_are_null_until_set_and_null_removes_them(system):
    org = system.create_org()
    assert org.get(PATH).status_code == 200 and org.get(PATH).json() is None
    answer = org.http.put(PATH, json={"maxAttempts": 4, "perDays": 30})
    assert answer.status_code == 200 and answer.json() == {"maxAttempts": 4, "perDays": 30}
    assert org.get(PATH).json() == {"maxAttempts": 4, "perDays": 30}
    assert org.http.put(PATH, json={"maxAttempts": 2, "perDays": 1}).json() == {"maxAttempts": 2, "perDays": 1}
    removed = org.http.put(PATH, content=b"null", headers={"content-type": "application/json"})
    assert removed.status_code == 200 and removed.json() is None
    assert org.get(PATH).json() is None


def test_each_organization_sees_only_its_own_limits(system):
    first, second = system.create_org(), system.create_org()
    first.http.put(PATH, json={"maxAttempts": 4, "perDays": 30})
    assert second.get(PATH).json() is None
    second.http.put(PATH, json={"maxAttempts": 1000, "perDays": 365})
    assert first.get(PATH).json() == {"maxAttempts": 4, "perDays": 30}


@pytest.mark.parametrize(("body", "message"), [
    ({"maxAttempts": 0, "perDays": 30}, "maxAttempts: must be between 1 and 1000"),
    ({"maxAttempts": 1001, "perDays": 30}, "maxAttempts: must be between 1 and 1000"),
    ({"maxAttempts": 2**40, "perDays": 30}, "maxAttempts: must be between 1 and 1000"),
    ({"maxAttempts": 4, "perDays": 0}, "perDays: must be between 1 and 365"),
    ({"maxAttempts": 4, "perDays": 366}, "perDays: must be between 1 and 365"),
    ({"maxAttempts": 4.5, "perDays": 30}, "maxAttempts: Input should be a valid integer"),
    ({"maxAttempts": 4.0, "perDays": 30}, "maxAttempts: Input should be a valid integer"),
    ({"maxAttempts": "4", "perDays": 30}, "maxAttempts: Input should be a valid integer"),
    ({"maxAttempts": 4, "perDays": True}, "perDays: Input should be a valid integer"),
    ({"maxAttempts": 4}, "perDays: Field required"),
    ({"maxAttempts": 4, "perDays": 30, "per": 1}, "per: unknown field"),
])
def test_invalid_limits_are_a_validation_error_and_change_nothing(system, body, message):
    org = system.create_org()
    org.http.put(PATH, json={"maxAttempts": 3, "perDays": 7})
    answer = org.http.put(PATH, json=body)
    assert answer.status_code == 400
    assert answer.json() == {"error": "ValidationError", "message": message}
    assert org.get(PATH).json() == {"maxAttempts": 3, "perDays": 7}


def test_the_setting_needs_a_key(system):
    assert system.http.get(PATH).status_code == 401
    assert system.http.put(PATH, json={"maxAttempts": 4, "perDays": 30}).status_code == 401
