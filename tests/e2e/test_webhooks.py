"""Webhooks end to end: endpoints over REST, a real campaign on a fast clock, and a real HTTP
receiver that verifies every signature with the snippet of docs/webhooks.md."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.support.campaigns import SIM_RULES, Tenant
from tests.support.system import System, wait_until
from tests.support.webhook_docs import verify_signature
from tests.support.webhook_receiver import Receiver

pytestmark = pytest.mark.e2e

CONTACTS = 5


@pytest.fixture(scope="module")
def fast(system_factory) -> System:
    return system_factory(clock_speed=120, sim_rules=SIM_RULES, extra_env={"WEBHOOK_RETRY_BASE_SECONDS": "1"})


@pytest.fixture(scope="module")
def tenant(fast: System) -> Tenant:
    return Tenant(fast)


def deliveries(tenant: Tenant, webhook_id: str, **params) -> list[dict]:
    out, cursor = [], None
    while True:
        answer = tenant.org.get(f"/webhooks/{webhook_id}/deliveries",
                                params={**params, **({"cursor": cursor} if cursor else {})})
        assert answer.status_code == 200, answer.text
        out.extend(answer.json())
        cursor = answer.headers.get("X-Next-Cursor")
        if not cursor:
            return out


def test_a_campaign_is_delivered_signed_even_to_a_receiver_that_was_down(tenant: Tenant):
    receiver = Receiver()  # not started: down
    made = tenant.org.post("/webhooks", json={
        "url": receiver.url, "description": "CRM",
        "events": ["execution.status_changed", "execution.finished", "call.completed"]})
    assert made.status_code == 201, made.text
    webhook = made.json()
    secret = webhook.pop("secret")
    assert secret.startswith("whsec_") and webhook["enabled"] is True and webhook["description"] == "CRM"
    shown = tenant.org.get(f"/webhooks/{webhook['id']}")
    assert shown.status_code == 200 and shown.json() == webhook and "secret" not in shown.json()
    assert all("secret" not in w for w in tenant.org.get("/webhooks").json())

    program = tenant.program(tenant.audience(CONTACTS))
    execution_id = tenant.launch(program["id"])
    # While the receiver is down, attempts fail and are kept.
    wait_until(lambda: any(d["attempts"] >= 1 and d["status"] == "pending" and "connection" in (d["lastError"] or "")
                           for d in deliveries(tenant, webhook["id"])), message="a failed attempt")
    tenant.wait_status(execution_id, "completed")
    receiver.start()
    try:
        calls = tenant.calls(execution_id)
        assert len(calls) == CONTACTS
        expected = 2 + 1 + len(calls)  # created running, completed; finished; a call.completed per call
        wait_until(lambda: len(deliveries(tenant, webhook["id"], status="delivered")) == expected,
                   message="every event delivered")
        listed = deliveries(tenant, webhook["id"])
        assert len(listed) == expected and all(d["status"] == "delivered" for d in listed)

        requests = receiver.requests()
        for request in requests:  # every request, retries included, is signed as the doc says
            assert verify_signature(secret, request.body, request.headers["Outbound-Signature"])
            assert request.headers["Outbound-Event-Id"] == request.json["id"]
        by_id = {r.json["id"]: r.json for r in requests}
        assert set(by_id) == {d["eventId"] for d in listed}  # none lost, one id per event
        types = Counter(e["type"] for e in by_id.values())
        assert types == {"execution.status_changed": 2, "execution.finished": 1, "call.completed": len(calls)}
        changes = sorted((e["data"]["previousStatus"] or "", e["data"]["status"]) for e in by_id.values()
                         if e["type"] == "execution.status_changed")
        assert changes == [("", "running"), ("running", "completed")]
        finished = next(e for e in by_id.values() if e["type"] == "execution.finished")["data"]
        assert finished["executionId"] == execution_id and finished["status"] == "completed"
        assert finished["execution"]["contactsCompleted"] == CONTACTS
        final = tenant.execution(execution_id)
        for counter in ("totalContacts", "contactsCompleted", "contactsFailed", "contactsPending",
                        "contactsInProgress", "contactsSkipped"):
            assert finished["execution"][counter] == final[counter], counter
        delivered_calls = {(e["data"]["contactId"], e["data"]["attempt"]): e["data"] for e in by_id.values()
                           if e["type"] == "call.completed"}
        assert set(delivered_calls) == {(c["contactId"], c["attempt"]) for c in calls}
        for call in calls:
            sent = delivered_calls[(call["contactId"], call["attempt"])]
            assert sent["executionId"] == execution_id
            for field in ("phone", "outcome", "didNumber", "startedAt", "answeredAt", "endedAt", "talkSeconds",
                          "nodeIds", "sipCode", "q850Cause"):
                assert sent[field] == call[field], field
    finally:
        receiver.stop()


def test_the_test_event_and_the_deliveries_listing(tenant: Tenant):
    receiver = Receiver().start()
    try:
        webhook = tenant.org.post("/webhooks", json={"url": receiver.url, "events": ["call.completed"]}).json()
        sent = []
        for _ in range(3):
            answer = tenant.org.post(f"/webhooks/{webhook['id']}/test")
            assert answer.status_code == 202, answer.text
            sent.append(answer.json()["eventId"])
        wait_until(lambda: len(deliveries(tenant, webhook["id"], status="delivered")) == 3, message="test events")
        events = receiver.events()
        assert sorted(e["id"] for e in events) == sorted(sent)
        assert all(e["type"] == "webhook.test" and e["data"]["webhookId"] == webhook["id"] for e in events)
        for request in receiver.requests():
            assert verify_signature(webhook["secret"], request.body, request.headers["Outbound-Signature"])

        first = tenant.org.get(f"/webhooks/{webhook['id']}/deliveries", params={"limit": 2})
        assert first.status_code == 200 and len(first.json()) == 2 and first.headers["X-Next-Cursor"]
        rest = tenant.org.get(f"/webhooks/{webhook['id']}/deliveries",
                              params={"limit": 2, "cursor": first.headers["X-Next-Cursor"]})
        assert len(rest.json()) == 1 and "X-Next-Cursor" not in rest.headers
        one = rest.json()[0]
        assert set(one) == {"id", "eventId", "type", "status", "attempts", "responseCode", "lastError",
                            "nextRetryAt", "createdAt", "deliveredAt"}
        assert one["status"] == "delivered" and one["responseCode"] == 200 and one["attempts"] == 1
        assert one["deliveredAt"] and one["nextRetryAt"] is None and one["lastError"] is None
        assert tenant.org.get(f"/webhooks/{webhook['id']}/deliveries", params={"status": "failed"}).json() == []
        bad = tenant.org.get(f"/webhooks/{webhook['id']}/deliveries", params={"status": "lost"})
        assert bad.status_code == 400 and bad.json()["error"] == "ValidationError"
    finally:
        receiver.stop()


def test_changes_errors_and_tenancy(tenant: Tenant, fast: System):
    receiver = Receiver()
    webhook = tenant.org.post("/webhooks", json={"url": receiver.url, "events": ["call.completed"]}).json()
    path = f"/webhooks/{webhook['id']}"
    changed = tenant.org.patch(path, json={"enabled": False, "events": ["contact.opted_out", "call.completed"],
                                           "description": "billing"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["enabled"] is False and changed.json()["events"] == ["contact.opted_out", "call.completed"]
    cleared = tenant.org.patch(path, json={"description": None})
    assert cleared.json()["description"] is None and cleared.json()["enabled"] is False

    for body, needle in (({"url": "ftp://x.example/", "events": ["call.completed"]}, "http"),
                         ({"url": receiver.url, "events": ["call.started"]}, "unknown event type"),
                         ({"url": receiver.url, "events": ["call.completed"], "secret": "mine"}, "")):
        refused = tenant.org.post("/webhooks", json=body)
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"] == "ValidationError" and needle in refused.json()["message"]
    assert tenant.org.patch(path, json={"events": []}).status_code == 400

    other = fast.create_org("Other")
    for answer in (other.get(path), other.patch(path, json={"enabled": True}), other.delete(path),
                   other.post(f"{path}/test"), other.get(f"{path}/deliveries")):
        assert answer.status_code == 404, answer.text
        assert answer.json()["error"] == "WebhookNotFoundError"
    assert other.get("/webhooks").json() == []

    assert tenant.org.delete(path).status_code == 204
    gone = tenant.org.get(path)
    assert gone.status_code == 404 and gone.json()["error"] == "WebhookNotFoundError"
    assert tenant.org.get("/webhooks/not-a-uuid").status_code == 404
