"""The webhooks service: endpoints, idempotent fan-out of consumed events, signed deliveries,
back-off on failures and the horizon."""

from __future__ import annotations

import time
import uuid

import grpc
import pytest

from kernel.errors import from_rpc_error
from outbound.webhooks.v1 import webhooks_pb2 as pb
from tests.integration.webhooks.conftest import (
    RETRY_BASE_SECONDS,
    call_result,
    create,
    deliveries,
    new_org,
    publish,
    status_changed,
)
from tests.support.system import wait_until
from tests.support.webhook_docs import verify_signature
from tests.support.webhook_receiver import Receiver


def test_an_endpoint_is_created_read_changed_and_deleted(stub, receiver):
    org = new_org()
    created = create(stub, org, receiver.url, ["call.completed", "execution.finished", "call.completed"])
    assert created.secret.startswith("whsec_") and len(created.secret) == 6 + 64
    assert list(created.webhook.events) == ["call.completed", "execution.finished"]
    got = stub.GetWebhook(pb.GetWebhookRequest(organization_id=org, webhook_id=created.webhook.id))
    assert got == created.webhook and got.enabled
    changed = stub.UpdateWebhook(pb.UpdateWebhookRequest(organization_id=org, webhook_id=got.id, enabled=False,
                                                         set_description=True, description="CRM"))
    assert not changed.enabled and changed.description == "CRM" and changed.url == receiver.url
    listed = stub.ListWebhooks(pb.ListWebhooksRequest(organization_id=org)).webhooks
    assert [w.id for w in listed] == [got.id]
    stub.DeleteWebhook(pb.DeleteWebhookRequest(organization_id=org, webhook_id=got.id))
    with pytest.raises(grpc.RpcError) as gone:
        stub.GetWebhook(pb.GetWebhookRequest(organization_id=org, webhook_id=got.id))
    assert from_rpc_error(gone.value).name == "WebhookNotFoundError"


def test_another_organization_sees_nothing(stub, receiver):
    created = create(stub, new_org(), receiver.url, ["call.completed"])
    other = new_org()
    for call in (lambda: stub.GetWebhook(pb.GetWebhookRequest(organization_id=other, webhook_id=created.webhook.id)),
                 lambda: stub.DeleteWebhook(pb.DeleteWebhookRequest(organization_id=other,
                                                                    webhook_id=created.webhook.id)),
                 lambda: stub.SendTestEvent(pb.SendTestEventRequest(organization_id=other,
                                                                    webhook_id=created.webhook.id))):
        with pytest.raises(grpc.RpcError) as refused:
            call()
        assert refused.value.code() == grpc.StatusCode.NOT_FOUND
        assert from_rpc_error(refused.value).name == "WebhookNotFoundError"


@pytest.mark.parametrize(("url", "events", "needle"), [
    ("ftp://127.0.0.1/x", ["call.completed"], "http"),
    ("http://127.0.0.1:1/x", ["execution.started"], "unknown event type"),
    ("http://127.0.0.1:1/x", [], "at least one"),
    ("http://no-such-host.invalid/x", ["call.completed"], "does not resolve"),
])
def test_bad_endpoints_are_refused(stub, url, events, needle):
    org = new_org()
    with pytest.raises(grpc.RpcError) as refused:
        create(stub, org, url, events)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert needle in refused.value.details()
    assert not stub.ListWebhooks(pb.ListWebhooksRequest(organization_id=org)).webhooks


def test_the_same_message_twice_is_one_delivery_with_a_verified_signature(system, stub, receiver):
    org, execution = new_org(), str(uuid.uuid4())
    created = create(stub, org, receiver.url, ["execution.status_changed"])
    payload = status_changed(org, execution, 7, "scheduled", "running")
    # Two publishes with distinct message ids: JetStream's de-duplication does not hide the second.
    publish(system, "execution.status_changed", payload)
    publish(system, "execution.status_changed", payload)
    wait_until(lambda: receiver.requests(), message="the delivery")
    wait_until(lambda: [d.status for d in deliveries(stub, org, created.webhook.id)] == ["delivered"],
               message="the delivery recorded")
    # A later message of the same organization shows the consumer went past both copies.
    publish(system, "execution.status_changed", status_changed(org, execution, 8, "running", "paused"))
    wait_until(lambda: len(deliveries(stub, org, created.webhook.id, "delivered")) == 2, message="second")
    wait_until(lambda: len(receiver.requests()) >= 2, message="second request")
    events = receiver.events()
    assert [e["data"]["status"] for e in events] == ["running", "paused"] or \
        sorted(e["data"]["status"] for e in events) == ["paused", "running"]
    first = next(r for r in receiver.requests() if r.json["data"]["status"] == "running")
    assert verify_signature(created.secret, first.body, first.headers["Outbound-Signature"])
    assert not verify_signature("whsec_other", first.body, first.headers["Outbound-Signature"])
    assert first.headers["Outbound-Event-Id"] == first.json["id"]
    assert first.headers["Content-Type"] == "application/json"
    body = first.json
    assert body["type"] == "execution.status_changed" and body["createdAt"] == "2026-01-05T10:00:00.000Z"
    assert body["data"]["previousStatus"] == "scheduled" and body["data"]["executionId"] == execution
    assert body["data"]["execution"]["totalContacts"] == 3 and body["data"]["execution"]["contactsPending"] == 2
    listed = deliveries(stub, org, created.webhook.id)
    assert {d.event_id for d in listed} == {e["id"] for e in events}
    assert all(d.attempts == 1 and d.response_code == 200 and d.delivered_at for d in listed)


def test_a_terminal_change_is_also_finished_and_an_opt_out_is_its_own_event(system, stub, receiver):
    org, execution = new_org(), str(uuid.uuid4())
    created = create(stub, org, receiver.url, ["execution.finished", "call.completed", "contact.opted_out"])
    publish(system, "execution.status_changed", status_changed(org, execution, 1, "", "running"))
    publish(system, "execution.status_changed", status_changed(org, execution, 2, "running", "completed"))
    publish(system, "call.completed", call_result(org, f"{execution}:c-1:1", opted_out=True))
    publish(system, "call.completed", call_result(new_org(), f"{execution}:c-9:1"))  # another tenant's call
    wait_until(lambda: len(receiver.requests()) >= 3, message="three events")
    wait_until(lambda: len(deliveries(stub, org, created.webhook.id, "delivered")) == 3, message="recorded")
    by_type = {e["type"]: e for e in receiver.events()}
    assert set(by_type) == {"execution.finished", "call.completed", "contact.opted_out"}
    assert by_type["execution.finished"]["data"]["status"] == "completed"
    call = by_type["call.completed"]["data"]
    assert call["contactId"] == "c-1" and call["outcome"] == "answered" and call["talkSeconds"] == 28
    assert call["nodeIds"] == ["welcome", "bye"] and call["sipCode"] is None
    assert by_type["contact.opted_out"]["data"] == {"phone": "+212600000001", "executionId": execution,
                                                    "contactId": "c-1", "occurredAt": "2026-01-05T10:00:30.000Z"}
    assert len(receiver.requests()) == 3


def test_a_failing_receiver_sees_growing_gaps_then_the_delivery_succeeds(system, stub):
    receiver = Receiver(status=500).start()
    try:
        org = new_org()
        created = create(stub, org, receiver.url, ["webhook.test"])
        event_id = stub.SendTestEvent(pb.SendTestEventRequest(organization_id=org,
                                                              webhook_id=created.webhook.id)).event_id
        wait_until(lambda: len(receiver.requests()) >= 3, message="three attempts")
        pending = deliveries(stub, org, created.webhook.id)[0]
        assert pending.status == "pending" and pending.attempts >= 2
        assert pending.response_code == 500 and "HTTP 500" in pending.last_error and pending.next_retry_at
        receiver.status = 200
        wait_until(lambda: deliveries(stub, org, created.webhook.id, "delivered"), message="delivered")
        attempts = receiver.requests()
        assert {r.headers["Outbound-Event-Id"] for r in attempts} == {event_id}
        assert len({r.body for r in attempts}) == 1  # every attempt sends the same body
        gaps = [b.at - a.at for a, b in zip(attempts, attempts[1:], strict=False)]
        assert gaps[0] >= 0.75 * RETRY_BASE_SECONDS
        assert all(later > earlier for earlier, later in zip(gaps, gaps[1:], strict=False)), gaps
    finally:
        receiver.stop()


def test_a_delivery_is_failed_after_the_horizon(system, stub):
    receiver = Receiver(status=503).start()
    try:
        org = new_org()
        created = create(stub, org, receiver.url, ["webhook.test"])
        stub.SendTestEvent(pb.SendTestEventRequest(organization_id=org, webhook_id=created.webhook.id))
        failed = wait_until(lambda: deliveries(stub, org, created.webhook.id, "failed"), message="failed")[0]
        assert failed.attempts == len(receiver.requests()) >= 3
        assert failed.response_code == 503 and "HTTP 503" in failed.last_error
        assert not failed.next_retry_at and not failed.delivered_at
        count = len(receiver.requests())
        time.sleep(3 * RETRY_BASE_SECONDS)  # nothing more is sent: the failure is final
        assert len(receiver.requests()) == count
    finally:
        receiver.stop()


def test_a_receiver_that_is_down_gets_everything_once_it_is_up(system, stub):
    receiver = Receiver()
    org, execution = new_org(), str(uuid.uuid4())
    created = create(stub, org, receiver.url, ["call.completed"])
    for n in range(5):
        publish(system, "call.completed", call_result(org, f"{execution}:c-{n}:1"))
    wait_until(lambda: all(d.attempts >= 1 and "connection" in d.last_error
                           for d in deliveries(stub, org, created.webhook.id)) and
               len(deliveries(stub, org, created.webhook.id)) == 5, message="failed attempts while down")
    receiver.start()
    try:
        wait_until(lambda: len(deliveries(stub, org, created.webhook.id, "delivered")) == 5, message="all delivered")
        assert sorted(e["data"]["contactId"] for e in receiver.events()) == [f"c-{n}" for n in range(5)]
    finally:
        receiver.stop()


def test_deliveries_are_paged_and_filtered(stub, receiver):
    org = new_org()
    created = create(stub, org, receiver.url, ["webhook.test"])
    sent = {stub.SendTestEvent(pb.SendTestEventRequest(organization_id=org, webhook_id=created.webhook.id)).event_id
            for _ in range(5)}
    wait_until(lambda: len(deliveries(stub, org, created.webhook.id, "delivered")) == 5, message="delivered")
    seen, cursor = [], ""
    while True:
        page = stub.ListDeliveries(pb.ListDeliveriesRequest(organization_id=org, webhook_id=created.webhook.id,
                                                            limit=2, cursor=cursor))
        seen += [d.event_id for d in page.deliveries]
        cursor = page.next_cursor
        if not cursor:
            break
    assert sorted(seen) == sorted(sent)
    assert deliveries(stub, org, created.webhook.id, "failed") == []
    with pytest.raises(grpc.RpcError) as bad:
        deliveries(stub, org, created.webhook.id, "lost")
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_private_urls_are_refused_when_not_allowed(system_factory):
    strict = system_factory(services=["webhooks"], gateway=False, extra_env={"WEBHOOK_ALLOW_PRIVATE": "0"})
    from outbound.webhooks.v1 import webhooks_pb2_grpc

    channel = strict.channel("webhooks")
    try:
        stub = webhooks_pb2_grpc.WebhookServiceStub(channel)
        org = new_org()
        for url, needle in (("http://127.0.0.1:8080/hook", "loopback"), ("http://localhost/hook", "loopback"),
                            ("http://10.0.0.7/hook", "private"), ("http://169.254.169.254/latest", "link-local")):
            with pytest.raises(grpc.RpcError) as refused:
                create(stub, org, url, ["call.completed"])
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert needle in refused.value.details() and "only public addresses" in refused.value.details()
        assert not stub.ListWebhooks(pb.ListWebhooksRequest(organization_id=org)).webhooks
    finally:
        channel.close()


def test_at_most_four_requests_are_in_flight_per_endpoint(stub):
    receiver = Receiver(delay=1.0).start()
    try:
        org = new_org()
        created = create(stub, org, receiver.url, ["webhook.test"])
        for _ in range(12):
            stub.SendTestEvent(pb.SendTestEventRequest(organization_id=org, webhook_id=created.webhook.id))
        wait_until(lambda: len(deliveries(stub, org, created.webhook.id, "delivered")) == 12, message="delivered")
        assert 2 <= receiver.max_in_flight <= 4, receiver.max_in_flight
        assert len(receiver.requests()) == 12
    finally:
        receiver.stop()


def test_two_replicas_share_the_deliveries_without_sending_any_twice(system_factory):
    pair = system_factory(services=["webhooks"], gateway=False, replicas={"webhooks": 2})
    from outbound.webhooks.v1 import webhooks_pb2_grpc

    receiver = Receiver(delay=0.2).start()
    channel = pair.channel("webhooks")
    try:
        stub = webhooks_pb2_grpc.WebhookServiceStub(channel)
        org, execution = new_org(), str(uuid.uuid4())
        created = create(stub, org, receiver.url, ["call.completed"])
        for n in range(30):
            publish(pair, "call.completed", call_result(org, f"{execution}:c-{n}:1"))
        wait_until(lambda: len(deliveries(stub, org, created.webhook.id, "delivered")) == 30, message="delivered")
        ids = [r.headers["Outbound-Event-Id"] for r in receiver.requests()]
        assert len(ids) == len(set(ids)) == 30
        assert all(d.attempts == 1 for d in deliveries(stub, org, created.webhook.id))
    finally:
        channel.close()
        receiver.stop()
