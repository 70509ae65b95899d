"""The trigger service against real PostgreSQL, NATS and the real account and audience services."""

from __future__ import annotations

import uuid
from datetime import timedelta

import grpc
import pytest

from kernel.timefmt import parse_iso
from outbound.execution.v1 import events_pb2 as execution_events
from outbound.program.v1 import program_pb2
from tests.integration.trigger.conftest import new_live
from tests.integration.trigger.helpers import fired_messages, publish, rows
from tests.support.system import wait_until


def by_contact(live, program_id, status=""):
    return {t.contact_id: t for t in live.triggers(program_id, status).triggers}


def fired_for(system, execution_id):
    return [m for m in fired_messages(system.nats_url) if m.execution_id == execution_id]


def test_launch_precomputes_one_trigger_per_contact_with_the_attribute(live_system):
    live = new_live(live_system)
    now = live_system.now()
    due = (now + timedelta(days=40)).replace(microsecond=0)
    a = live.contact("+212600000101", "Ahmed", due)
    b = live.contact("+212600000102", None, due + timedelta(days=1))
    live.contact("+212600000103", "No date")
    live.contact("+212600000104", "Other attribute", note="x")

    execution_id, program_id, created = live.start("before", days=2, hours=15)
    assert created == 2
    # Idempotent per execution: a repeated start computes nothing more.
    assert live.start("before", days=2, hours=15, execution_id=execution_id, program_id=program_id)[2] == 2
    found = by_contact(live, program_id)
    assert set(found) == {a, b}
    first = found[a]
    assert first.contact_name == "Ahmed" and first.contact_phone == "+212600000101"
    assert parse_iso(first.attribute_value) == due
    assert parse_iso(first.trigger_at) == due - timedelta(days=2, hours=15)
    assert first.status == "pending" and first.triggered_at == "" and first.execution_id == execution_id
    assert not found[b].HasField("contact_name")
    assert len(rows(live_system.database_url, "SELECT 1 FROM triggers WHERE execution_id = %s", execution_id)) == 2

    # "after" adds the offset.
    _, program_after, _ = live.start("after", minutes=30)
    assert parse_iso(by_contact(live, program_after)[a].trigger_at) == due + timedelta(minutes=30)


def test_due_triggers_fire_exactly_once_in_order_and_join_the_output_audience(live_system):
    live = new_live(live_system)
    now = live_system.now()
    late = live.contact("+212600000201", "Late", now + timedelta(minutes=3))
    overdue = live.contact("+212600000202", "Overdue", now - timedelta(days=2))
    soon = live.contact("+212600000203", "Soon", now + timedelta(minutes=1))
    future = live.contact("+212600000204", "Future", now + timedelta(days=30))
    output = live.output_audience()

    execution_id, program_id, created = live.start("after", minutes=0, audience_id=output)
    assert created == 4
    wait_until(lambda: len(fired_for(live_system, execution_id)) >= 3, message="three fired triggers")
    messages = fired_for(live_system, execution_id)
    assert [m.contact_id for m in messages] == [overdue, soon, late]
    for message in messages:
        assert parse_iso(message.fired_at) >= parse_iso(message.trigger_at)
        assert message.program_id == program_id and message.organization_id == live.org
        assert message.phone and message.name
    assert live.members(output) == {overdue, soon, late}

    triggers = by_contact(live, program_id)
    assert {c for c, t in triggers.items() if t.status == "triggered"} == {overdue, soon, late}
    assert triggers[future].status == "pending"
    for contact in (overdue, soon, late):
        trigger = triggers[contact]
        assert parse_iso(trigger.triggered_at) >= parse_iso(trigger.trigger_at)
    published = rows(live_system.database_url,
                     "SELECT count(*) FROM triggers WHERE execution_id = %s AND status = 'triggered' AND published",
                     execution_id)
    assert published[0][0] == 3
    # Nothing fires a second time.
    live.start("after", execution_id=execution_id, program_id=program_id, audience_id=output)
    assert len(fired_for(live_system, execution_id)) == 3


def test_contact_changes_move_cancel_and_create_triggers(live_system):
    live = new_live(live_system)
    now = live_system.now()
    far = (now + timedelta(days=60)).replace(microsecond=0)
    moved = live.contact("+212600000301", "Moved", far)
    removed = live.contact("+212600000302", "Removed", far)
    deleted = live.contact("+212600000303", "Deleted", far)
    renamed = live.contact("+212600000304", "Old name", far)
    later_set = live.contact("+212600000305", "Later")
    fires = live.contact("+212600000306", "Fires", far)
    execution_id, program_id, created = live.start("before", days=1)
    assert created == 5

    live.set_due(moved, far + timedelta(days=3))
    live.set_due(removed, None)
    live.delete(deleted)
    live.rename(renamed, "New name")
    live.set_due(later_set, far)
    born = live.contact("+212600000307", "Born", far)
    live.set_due(fires, now - timedelta(days=1))

    def settled():
        found = by_contact(live, program_id)
        return (parse_iso(found[moved].trigger_at) == far + timedelta(days=2)
                and found[removed].status == "cancelled" and found[deleted].status == "cancelled"
                and found[renamed].contact_name == "New name"
                and later_set in found and born in found
                and found[fires].status == "triggered") and found

    found = wait_until(settled, message="contact changes applied")
    assert parse_iso(found[moved].attribute_value) == far + timedelta(days=3)
    assert found[moved].status == "pending"
    assert found[later_set].status == "pending" and parse_iso(found[later_set].trigger_at) == far - timedelta(days=1)
    assert found[born].status == "pending"

    # A new value after the trigger fired: the fired one stays and a new pending trigger is made.
    live.set_due(fires, far)
    wait_until(lambda: len(live.triggers(program_id, "pending").triggers) == 5, message="new pending trigger")
    statuses = sorted(t.status for t in live.triggers(program_id).triggers if t.contact_id == fires)
    assert statuses == ["pending", "triggered"]
    assert len([m for m in fired_for(live_system, execution_id) if m.contact_id == fires]) == 1


def test_ending_cancels_pending_triggers_and_ignores_later_changes(live_system):
    live = new_live(live_system)
    far = live_system.now() + timedelta(days=10)
    one = live.contact("+212600000401", "One", far)
    live.contact("+212600000402", "Two", far)
    execution_id, program_id, _ = live.start("before", days=1)
    assert live.end(execution_id) == 2
    assert live.end(execution_id) == 0
    assert {t.status for t in live.triggers(program_id).triggers} == {"cancelled"}
    live.set_due(one, far + timedelta(days=1))
    live.contact("+212600000403", "Three", far)
    # An end before the start: the start creates nothing.
    early = str(uuid.uuid4())
    assert live.end(early) == 0
    assert live.start("before", execution_id=early)[2] == 0

    # execution.ended from the execution service ends a live execution too.
    other, other_program, _ = live.start("before", days=1)
    event = execution_events.ExecutionLifecycle(
        execution_id=other, program_id=other_program, organization_id=live.org, mode="live", status="cancelled",
        trigger_condition=program_pb2.TriggerCondition(type="date", attribute_name=live.slug, direction="before"))
    publish(live_system.nats_url, "execution.ended", event.SerializeToString(), f"execution.ended:{other}")
    wait_until(lambda: {t.status for t in live.triggers(other_program).triggers} == {"cancelled"},
               message="execution.ended cancels")
    assert len(live.triggers(other_program).triggers) == 3
    assert len(live.triggers(program_id).triggers) == 2


def test_list_pages_newest_execution_first_then_trigger_at(live_system):
    live = new_live(live_system)
    base = live_system.now() + timedelta(days=20)
    for i in range(5):
        live.contact(f"+21260000050{i}", f"C{i}", base + timedelta(hours=5 - i))
    program_id = str(uuid.uuid4())
    old, _, _ = live.start("before", days=1, program_id=program_id)
    live.end(old)
    new, _, _ = live.start("before", days=1, program_id=program_id)
    seen, cursor = [], ""
    while True:
        page = live.triggers(program_id, limit=3, cursor=cursor)
        seen.extend(page.triggers)
        cursor = page.next_cursor
        if not cursor:
            break
    assert [t.execution_id for t in seen] == [new] * 5 + [old] * 5
    assert [t.trigger_at for t in seen[:5]] == sorted(t.trigger_at for t in seen[:5])
    assert len({t.id for t in seen}) == 10
    assert {t.status for t in live.triggers(program_id, "pending").triggers} == {"pending"}
    assert len(live.triggers(program_id, "cancelled").triggers) == 5
    with pytest.raises(grpc.RpcError) as caught:
        live.triggers(program_id, status="fired")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert live.triggers(str(uuid.uuid4())).triggers == []


def test_sweeper_publishes_triggers_left_unpublished_by_a_crash(live_system):
    live = new_live(live_system)
    contact = live.contact("+212600000601", "Crash", live_system.now() + timedelta(days=5))
    output = live.output_audience()
    execution_id, program_id, _ = live.start("before", days=1, audience_id=output)
    # The state a replica leaves when it dies after committing the claim and before publishing.
    trigger_id = str(rows(live_system.database_url, """
        UPDATE triggers SET status = 'triggered', triggered_at = trigger_at, published = false,
               publish_lease_until = now() - interval '1 second'
        WHERE execution_id = %s RETURNING id""", execution_id)[0][0])
    wait_until(lambda: [m for m in fired_for(live_system, execution_id) if m.trigger_id == trigger_id],
               message="the sweeper's publish")
    wait_until(lambda: rows(live_system.database_url, "SELECT published FROM triggers WHERE id = %s",
                            trigger_id)[0][0], message="marked published")
    assert live.members(output) == {contact}
    assert len(fired_for(live_system, execution_id)) == 1
    assert by_contact(live, program_id)[contact].status == "triggered"
