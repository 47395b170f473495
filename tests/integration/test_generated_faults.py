"""Generated projects under faults, on real services from the harness.

A Redis outage, for each framework in each concurrency model: Redis is stopped for OUTAGE_S
under a steady trickle of reads and writes. The cache, the rate limiter and the job queue's
enqueue all fail open, so every read of an existing item still answers 200 (from the
database), every write 201, /readyz stays 200 and says "degraded" (a Redis blip must not take
every pod out of service at once); once Redis is back, /readyz says "ok" again within
RECOVERY_S, with nothing restarted.

Each case has a Redis of its own (the session's is shared by other tests and must keep
running); PostgreSQL and PgBouncer are the session's.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from scalekit_gen.render import render_project
from tests.harness import PgBouncer, Postgres, Redis
from tests.harness.project import ProjectEnv, Server
from tests.integration.generated import FRAMEWORK_CASES, INSTALL_TIMEOUT, blueprint, case_id

pytestmark = pytest.mark.integration

#: How long Redis stays down, and how long the service may take to say "ok" once it is back.
OUTAGE_S = 4.0
RECOVERY_S = 10.0
#: The longest one request may take while Redis is down: the Redis clients' own timeouts
#: (0.5-2 s) plus an enqueue that fails and is left to the sweep.
SLOWEST_REQUEST_S = 15.0


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


@pytest.mark.parametrize(
    ("preset", "answers"), FRAMEWORK_CASES, ids=[case_id(p, a) for p, a in FRAMEWORK_CASES]
)
def test_a_redis_outage_degrades_the_service_without_failing_a_request(
    preset: str,
    answers: dict[str, str],
    tmp_path: Path,
    postgres: Postgres,
    pgbouncer: PgBouncer,
) -> None:
    project = blueprint(preset, modules="catalog", **answers)
    root = render_project(project, tmp_path / "shop", git=False).destination
    redis = Redis().start()
    try:
        with ProjectEnv(postgres, pgbouncer, redis) as env:
            env.make(root, "install", timeout=INSTALL_TIMEOUT)
            env.make(root, "migrate")
            with env.server(root) as server:
                items = [_create(server, n) for n in range(3)]
                port = redis.port
                redis.stop()
                outcomes, slowest = _traffic(server, items, OUTAGE_S)
                during = server.get("/readyz")
                redis = Redis(port=port).start()
                recovered_in = _seconds_until_ready(server, RECOVERY_S)
                log = server.log_tail(60)
    finally:
        redis.stop()

    failed = {k: v for k, v in outcomes.items() if k not in ("get 200", "list 200", "post 201")}
    assert not failed, f"requests failed while Redis was down: {dict(outcomes)}\n{log}"
    assert outcomes["post 201"] and outcomes["get 200"], dict(outcomes)
    assert slowest < SLOWEST_REQUEST_S, f"a request took {slowest:.1f}s: {dict(outcomes)}"
    assert during.status == 200, during
    assert during.body["status"] == "degraded" and "redis" in during.body["failed"], during
    assert "rate limiter unavailable" in server.output, log
    assert recovered_in is not None, f"/readyz not ok {RECOVERY_S}s after Redis came back\n{log}"


def _seconds_until_ready(server: Server, within: float) -> float | None:
    """Seconds until /readyz answers 200 "ok", or None if it does not within `within`."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        ready = server.get("/readyz")
        if ready.status == 200 and ready.body["status"] == "ok":
            return time.monotonic() - started
        time.sleep(0.2)
    return None
