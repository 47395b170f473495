"""What a running generated project is checked with, by the integration tests and by
`scalekit matrix --runtime`: the credential its writes need (the auth decision), a job's round
trip through the real worker, and the `make loadtest` gate as they drive it on one machine.

A failed check raises `SmokeError` (an AssertionError, so a test reports it as a failure)
with what was expected and what came back.
"""

from __future__ import annotations

import contextlib
import csv
import re
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlencode

from scalekit_gen.blueprint import Blueprint
from scalekit_gen.harness.project import ProjectEnv, Server, Worker, run_make

INSTALL_TIMEOUT = 900  # a cold uv cache downloads every pinned wheel
#: How long the worker may take to run the job a request enqueued.
JOB_TIMEOUT = 45.0
#: A worker is ready once one of its processes has opened its job context (it logs so).
WORKER_READY_LOG = r'"event":\s*"job context open"'
LOADTEST_ENV = {
    "LOADTEST_USERS": "64",
    "LOADTEST_SPAWN_RATE": "32",
    "LOADTEST_DURATION": "20s",
    # The project's default budget is 500 ms. This machine runs PostgreSQL, PgBouncer, Redis,
    # the server, its worker, Locust and, under `pytest -n 2`, a second end-to-end case on two
    # cores, so the budget here only catches a server that stalls (CI on 2026-12-06 saw p95
    # 2100 ms with no failure); zero failures is the strict part of the gate. Throughput and
    # latency are measured in bench/, not here.
    "LOADTEST_P95_MS": "3000",
}
#: The header an API key is sent in, and the shape `make api-key` prints it in (the contract,
#: docs/generated-project.md).
API_KEY_HEADER = "X-API-Key"
API_KEY_FORMAT = r"[0-9a-f]{8}_[\w-]{43}"


class SmokeError(AssertionError):
    """A running project answered otherwise than its contract says."""


def expect(condition: object, message: object) -> None:
    """Raise SmokeError(message) unless `condition` holds (kept under `python -O`)."""
    if not condition:
        _fail(message)


def _fail(message: object) -> NoReturn:
    raise SmokeError(str(message))


def provision_credential(project: Blueprint, root: Path, env: Mapping[str, str]) -> dict[str, str]:
    """The credential the project's writes need, made as an operator makes it: a user by
    `make createsuperuser` from SUPERUSER_EMAIL/SUPERUSER_PASSWORD (run twice: it must be
    idempotent), or a key by `make api-key`. Returned as the variables `make loadtest` reads
    (LOADTEST_EMAIL/LOADTEST_PASSWORD or LOADTEST_API_KEY), which `write_headers` turns into
    headers; empty when auth is none."""
    derived = project.derived()
    if derived["uses_jwt"]:
        email, password = f"e2e-{secrets.token_hex(4)}@example.com", secrets.token_urlsafe(18)
        account = {"SUPERUSER_EMAIL": email, "SUPERUSER_PASSWORD": password}
        for _ in range(2):
            run_make(root, "createsuperuser", {**env, **account}, timeout=180)
        return {"LOADTEST_EMAIL": email, "LOADTEST_PASSWORD": password}
    if derived["uses_api_keys"]:
        return {"LOADTEST_API_KEY": mint_api_key(root, env, "e2e")}
    return {}


def mint_api_key(root: Path, env: Mapping[str, str], name: str) -> str:
    """A new key for `name` from `make -s api-key`: its last output line, as the README says."""
    minted = run_make(root, "api-key", env, timeout=180, args=("-s", f"NAME={name}"))
    key = minted.output.strip().splitlines()[-1]
    expect(re.fullmatch(API_KEY_FORMAT, key), minted.tail())
    return key


def write_headers(server: Server, credential: Mapping[str, str]) -> dict[str, str]:
    """The headers of a write with `credential` (provision_credential's): an access token from
    the password login, or the API key; none for auth none."""
    if "LOADTEST_API_KEY" in credential:
        return {API_KEY_HEADER: credential["LOADTEST_API_KEY"]}
    if "LOADTEST_EMAIL" not in credential:
        return {}
    form = {"username": credential["LOADTEST_EMAIL"], "password": credential["LOADTEST_PASSWORD"]}
    signed_in = server.request(
        "POST",
        "/api/v1/identity/token",
        data=urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    expect(signed_in.status == 200, f"password login: {signed_in.status} {signed_in.body}")
    expect(signed_in.body["token_type"] == "bearer", signed_in.body)
    return {"Authorization": f"Bearer {signed_in.body['access_token']}"}


def start_worker(
    env: ProjectEnv, root: Path, has_queue: bool
) -> Worker | contextlib.nullcontext[None]:
    """`make worker` (a context manager), ready once a worker process has opened its job
    context; a null context when the project has no queue."""
    if not has_queue:
        return contextlib.nullcontext()
    return env.worker(root, ready_log=WORKER_READY_LOG, start_timeout=90)


def job_round_trip(server: Server, worker: Worker, module: str, headers: dict[str, str]) -> None:
    """POST an item with a request id; the real worker runs its publish job (published_at is
    stamped and the cached copy invalidated), and logs it under the same request id."""
    request_id = f"e2e-{secrets.token_hex(6)}"
    created = server.post(
        f"/api/v1/{module}/items",
        json={"name": "queued", "price_cents": 5},
        headers={**headers, "X-Request-ID": request_id},
    )
    expect(created.status == 201, f"create: {created.status} {created.body}")
    expect(created.body["published_at"] is None, created.body)
    url = f"/api/v1/{module}/items/{created.body['id']}"
    # Cached while unpublished: the job must invalidate it.
    expect(server.get(url).status == 200, f"GET {url} after the create")
    deadline = time.monotonic() + JOB_TIMEOUT
    while server.get(url).body["published_at"] is None:
        worker.check_alive("while its job was expected")
        expect(
            time.monotonic() < deadline,
            f"no worker published {url} within {JOB_TIMEOUT:g}s\n{worker.log_tail()}",
        )
        time.sleep(0.25)
    pattern = rf'"request_id":\s*"{request_id}"'
    worker.wait_for_log(pattern, 10.0)  # fails, with the log's tail, when it never shows


def aggregated_stats(root: Path) -> dict[str, str]:
    """The `Aggregated` row of Locust's loadtests/out/load_stats.csv."""
    stats = root / "loadtests" / "out" / "load_stats.csv"
    expect(stats.is_file(), f"`make loadtest` wrote no {stats}")
    with stats.open(newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["Name"] == "Aggregated"]
    expect(len(rows) == 1, f"no single Aggregated row in {stats}")
    return rows[0]


def loadtest_gate(root: Path, env: Mapping[str, str], loadtest_env: Mapping[str, str]) -> str:
    """`make loadtest` with `loadtest_env` (users, duration, p95 budget) against the running
    server passes its gate with no failed request and leaves its CSV and HTML reports.
    Returns a line of the numbers behind the gate."""
    result = run_make(root, "loadtest", {**env, **loadtest_env}, timeout=180)
    expect("loadtest gate: pass" in result.output, result.tail())
    total = aggregated_stats(root)
    expect(int(total["Request Count"]) > 0, total)
    expect(int(total["Failure Count"]) == 0, result.tail())
    expect((root / "loadtests" / "out" / "load.html").is_file(), "no loadtests/out/load.html")
    return (
        f"{root.name}: {total['Request Count']} requests, {total['Requests/s']} req/s, "
        f"p50 {total['50%']} ms, p95 {total['95%']} ms, max {total['Max Response Time']} ms"
    )
