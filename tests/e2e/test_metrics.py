"""/metrics of every service process and of the gateway answer with the operational metrics
after a real campaign: calls per outcome, dial requests in flight, claim latency, trigger lag,
consumer redeliveries and gRPC latency per method."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from kernel.timefmt import iso
from outbound_cli.serve import SERVICES
from tests.support.campaigns import ANSWER, RETRY_THEN_ANSWER, SIM_RULES, Tenant, serial
from tests.support.system import HANG_GUARD_SECONDS, System, wait_until

pytestmark = pytest.mark.e2e

Samples = dict[str, list[tuple[dict[str, str], float]]]


def scrape(port: int) -> Samples:
    """Every sample of a /metrics page, by sample name (…_total, …_count, …_bucket included)."""
    answer = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=HANG_GUARD_SECONDS)
    assert answer.status_code == 200, answer.text
    samples: Samples = defaultdict(list)
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            samples[sample.name].append((sample.labels, sample.value))
    return samples


def total(samples: Samples, name: str, **labels: str) -> float:
    return sum(value for found, value in samples.get(name, [])
               if all(found.get(k) == v for k, v in labels.items()))


def service_metrics(system: System) -> dict[str, Samples]:
    return {proc.name: scrape(proc.metrics_port) for proc in system.group.procs if proc.name != "gateway"}


@pytest.fixture(scope="module")
def observed(system_factory) -> System:
    return system_factory(clock_speed=120, sim_rules=SIM_RULES)


@pytest.fixture(scope="module")
def campaign(observed: System) -> dict:
    """A batch campaign with retries run to completion, and a live one whose triggers fired."""
    tenant = Tenant(observed)
    audience = tenant.audience(20, ANSWER)
    retried = tenant.org.post("/contacts/bulk", json={
        "contacts": [{"phone": f"+2126{RETRY_THEN_ANSWER}{next(serial):07d}"} for _ in range(5)],
        "audienceId": audience})
    assert retried.status_code == 201, retried.text
    program = tenant.program(audience, maxConcurrentCalls=50,
                             retryStrategy={"type": "fixed_delay", "delayMinutes": 1, "maxRetries": 2})
    execution_id = tenant.launch(program["id"])
    done = tenant.wait_status(execution_id, "completed")
    assert (done["totalContacts"], done["contactsCompleted"]) == (25, 25)

    made = tenant.org.post("/custom-attributes", json={"name": "Renewal", "slug": "renewal", "type": "date"})
    assert made.status_code == 201, made.text
    now = observed.now()
    due = [{"phone": f"+2126{ANSWER}{next(serial):07d}",
            "attributes": {"renewal": iso(now + timedelta(hours=1, minutes=2 * i))}} for i in range(4)]
    assert tenant.org.post("/contacts/bulk", json={"contacts": due}).status_code == 201
    live = tenant.org.post("/programs", json={
        "name": "Renewals", "mode": "live", "flowId": tenant.flow_id,
        "triggerCondition": {"type": "date", "attributeName": "renewal", "direction": "before",
                             "offset": {"days": 0, "hours": 1, "minutes": 0}},
        "startAt": iso(now - timedelta(minutes=1)), "didPool": [d.id for d in tenant.dids],
        "retryStrategy": {"type": "none"}})
    assert live.status_code == 201, live.text
    live_id = tenant.launch(live.json()["id"])
    # Triggers due 0–6 virtual minutes after launch: fired by the evaluation loop, not at launch.
    wait_until(lambda: tenant.execution(live_id)["contactsCompleted"] == 4, message="live triggers called")
    assert tenant.org.get(f"/programs/{live.json()['id']}/triggers").status_code == 200
    assert tenant.org.delete(f"/program-executions/{live_id}").status_code == 204
    calls = tenant.calls(execution_id) + tenant.calls(live_id)
    return {"calls": calls, "tenant": tenant}


def test_every_service_exposes_its_metrics(observed: System, campaign: dict):
    scraped = service_metrics(observed)
    assert set(scraped) == set(SERVICES)
    for name, samples in scraped.items():
        assert "outbound_grpc_server_handling_seconds_count" in samples, name
        assert "process_cpu_seconds_total" in samples or "python_info" in samples, name


def test_calls_placed_per_outcome_cover_every_call(observed: System, campaign: dict):
    dialer = service_metrics(observed)["dialer"]
    calls = campaign["calls"]
    assert total(dialer, "outbound_calls_placed_total") >= len(calls) == 25 + 5 * 2 + 4
    assert total(dialer, "outbound_calls_placed_total", outcome="answered") >= 29
    assert total(dialer, "outbound_calls_placed_total", outcome="busy") >= 10
    # Every dial request has been handled: nothing left in flight.
    wait_until(lambda: total(service_metrics(observed)["dialer"], "outbound_dial_requests_in_flight") == 0,
               message="no dial request in flight")


def test_grpc_latency_per_method_called(observed: System, campaign: dict):
    scraped = service_metrics(observed)
    expected = {
        "account": ["/outbound.account.v1.AccountService/CreateOrganization"],
        "audience": ["/outbound.audience.v1.AudienceService/BulkImportContacts",
                     "/outbound.audience.v1.AudienceService/CreateAudience"],
        "dialer": ["/outbound.dialer.v1.DialerService/AddDid", "/outbound.dialer.v1.FlowService/CreateFlow",
                   "/outbound.dialer.v1.DialerService/ListCalls"],
        "program": ["/outbound.program.v1.ProgramService/CreateProgram"],
        "execution": ["/outbound.execution.v1.ExecutionService/LaunchProgram",
                      "/outbound.execution.v1.ExecutionService/GetExecution",
                      "/outbound.execution.v1.ExecutionService/CancelExecution"],
        "trigger": ["/outbound.trigger.v1.TriggerService/StartLiveExecution",
                    "/outbound.trigger.v1.TriggerService/ListTriggers"],
    }
    for service, methods in expected.items():
        samples = scraped[service]
        for method in methods:
            count = total(samples, "outbound_grpc_server_handling_seconds_count", method=method, code="OK")
            seconds = total(samples, "outbound_grpc_server_handling_seconds_sum", method=method, code="OK")
            assert count >= 1 and seconds > 0, (service, method)
    # The dialer reserves credits for every call (one by one or in batches).
    reserved = [labels["method"] for labels, value in scraped["account"]["outbound_grpc_server_handling_seconds_count"]
                if "/ReserveCredits" in labels["method"] and value > 0]
    assert reserved, "credit reservations are timed"
    launches = total(scraped["execution"], "outbound_grpc_server_handling_seconds_count",
                     method="/outbound.execution.v1.ExecutionService/LaunchProgram")
    assert launches == 2


def test_orchestrator_claim_latency_is_recorded(observed: System, campaign: dict):
    execution = service_metrics(observed)["execution"]
    claims = total(execution, "outbound_orchestrator_claim_seconds_count")
    assert claims > 0
    assert 0 < total(execution, "outbound_orchestrator_claim_seconds_sum") < claims * 5


def test_trigger_lag_is_recorded_for_the_live_campaign(observed: System, campaign: dict):
    trigger = service_metrics(observed)["trigger"]
    assert total(trigger, "outbound_trigger_lag_seconds_count") == 4
    lag = total(trigger, "outbound_trigger_lag_seconds_sum")
    # The evaluation loop ticks every 150 ms: a fired trigger is late by a fraction of a second.
    assert 0 <= lag / 4 < 5
    buckets = {labels["le"]: value for labels, value in trigger["outbound_trigger_lag_seconds_bucket"]}
    assert buckets["+Inf"] == 4


def test_consumer_redeliveries_are_counted_per_consumer(observed: System, campaign: dict):
    scraped = service_metrics(observed)
    consumers = {service: {labels["consumer"] for labels, _ in samples.get("outbound_consumer_redeliveries_total", [])}
                 for service, samples in scraped.items()}
    assert {"execution-call-results", "execution-triggers-fired", "execution-programs-archived"} <= consumers[
        "execution"]
    assert {"trigger-contacts", "trigger-execution-ended"} <= consumers["trigger"]
    assert "dialer" in consumers["dialer"]
    for samples in scraped.values():
        assert all(value >= 0 for _, value in samples.get("outbound_consumer_redeliveries_total", []))


def test_gateway_metrics(observed: System, campaign: dict):
    gateway = scrape(observed.group.find("gateway").metrics_port)
    launched = total(gateway, "outbound_http_request_seconds_count", method="POST",
                     route="/programs/{program_id}/launch", status="201")
    assert launched == 2
    assert total(gateway, "outbound_http_request_seconds_count", method="GET",
                 route="/program-executions/{execution_id}", status="200") > 0
