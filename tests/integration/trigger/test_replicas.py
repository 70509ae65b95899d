"""Two replicas of the trigger service claim from one table: no trigger fires twice."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from outbound.audience.v1 import audience_pb2
from tests.integration.trigger.conftest import new_live, struct
from tests.integration.trigger.helpers import fired_messages, rows
from tests.support.system import wait_until

CONTACTS = 400


@pytest.fixture(scope="module")
def two_replicas(system_factory):
    return system_factory(services=["account", "audience", "trigger"], gateway=False, clock_speed=60,
                          replicas={"trigger": 2})


def test_two_replicas_fire_every_trigger_exactly_once(two_replicas):
    live = new_live(two_replicas)
    now = two_replicas.now()
    # Spread over the next two virtual minutes, some already due: both replicas race for them.
    contacts = [audience_pb2.ContactInput(
        phone=f"+2126{10_000_000 + i:08d}", name=f"C{i}",
        attributes=struct({live.slug: now + timedelta(seconds=(i % 40) * 3 - 20)})) for i in range(CONTACTS)]
    imported = live.audience.BulkImportContacts(audience_pb2.BulkImportContactsRequest(
        organization_id=live.org, contacts=contacts), timeout=60)
    output = live.output_audience()
    execution_id, program_id, created = live.start("after", audience_id=output)
    assert created == CONTACTS

    def all_fired():
        return rows(two_replicas.database_url,
                    "SELECT count(*) FROM triggers WHERE execution_id = %s AND status = 'triggered' AND published",
                    execution_id)[0][0] == CONTACTS

    wait_until(all_fired, message="every trigger fired and published")
    per_trigger = Counter(m.trigger_id for m in fired_messages(two_replicas.nats_url)
                          if m.execution_id == execution_id)
    assert len(per_trigger) == CONTACTS
    assert set(per_trigger.values()) == {1}
    per_contact = Counter(m.contact_id for m in fired_messages(two_replicas.nats_url)
                          if m.execution_id == execution_id)
    assert set(per_contact) == set(imported.contact_ids)
    assert set(per_contact.values()) == {1}
    assert rows(two_replicas.database_url, "SELECT count(*) FROM triggers WHERE execution_id = %s",
                execution_id)[0][0] == CONTACTS
    wait_until(lambda: len(live.members(output)) == CONTACTS, message="output audience filled")
    assert live.triggers(program_id, "pending").triggers == []
