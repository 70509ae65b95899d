"""Auto-pause counters and credits: the execution service against real PostgreSQL, NATS and Redis.

Peers are stand-ins (tests/integration/execution/fakes.py); the dialer stand-in here answers
with the flow nodes a call ran, and an account stand-in answers the credits a resume checks.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from concurrent import futures

import grpc
import psycopg
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from kernel import errors, jetstream
from kernel.timefmt import iso
from outbound.account.v1 import account_pb2, account_pb2_grpc
from outbound.dialer.v1 import events_pb2 as dialer_events
from outbound.execution.v1 import execution_pb2 as pb
from outbound_cli.devservers import free_port
from services.execution.adapters import node_counters
from services.execution.adapters.node_counters import CountedCall, NodeCounters
from services.execution.domain.errors import InvalidExecutionStateError
from tests.integration.execution import fakes
from tests.integration.execution.conftest import ORG, Api, make_program
from tests.integration.execution.fakes import Peers, ScriptedDialer, World
from tests.support.system import HANG_GUARD_SECONDS, wait_until
from tests.support.tls import add_port

COUNTERS = ("contacts_completed", "contacts_failed", "contacts_pending", "contacts_in_progress", "contacts_skipped")
NODES = ["welcome", "menu", "bye"]


class NodeDialer(ScriptedDialer):
    """The scripted dialer, with the flow nodes of answered calls, and calls parked by phone."""

    def __init__(self, nats_url, clock):
        super().__init__(nats_url, clock)
        self.hold_phones: set[str] = set()
        self.parked: list = []

    async def _answer(self, request) -> None:
        with self.lock:
            if request.phone in self.hold_phones:
                self.parked.append(request)
                return
        script = self.outcomes.get(request.phone, ["answered"])
        outcome = script[min(request.attempt, len(script)) - 1]
        if request.execution_id in self.reject or outcome != "answered":
            await super()._answer(request)
            return
        now = iso(self.clock.now())
        result = dialer_events.CallResult(
            attempt_id=request.attempt_id, execution_id=request.execution_id,
            organization_id=request.organization_id, contact_id=request.contact_id, attempt=request.attempt,
            outcome="answered", did_id=request.did_pool[0], started_at=now, answered_at=now, ended_at=now,
            talk_seconds=30, node_ids=NODES)
        await jetstream.publish(self.js, "call.completed", result.SerializeToString(),
                                f"call.completed:{request.attempt_id}")

    def release_phones(self, phones) -> None:
        with self.lock:
            self.hold_phones -= set(phones)
            ready = [r for r in self.parked if r.phone in phones]
            self.parked = [r for r in self.parked if r.phone not in phones]
        for request in ready:
            asyncio.run_coroutine_threadsafe(self._answer(request), self._loop).result(HANG_GUARD_SECONDS)

    def parked_phones(self) -> set[str]:
        with self.lock:
            return {r.phone for r in self.parked}


class AccountFake(fakes.AccountFake):
    def __init__(self, world: World):
        super().__init__(world)
        self.available: dict[str, int] = {}

    def GetCredits(self, request, context):
        n = self.available.get(request.organization_id, 1000)
        return account_pb2.GetCreditsResponse(credits=account_pb2.CreditBalance(balance=n, reserved=0, available=n))


@pytest.fixture(scope="module")
def ap_system(system_factory):
    world = World()
    peers = Peers(world).start()
    account = AccountFake(world)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    account_pb2_grpc.add_AccountServiceServicer_to_server(account, server)
    port = free_port()
    add_port(server, "account", f"127.0.0.1:{port}")
    server.start()
    # Own brokers: this module stops and starts its Redis.
    system = system_factory(services=["execution"], gateway=False, clock_speed=60, own_brokers=True,
                            extra_env={**peers.addresses, "ACCOUNT_ADDR": f"127.0.0.1:{port}",
                                       "LEASE_SECONDS": "30"})
    dialer = NodeDialer(system.nats_url, system.clock).start()
    system.peers, system.dialer, system.world, system.account = peers, dialer, world, account
    yield system
    dialer.stop()
    server.stop(0)
    peers.stop()


@pytest.fixture(scope="module")
def api(ap_system):
    client = Api(ap_system)
    yield client
    client.channel.close()


@pytest.fixture(scope="module")
def db(ap_system):
    with psycopg.connect(ap_system.database_url, autocommit=True, options="-csearch_path=execution") as conn:
        yield conn


@pytest.fixture(scope="module")
def rds(ap_system):
    client = redis.Redis.from_url(ap_system.redis_url, decode_responses=True)
    yield client
    client.close()


def launch(api, program) -> str:
    return api.LaunchProgram(pb.LaunchProgramRequest(organization_id=ORG, program_id=program.id)).execution_id


def get(api, execution_id) -> pb.Execution:
    ex = api.GetExecution(pb.GetExecutionRequest(organization_id=ORG, execution_id=execution_id))
    assert ex.total_contacts == sum(getattr(ex, c) for c in COUNTERS), ex
    return ex


def wait_status(api, execution_id, status, timeout=HANG_GUARD_SECONDS) -> pb.Execution:
    return wait_until(lambda: (e := get(api, execution_id)).status == status and e, timeout,
                      message=f"status {status}")


def resume(api, execution_id, rules=None) -> pb.Execution:
    request = pb.ResumeExecutionRequest(organization_id=ORG, execution_id=execution_id)
    if rules is not None:
        request.auto_pause_rules.SetInParent()
        for rule in rules:
            request.auto_pause_rules.rules.add(node_id=rule["nodeId"], threshold=rule["threshold"],
                                               reset_on_resume=rule.get("resetOnResume", False))
    return api.ResumeExecution(request)


def counters(ex: pb.Execution) -> list[tuple[str, int, int]] | None:
    if not ex.auto_pause_counters_known:
        return None
    return [(c.node_id, c.count, c.threshold) for c in ex.auto_pause_counters]


def dialed(system, execution_id) -> int:
    return len(system.dialer.requests_for(execution_id))


def redis_counts(rds, execution_id) -> dict[str, int]:
    return {k: int(v) for k, v in rds.hgetall(node_counters.counts_key(execution_id)).items()}


def redis_keys(rds, execution_id) -> list[str]:
    return sorted(k for k in (node_counters.counts_key(execution_id), node_counters.counting_key(execution_id))
                  if rds.exists(k))


def phones(n: int) -> list[str]:
    base = uuid.uuid4().int % 10_000_000
    return [f"+2126{(base + i) % 10_000_000:07d}1" for i in range(n)]


# ---------------------------------------------------------------- the counting script itself


@pytest.fixture(scope="module", autouse=True)
def patient_counting_clients():
    """The counting clients this module opens itself (never the service's, a process of its own)
    wait as long as a busy machine needs. The 1 s fail-fast timeouts are the service's choice
    for callers that hold row locks, not what these tests check; with them, 600 concurrent
    scripts queueing for 32 pooled connections time out on a loaded machine."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(node_counters, "SOCKET_TIMEOUT_SECONDS", HANG_GUARD_SECONDS / 4)
        yield


async def _count_all(url: str, execution_id: str, batches) -> dict[str, int]:
    client = node_counters.connect(url)
    try:
        counters_ = NodeCounters(client)
        last: dict[str, int] = {}
        for batch in batches:
            last = (await counters_.count({execution_id: (batch, ["a", "b", "c"])}))[execution_id]
        return last
    finally:
        await client.aclose()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(hs.lists(hs.lists(hs.integers(0, 12), max_size=6), min_size=1, max_size=8),
       hs.dictionaries(hs.integers(0, 12), hs.lists(hs.sampled_from(["a", "b", "c"]), max_size=3)))
def test_counting_script_counts_each_attempt_once(ap_system, batches, nodes_of):
    """Redelivered attempts (the same id again, in the same batch or a later one) count once."""
    execution_id = str(uuid.uuid4())
    calls = [[CountedCall(f"{execution_id}:c{i}:1", tuple(nodes_of.get(i, ["a"]))) for i in batch]
             for batch in batches]
    answered = asyncio.run(_count_all(ap_system.redis_url, execution_id, calls))
    expected = {"a": 0, "b": 0, "c": 0}
    for i in {i for batch in batches for i in batch}:
        for node in nodes_of.get(i, ["a"]):
            expected[node] += 1
    assert answered == expected


def test_counting_script_is_atomic_under_concurrency(ap_system, rds):
    execution_id = str(uuid.uuid4())

    async def hammer() -> None:
        client = node_counters.connect(ap_system.redis_url)
        counters_ = NodeCounters(client)
        try:
            # 200 attempts, each sent 3 times by concurrent writers.
            await asyncio.gather(*(
                counters_.count({execution_id: ([CountedCall(f"a{i}", ("a", "b"))], ["a"])})
                for _ in range(3) for i in range(200)))
            await counters_.committed({execution_id: [f"a{i}" for i in range(200)]})
        finally:
            await client.aclose()

    asyncio.run(hammer())
    assert redis_counts(rds, execution_id) == {"a": 200, "b": 200}
    assert not rds.exists(node_counters.counting_key(execution_id))


# ---------------------------------------------------------------- the service


def test_threshold_pauses_resume_resets_or_replaces_and_counters_go_at_the_end(ap_system, api, rds):
    program = make_program(ap_system, n=8, max_concurrent=1,
                           rules=[{"nodeId": "welcome", "threshold": 3, "resetOnResume": True}])
    execution_id = launch(api, program)
    paused = wait_status(api, execution_id, "paused_threshold")
    # One call at a time: the third answered call decided the pause, no fourth was dialled.
    assert dialed(ap_system, execution_id) == 3
    assert counters(paused) == [("welcome", 3, 3)]
    assert paused.contacts_completed == 3 and paused.contacts_in_progress == 0
    # Every node of every call counts, not only the rules' nodes.
    assert redis_counts(rds, execution_id) == {"welcome": 3, "menu": 3, "bye": 3}
    time.sleep(1.0)
    assert dialed(ap_system, execution_id) == 3 and get(api, execution_id).status == "paused_threshold"

    # resetOnResume: counting restarts from zero, three more calls pause it again.
    resumed = resume(api, execution_id)
    assert resumed.status == "running"
    paused = wait_status(api, execution_id, "paused_threshold")
    assert dialed(ap_system, execution_id) == 6 and counters(paused) == [("welcome", 3, 3)]

    # New rules replace the old ones; a counter already over its threshold (menu ran 6 times)
    # pauses on the next call that runs the node, not at the resume.
    resumed = resume(api, execution_id, [{"nodeId": "menu", "threshold": 2, "resetOnResume": False}])
    assert resumed.status == "running"
    assert [(r.node_id, r.threshold, r.reset_on_resume) for r in resumed.auto_pause_rules.rules] == [
        ("menu", 2, False)]
    paused = wait_status(api, execution_id, "paused_threshold")
    assert dialed(ap_system, execution_id) == 7 and counters(paused) == [("menu", 7, 2)]

    # An empty list drops the rules: the campaign completes and its counters are deleted.
    resumed = resume(api, execution_id, [])
    assert list(resumed.auto_pause_rules.rules) == [] and resumed.HasField("auto_pause_rules")
    done = wait_status(api, execution_id, "completed")
    assert done.contacts_completed == 8
    wait_until(lambda: not redis_keys(rds, execution_id), HANG_GUARD_SECONDS, message="counters deleted")
    assert counters(get(api, execution_id)) is None


def test_manual_pause_wins_and_queued_calls_still_count(ap_system, api, rds):
    numbers = phones(6)
    ap_system.dialer.hold_phones.update(numbers)
    program = make_program(ap_system, phones=numbers, max_concurrent=3,
                           rules=[{"nodeId": "welcome", "threshold": 2, "resetOnResume": False}])
    execution_id = launch(api, program)
    wait_until(lambda: len(ap_system.dialer.parked_phones() & set(numbers)) == 3, HANG_GUARD_SECONDS,
               message="3 calls queued")
    api.PauseExecution(pb.PauseExecutionRequest(organization_id=ORG, execution_id=execution_id))
    ap_system.dialer.release_phones(numbers)
    ex = wait_until(lambda: (e := get(api, execution_id)).contacts_completed == 3 and e, HANG_GUARD_SECONDS)
    # The three queued calls counted (over the threshold) but the manual pause stays.
    assert ex.status == "paused" and counters(ex) == [("welcome", 3, 2)]
    assert dialed(ap_system, execution_id) == 3
    # From paused nothing is reset: the next counted node re-pauses with paused_threshold.
    assert resume(api, execution_id).status == "running"
    paused = wait_until(lambda: (e := get(api, execution_id)).status == "paused_threshold"
                        and e.contacts_in_progress == 0 and e, HANG_GUARD_SECONDS,
                        message="paused_threshold, calls drained")
    assert 4 <= dialed(ap_system, execution_id) <= 6
    assert counters(paused)[0][1] == paused.contacts_completed
    api.CancelExecution(pb.CancelExecutionRequest(organization_id=ORG, execution_id=execution_id))
    wait_until(lambda: not redis_keys(rds, execution_id), HANG_GUARD_SECONDS, message="counters deleted after cancel")


def _count_as_a_rolled_back_transaction_did(url: str, execution_id: str, attempt_id: str) -> None:
    async def run() -> None:
        client = node_counters.connect(url)
        try:
            await NodeCounters(client).count({execution_id: ([CountedCall(attempt_id, tuple(NODES))], [])})
        finally:
            await client.aclose()

    asyncio.run(run())


def test_a_result_counted_before_a_rollback_and_redelivered_counts_once(ap_system, api, rds):
    dialer = ap_system.dialer
    numbers = phones(2)
    dialer.hold_phones.update(numbers)
    program = make_program(ap_system, phones=numbers, max_concurrent=1,
                           rules=[{"nodeId": "welcome", "threshold": 100, "resetOnResume": False}])
    execution_id = launch(api, program)
    wait_until(lambda: dialer.parked_phones() & set(numbers), HANG_GUARD_SECONDS, message="first call queued")
    first = dialer.requests_for(execution_id)[0][0]
    # A results transaction that counted this attempt and then rolled back left the count and
    # the attempt id in Redis; the redelivered result must not count again.
    _count_as_a_rolled_back_transaction_did(ap_system.redis_url, execution_id, first.attempt_id)
    assert redis_counts(rds, execution_id)["welcome"] == 1
    dialer.release_phones([first.phone])
    wait_until(lambda: get(api, execution_id).contacts_completed == 1, HANG_GUARD_SECONDS)
    assert redis_counts(rds, execution_id)["welcome"] == 1
    # Once committed, the fence guards the attempt and its id leaves Redis.
    wait_until(lambda: not rds.sismember(node_counters.counting_key(execution_id), first.attempt_id),
               HANG_GUARD_SECONDS)
    # The same result again (a redelivery) changes nothing.
    result = dialer_events.CallResult(attempt_id=first.attempt_id, execution_id=execution_id, organization_id=ORG,
                                      attempt=1, outcome="answered", node_ids=NODES)
    dialer.publish("call.completed", result.SerializeToString(), str(uuid.uuid4()))
    time.sleep(1.0)
    assert redis_counts(rds, execution_id)["welcome"] == 1
    dialer.release_phones(numbers)
    wait_status(api, execution_id, "completed")


def test_resume_validates_new_rules_and_state(ap_system, api):
    program = make_program(ap_system, n=2, rules=[{"nodeId": "welcome", "threshold": 1, "resetOnResume": True}])
    execution_id = launch(api, program)
    wait_status(api, execution_id, "paused_threshold")
    with pytest.raises(errors.ValidationError) as info:
        resume(api, execution_id, [{"nodeId": "menu", "threshold": 1}, {"nodeId": "nope", "threshold": 1}])
    assert info.value.field == "autoPauseRules[1].nodeId"
    with pytest.raises(errors.ValidationError) as info:
        resume(api, execution_id, [{"nodeId": "menu", "threshold": 0}])
    assert info.value.field == "autoPauseRules[0].threshold"
    ex = get(api, execution_id)
    assert ex.status == "paused_threshold" and [r.node_id for r in ex.auto_pause_rules.rules] == ["welcome"]
    api.CancelExecution(pb.CancelExecutionRequest(organization_id=ORG, execution_id=execution_id))
    with pytest.raises(InvalidExecutionStateError):
        resume(api, execution_id)


def test_resume_without_credits_stays_paused_no_credits(ap_system, api, db):
    dialer, account = ap_system.dialer, ap_system.account
    numbers = phones(3)
    dialer.hold_phones.update(numbers)
    program = make_program(ap_system, phones=numbers, max_concurrent=1)
    execution_id = launch(api, program)
    dialer.reject[execution_id] = "no_credits"
    dialer.release_phones(numbers)
    wait_status(api, execution_id, "paused_no_credits")
    account.available[ORG] = 0
    try:
        before = dialed(ap_system, execution_id)
        again = resume(api, execution_id)
        assert again.status == "paused_no_credits"  # at once, no call tried
        time.sleep(1.0)
        assert dialed(ap_system, execution_id) == before
        account.available[ORG] = 5
        del dialer.reject[execution_id]
        assert resume(api, execution_id).status == "running"
    finally:
        account.available.pop(ORG, None)
    wait_status(api, execution_id, "completed")
    # The rejected attempts were given back: one attempt per contact.
    rows = db.execute("SELECT state, attempt FROM execution_contacts WHERE execution_id = %s",
                      (execution_id,)).fetchall()
    assert rows == [("completed", 1)] * 3


# ---------------------------------------------------------------- Redis unreachable


def _uncounted(db, execution_id) -> int:
    return db.execute("SELECT uncounted_results FROM executions WHERE id = %s", (execution_id,)).fetchone()[0]


def test_redis_unreachable_loses_no_count_and_starts_no_call_meanwhile(ap_system, api, db, rds):
    dialer = ap_system.dialer
    numbers = phones(8)
    dialer.hold_phones.update(numbers)
    program = make_program(ap_system, phones=numbers, max_concurrent=2,
                           rules=[{"nodeId": "welcome", "threshold": 4, "resetOnResume": True}])
    execution_id = launch(api, program)
    wait_until(lambda: len(dialer.parked_phones()) == 2, HANG_GUARD_SECONDS, message="2 calls queued")
    pid = ap_system.redis.proc.pid
    os.kill(pid, signal.SIGSTOP)  # Redis hangs: connections open, no answers
    try:
        dialer.release_phones(dialer.parked_phones())
        # The results apply (contacts complete) but their nodes wait in PostgreSQL...
        ex = wait_until(lambda: (e := get(api, execution_id)).contacts_completed == 2 and e, HANG_GUARD_SECONDS)
        assert counters(ex) is None  # not readable now
        assert _uncounted(db, execution_id) == 2
        # ...and no call starts while the count is unknown, though two slots are free.
        time.sleep(2.0)
        assert dialed(ap_system, execution_id) == 2
        assert get(api, execution_id).status == "running"
    finally:
        os.kill(pid, signal.SIGCONT)
    # Back: the deferred results count once (even if Redis ran a timed-out script late), and
    # calls start again.
    wait_until(lambda: _uncounted(db, execution_id) == 0, HANG_GUARD_SECONDS, message="deferred results counted")
    assert redis_counts(rds, execution_id)["welcome"] == 2

    # Redis restarted (keeping its data) while two more results arrive: the same guarantees.
    wait_until(lambda: len(dialer.parked_phones()) == 2, HANG_GUARD_SECONDS, message="2 more calls queued")
    rds.shutdown(save=True)
    ap_system.redis.proc.wait(HANG_GUARD_SECONDS)
    try:
        dialer.release_phones(dialer.parked_phones())
        wait_until(lambda: _uncounted(db, execution_id) == 2, HANG_GUARD_SECONDS, message="results deferred")
    finally:
        ap_system.redis.start()
    paused = wait_status(api, execution_id, "paused_threshold")
    # The fourth counted call paused it; every answered call counted exactly once.
    assert paused.contacts_completed == 4 and dialed(ap_system, execution_id) == 4
    assert counters(paused) == [("welcome", 4, 4)]
    assert redis_counts(rds, execution_id) == {"welcome": 4, "menu": 4, "bye": 4}

    # A resume that must reset counters needs Redis: refused while it hangs, nothing changes.
    pid = ap_system.redis.proc.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        with pytest.raises(errors.UnavailableError):
            resume(api, execution_id)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert get(api, execution_id).status == "paused_threshold"
    assert resume(api, execution_id).status == "running"
    api.CancelExecution(pb.CancelExecutionRequest(organization_id=ORG, execution_id=execution_id))
    wait_until(lambda: not redis_keys(rds, execution_id), HANG_GUARD_SECONDS, message="counters deleted after cancel")
