"""Generated projects under faults, on real services from the harness.

For each framework in each concurrency model, one served project (module-scoped: rendered,
installed and migrated once) goes through these faults, each under a steady trickle of
requests:

- A Redis outage: Redis is stopped for OUTAGE_S. The cache, the rate limiter and the job
  queue's enqueue all fail open, so every read of an existing item still answers 200 (from
  the database), every write 201, /readyz stays 200 and says "degraded" (a Redis blip must not
  take every pod out of service at once); once Redis is back, /readyz says "ok" again within
  RECOVERY_S, with nothing restarted.
- PgBouncer restarted, then PostgreSQL restarted (each down for DB_OUTAGE_S): requests
  answer 503 while it is down (never 500, never hanging), /readyz is 503, and once it is
  back the service serves again within RECOVERY_S, with no failure from then on.
- A broker that hangs (accepts connections, never answers), then one that refuses them: the
  service's BROKER_URL goes through a FaultProxy. Every write still answers 201 within
  WRITE_BUDGET_S (the enqueue gives up after ENQUEUE_TIMEOUT_MS, 200 ms, and the module's
  sweep does the job later), each failed send is counted, /metrics still answers, and sends
  succeed again once the broker is back.

Each case has a PostgreSQL, a PgBouncer and a Redis of its own: the session's are shared by
other tests and must keep running.
"""

from __future__ import annotations

import configparser
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from scalekit_gen.harness import PgBouncer, Postgres, Redis
from scalekit_gen.harness.project import ProjectEnv, Server
from scalekit_gen.render import render_project
from tests.harness.faults import FaultProxy
from tests.integration.generated import (
    FRAMEWORK_CASE_IDS,
    FRAMEWORK_CASES,
    INSTALL_TIMEOUT,
    blueprint,
)

pytestmark = pytest.mark.integration

#: How long Redis stays down, and how long the service may take to say "ok" once it is back.
OUTAGE_S = 4.0
RECOVERY_S = 10.0
#: The longest one request may take while Redis is down: the Redis clients' own timeouts
#: (0.5-2 s) plus an enqueue that fails and is left to the sweep.
SLOWEST_REQUEST_S = 15.0
#: How long PgBouncer, or PostgreSQL, stays down, and the longest a request may take then:
#: with PostgreSQL down, PgBouncer holds a query until its query_wait_timeout (the project's
#: pgbouncer.ini: 5 s), then the service answers 503.
DB_OUTAGE_S = 3.0
DB_SLOWEST_REQUEST_S = 8.0
#: Writes sent while the broker hangs, and again while it refuses.
BROKER_FAULT_WRITES = 6
#: The longest a write may take while the broker misbehaves (the enqueue's budget is 200 ms;
#: the rest is this busy machine).
WRITE_BUDGET_S = 1.0
#: /metrics reads the queue's depth from the broker: bounded by the client's timeouts (2 s).
METRICS_BUDGET_S = 4.0


@dataclass
class Served:
    """One case's running service and the faults a test can inject into it."""

    server: Server
    postgres: Postgres  # the case's own, as are its PgBouncer and Redis: each can go down
    pgbouncer: PgBouncer
    redis: Redis
    broker: FaultProxy  # BROKER_URL goes through it
    items: list[dict[str, Any]]


@pytest.fixture(scope="module", params=FRAMEWORK_CASES, ids=FRAMEWORK_CASE_IDS)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    preset, answers = request.param
    # Open writes (auth: none): what is under test here is not who may write;
    # test_generated_project.py drives the credentials.
    project = blueprint(preset, modules="catalog", auth="none", **answers)
    root = render_project(
        project, tmp_path_factory.mktemp("faults") / "shop", git=False
    ).destination
    with (
        Postgres(max_connections=50) as postgres,
        PgBouncer(postgres, default_pool_size=4, settings=_pgbouncer_timeouts(root)) as pgbouncer,
        Redis() as redis,
        ProjectEnv(postgres, pgbouncer, redis) as env,
    ):
        env.make(root, "install", timeout=INSTALL_TIMEOUT)
        env.make(root, "migrate")
        broker_db = urlsplit(env.env["BROKER_URL"]).path
        with FaultProxy("127.0.0.1", redis.port) as broker:
            server_env = {**env.env, "BROKER_URL": f"redis://127.0.0.1:{broker.port}{broker_db}"}
            with Server(root, server_env) as server:
                items = [_create(server, n) for n in range(3)]
                yield Served(server, postgres, pgbouncer, redis, broker, items)


#: The project's own PgBouncer settings the harness's PgBouncer runs with: how long a client
#: may wait, and how soon it tries the server again after a failed login.
PGBOUNCER_TIMEOUTS = (
    "query_wait_timeout",
    "query_timeout",
    "idle_transaction_timeout",
    "server_login_retry",
)


def _pgbouncer_timeouts(root: Path) -> dict[str, str | int]:
    """PGBOUNCER_TIMEOUTS as the rendered deploy/pgbouncer/pgbouncer.ini sets them."""
    config = configparser.ConfigParser()
    config.read(root / "deploy" / "pgbouncer" / "pgbouncer.ini")
    return {key: config["pgbouncer"][key] for key in PGBOUNCER_TIMEOUTS}


def _create(server: Server, n: int) -> dict[str, Any]:
    response = server.post("/api/v1/catalog/items", {"name": f"fault {n}", "price_cents": n})
    assert response.status == 201, response
    body: dict[str, Any] = response.body
    return body


def _traffic(
    server: Server, items: list[dict[str, Any]], seconds: float
) -> tuple[Counter[str], float]:
    """Reads of the items, lists and writes, in turn, for `seconds`: the outcomes counted
    ("get 200", "post 201", ...) and the slowest request's time."""
    outcomes: Counter[str] = Counter()
    slowest = 0.0
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        n += 1
        item = items[n % len(items)]
        started = time.monotonic()
        if n % 3 == 0:
            created = server.post(
                "/api/v1/catalog/items", {"name": f"during {n}", "price_cents": n}
            )
            outcomes[f"post {created.status}"] += 1
        elif n % 3 == 1:
            read = server.get(f"/api/v1/catalog/items/{item['id']}")
            same = read.status == 200 and read.body["name"] == item["name"]
            outcomes[f"get {read.status}" if same or read.status != 200 else "get wrong item"] += 1
        else:
            listed = server.get("/api/v1/catalog/items?limit=5")
            outcomes[f"list {listed.status}"] += 1
        slowest = max(slowest, time.monotonic() - started)
    return outcomes, slowest


def test_a_redis_outage_degrades_the_service_without_failing_a_request(served: Served) -> None:
    server = served.server
    served.redis.kill()
    try:
        outcomes, slowest = _traffic(server, served.items, OUTAGE_S)
        during = server.get("/readyz")
    finally:
        served.redis.revive()
    recovered_in = _seconds_until_ready(server, RECOVERY_S)
    log = server.log_tail(60)

    failed = {k: v for k, v in outcomes.items() if k not in ("get 200", "list 200", "post 201")}
    assert not failed, f"requests failed while Redis was down: {dict(outcomes)}\n{log}"
    assert outcomes["post 201"] and outcomes["get 200"], dict(outcomes)
    assert slowest < SLOWEST_REQUEST_S, f"a request took {slowest:.1f}s: {dict(outcomes)}"
    assert during.status == 200, during
    assert during.body["status"] == "degraded" and "redis" in during.body["failed"], during
    assert "rate limiter unavailable" in server.output, log
    assert recovered_in is not None, f"/readyz not ok {RECOVERY_S}s after Redis came back\n{log}"


def test_a_broker_that_hangs_or_refuses_costs_a_write_at_most_the_enqueue_budget(
    served: Served,
) -> None:
    server, broker = served.server, served.broker
    assert _seconds_until_ready(server, RECOVERY_S) is not None, server.log_tail(40)
    before = _jobs_sent(server)
    writes: list[tuple[str, int, float]] = []
    metrics_took: float | None = None
    try:
        broker.black_hole()
        writes += _writes(server, "black-hole", BROKER_FAULT_WRITES)
        started = time.monotonic()
        metrics = server.metrics()
        metrics_took = time.monotonic() - started
        broker.refuse()
        writes += _writes(server, "refuse", BROKER_FAULT_WRITES)
    finally:
        broker.forward()
    after_faults = _jobs_sent(server)
    recovered_in = _seconds_until_a_job_is_sent(server, after_faults, RECOVERY_S)
    log = server.log_tail(60)

    failed = [write for write in writes if write[1] != 201]
    assert not failed, f"writes failed while the broker misbehaved: {failed}\n{log}"
    slowest = max(writes, key=lambda write: write[2])
    assert slowest[2] < WRITE_BUDGET_S, f"a write took {slowest[2]:.2f}s: {writes}\n{log}"
    assert after_faults["error"] - before["error"] == 2 * BROKER_FAULT_WRITES, (
        before,
        after_faults,
    )
    assert after_faults["enqueued"] == before["enqueued"], (before, after_faults)
    assert metrics.status == 200 and metrics_took is not None, metrics
    assert metrics_took < METRICS_BUDGET_S, f"/metrics took {metrics_took:.1f}s on a hung broker"
    assert recovered_in is not None, f"no job sent {RECOVERY_S}s after the broker came back\n{log}"


@pytest.mark.parametrize("down", ["pgbouncer", "postgres"])
def test_a_database_restart_fails_requests_only_while_it_is_down(served: Served, down: str) -> None:
    """PgBouncer, then PostgreSQL, stopped for DB_OUTAGE_S under traffic and started again:
    while down, requests answer 503 (reads may still come from the cache), never 500 and
    never hanging; /readyz is 503; once back, the service serves again within RECOVERY_S
    with nothing restarted, and from then on no request fails."""
    server = served.server
    service: Postgres | PgBouncer = served.pgbouncer if down == "pgbouncer" else served.postgres
    assert _seconds_until_ready(server, RECOVERY_S) is not None, server.log_tail(40)
    service.kill()
    try:
        outcomes, slowest = _traffic(server, served.items, DB_OUTAGE_S)
        during = server.get("/readyz")
    finally:
        service.revive()
    recovered_in = _seconds_until_serving(server, RECOVERY_S)
    after, _ = _traffic(server, served.items, 2.0)
    log = server.log_tail(60)

    seen = f"{dict(outcomes)}, slowest {slowest:.2f}s"
    allowed = {"get 200", "get 503", "list 200", "list 503", "post 201", "post 503"}
    failed = {k: v for k, v in outcomes.items() if k not in allowed}
    assert not failed, f"while {down} was down: {seen}\n{log}"
    assert any(k.endswith(" 503") for k in outcomes), f"{down} down went unnoticed: {seen}"
    assert slowest < DB_SLOWEST_REQUEST_S, f"while {down} was down: {seen}\n{log}"
    assert during.status == 503, during
    assert recovered_in is not None, f"not serving {RECOVERY_S}s after {down} came back\n{log}"
    failed_after = {k: v for k, v in after.items() if k not in ("get 200", "list 200", "post 201")}
    assert not failed_after, f"after {down} came back: {dict(after)}\n{log}"


def _writes(server: Server, fault: str, count: int) -> list[tuple[str, int, float]]:
    """`count` item creations: (fault, status, seconds) of each."""
    done = []
    for n in range(count):
        started = time.monotonic()
        created = server.post("/api/v1/catalog/items", {"name": f"{fault} {n}", "price_cents": n})
        done.append((fault, created.status, time.monotonic() - started))
    return done


_JOBS_SENT = re.compile(r"^jobs_enqueued_total\{(?P<labels>[^}]*)\} (?P<value>\S+)$", re.M)


def _jobs_sent(server: Server) -> Counter[str]:
    """jobs_enqueued_total by result ("enqueued", "error"), all jobs, from /metrics."""
    metrics = server.metrics()
    assert metrics.status == 200, metrics
    counts: Counter[str] = Counter()
    for match in _JOBS_SENT.finditer(str(metrics.body)):
        result = re.search(r'result="([^"]+)"', match["labels"])
        if result:
            counts[result[1]] += int(float(match["value"]))
    return counts


def _seconds_until_a_job_is_sent(
    server: Server, before: Counter[str], within: float
) -> float | None:
    """Create items until one's job reaches the broker: the seconds that took, or None."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        _create(server, 0)
        if _jobs_sent(server)["enqueued"] > before["enqueued"]:
            return time.monotonic() - started
        time.sleep(0.2)
    return None


def _seconds_until_serving(server: Server, within: float) -> float | None:
    """Seconds until /readyz is ok and the database serves the app's own connections (a
    list and a write succeed), or None if that does not happen within `within`."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        ready = server.get("/readyz")
        if ready.status == 200 and ready.body["status"] == "ok":
            listed = server.get("/api/v1/catalog/items?limit=5")
            created = server.post("/api/v1/catalog/items", {"name": "back", "price_cents": 1})
            if listed.status == 200 and created.status == 201:
                return time.monotonic() - started
        time.sleep(0.2)
    return None


def _seconds_until_ready(server: Server, within: float) -> float | None:
    """Seconds until /readyz answers 200 "ok", or None if it does not within `within`."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        ready = server.get("/readyz")
        if ready.status == 200 and ready.body["status"] == "ok":
            return time.monotonic() - started
        time.sleep(0.2)
    return None
