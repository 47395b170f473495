"""Generated projects, run for real: install, lint, migrate, their own tests, then the
production server and the queue's worker against PostgreSQL-through-PgBouncer and Redis
started by the harness, and a Locust run through the project's own gate.

For each framework: one test per preset, one per queue the catalog allows in each
concurrency model that the presets do not already cover, and one per auth option besides the
default (users-jwt, which all the others run). Every case walks the whole
operations contract the same way, the way a platform team's CI drives any generated service:
what differs between frameworks is data (`OPENAPI_PATH`), never a second test.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from scalekit_gen.catalog import allowed_values
from scalekit_gen.harness.project import MakeResult, ProjectEnv, Server, run_make
from scalekit_gen.harness.smoke import job_round_trip, start_worker
from scalekit_gen.render import render_project
from tests.integration.generated import (
    API_KEY_HEADER,
    FRAMEWORK_CASES,
    INSTALL_TIMEOUT,
    assert_loadtest_passes,
    assert_writes_are_open,
    assert_writes_need_a_credential,
    blueprint,
    case_id,
    migration_lock_key,
    mint_api_key,
    provision_credential,
    revoke_api_key,
    write_headers,
)

pytestmark = pytest.mark.integration

#: The presets of each framework, run as they are.
PRESETS = {
    "fastapi": ("fastapi-async", "fastapi-sync", "lean-api"),
    "django": ("django-platform", "instagram-classic"),
}
#: The preset each (framework, concurrency) starts from when a queue is swapped in, and the
#: answers that turn the preset into that concurrency model.
BASES = {
    ("fastapi", "async"): ("fastapi-async", {}),
    ("fastapi", "sync"): ("fastapi-sync", {}),
    ("django", "sync"): ("django-platform", {}),
    ("django", "async"): ("django-platform", {"concurrency": "async"}),
}
#: Where each framework serves its OpenAPI document.
OPENAPI_PATH = {"fastapi": "/openapi.json", "django": "/api/v1/openapi.json"}
#: The generated test that the application's role (DATABASE_URL's, through PgBouncer) cannot
#: change the schema; "roles=separate": the harness gives it a role apart from the
#: migrations' (ProjectEnv), so the configured role itself is what is checked.
ROLES_TEST = (
    "tests/test_database_roles.py::"
    "test_the_application_role_uses_the_data_and_cannot_change_the_schema[roles=separate]"
)

Case = tuple[str, dict[str, str]]


def _spare(decision: str, framework: str) -> list[str]:
    """The options of `decision` the catalog allows `framework` that none of its presets runs,
    in catalog order."""
    used = {blueprint(preset)[decision] for preset in PRESETS[framework]}
    allowed = allowed_values(decision, {"framework": framework})
    return [option for option in allowed if option not in used]


def _cases() -> list[Case]:
    """(preset, answers): every preset as it is, then each (framework, concurrency) base as it
    is when no preset is already it, then each queue the catalog allows there that the base
    does not use. The cache and auth options no preset of the framework runs ride along on
    the queue cases (see _ride_along), so that each runs for real at no extra case: an
    end-to-end case costs minutes of CI."""
    cases: list[Case] = [(p, {}) for presets in PRESETS.values() for p in presets]
    for (framework, concurrency), (preset, answers) in BASES.items():
        if answers:
            cases.append((preset, answers))
        covered = blueprint(preset, **answers)["queue"]
        context = {"framework": framework, "concurrency": concurrency}
        for queue in allowed_values("queue", context):
            if queue not in ("none", covered):
                cases.append((preset, {**answers, "queue": queue}))
    for decision in ("cache", "auth"):
        for framework in PRESETS:
            _ride_along(cases, decision, framework)
    return cases


def _ride_along(cases: list[Case], decision: str, framework: str) -> None:
    """Put each spare option of `decision` on one of `framework`'s queue cases, in turn, each
    on a concurrency model that has had fewest of them (so a framework's two spare auth
    options run one sync, one async)."""
    riders = [c for c in cases if "queue" in c[1] and blueprint(c[0])["framework"] == framework]
    spare = _spare(decision, framework)
    assert len(spare) <= len(riders), f"more spare {decision} options than cases: {spare}"
    models: Counter[str] = Counter()
    for option in spare:
        preset, answers = min(riders, key=lambda c: models[blueprint(c[0], **c[1])["concurrency"]])
        riders.remove((preset, answers))
        models[blueprint(preset, **answers)["concurrency"]] += 1
        cases[cases.index((preset, answers))] = (preset, {**answers, decision: option})


CASES = _cases()


def _case_id(case: Case) -> str:
    return case_id(*case)


def _crud_round_trip(server: Server, module: str, headers: dict[str, str]) -> None:
    """Create, read, update, list, delete; the writes carry `headers` (the credential)."""
    items = f"/api/v1/{module}/items"
    created = server.post(items, json={"name": "Lamp", "price_cents": 1999}, headers=headers)
    assert created.status == 201, created.body
    item_id = created.body["id"]

    fetched = server.get(f"{items}/{item_id}")
    assert fetched.status == 200, fetched.body
    assert fetched.body["name"] == "Lamp"

    updated = server.patch(f"{items}/{item_id}", json={"price_cents": 2499}, headers=headers)
    assert updated.status == 200, updated.body
    assert updated.body["price_cents"] == 2499
    assert server.get(f"{items}/{item_id}").body["price_cents"] == 2499

    listed = server.get(items)
    assert listed.status == 200, listed.body
    assert item_id in str(listed.body)

    assert server.delete(f"{items}/{item_id}", headers=headers).status == 204
    assert server.get(f"{items}/{item_id}").status == 404
    assert server.post(items, json={"name": ""}, headers=headers).status == 422


def _revoked_key_is_refused(server: Server, root: Path, env: dict[str, str], module: str) -> None:
    """A key writes until `make revoke-api-key` revokes it, then it is refused (401) by the
    running server (the load test's key, used from here on, is left alone)."""
    items = f"/api/v1/{module}/items"
    key = mint_api_key(root, env, "e2e-revoked")
    body = {"name": "by a key about to be revoked", "price_cents": 1}
    assert server.post(items, json=body, headers={API_KEY_HEADER: key}).status == 201
    revoke_api_key(root, env, key)
    refused = server.post(items, json=body, headers={API_KEY_HEADER: key})
    assert refused.status == 401, refused.body


def _metrics_count_every_worker(server: Server, module: str) -> None:
    """/metrics under several workers (multiprocess mode), on the metrics port: the two
    successful reads of the round trip are counted whichever worker served them, under the
    route's template. On the public port /metrics does not exist."""
    assert server.get("/metrics").status == 404
    metrics = server.metrics()
    assert metrics.status == 200, metrics.body
    labels = ('method="GET"', f'route="/api/v1/{module}/items/{{item_id}}"', 'status="200"')
    counts = [
        float(line.rsplit(" ", 1)[1])
        for line in metrics.body.splitlines()
        if line.startswith("http_request_duration_seconds_count{")
        and all(label in line for label in labels)
    ]
    assert counts == [2.0], metrics.body


def _deleted_row_is_kept(env: ProjectEnv, module: str) -> None:
    with env.connect(direct=True) as connection:
        rows = connection.execute(
            f"SELECT count(*) FROM {module}_items WHERE deleted_at IS NOT NULL"
        ).fetchone()
    assert rows is not None and rows[0] == 1, "soft delete must keep the row"


def _queue_depth_is_exported(server: Server) -> None:
    metrics = server.metrics()
    assert metrics.status == 200, metrics.body
    depths = [line for line in metrics.body.splitlines() if line.startswith("queue_depth{")]
    assert depths, f"no queue_depth samples on /metrics:\n{metrics.body[-2000:]}"
    assert all(float(line.rsplit(" ", 1)[1]) >= 0 for line in depths), depths


def _advisory_lock_waiters(env: ProjectEnv) -> int:
    with env.connect(direct=True, autocommit=True) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
            " WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = current_database()"
        ).fetchone()
    return int(row[0]) if row else 0


def _two_pods_migrate_at_once(env: ProjectEnv, root: Path, package: str) -> None:
    """`make migrate` twice at once on the fresh database, as two pods' init containers would,
    while a third run (this test) holds the migration lock: both wait for it, then both succeed
    and each migration is recorded once."""
    results: list[MakeResult | BaseException] = []

    def migrate() -> None:
        try:
            results.append(env.make(root, "migrate"))
        except BaseException as error:  # reported below, with the run's output
            results.append(error)

    runs = [threading.Thread(target=migrate) for _ in range(2)]
    with env.connect(direct=True, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", [migration_lock_key(package)])
        for run in runs:
            run.start()
        deadline = time.monotonic() + 60
        while _advisory_lock_waiters(env) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        waiting = _advisory_lock_waiters(env)
    for run in runs:
        run.join(timeout=120)
    failures = [result for result in results if isinstance(result, BaseException)]
    assert not failures, failures[0]
    assert len(results) == 2, "a migrate did not finish within 120 s"
    assert waiting == 2, f"{waiting} of 2 migrates waited for the migration lock"
    with env.connect(direct=True) as connection:
        recorded = connection.execute(
            "SELECT count(*) FROM alembic_version"
            if _is_fastapi(root)
            else "SELECT count(*) - count(DISTINCT (app, name)) FROM django_migrations"
        ).fetchone()
    assert recorded == ((1,) if _is_fastapi(root) else (0,)), recorded


def _is_fastapi(root: Path) -> bool:
    return (root / "alembic.ini").exists()


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_generated_project_runs_end_to_end(
    case: Case,
    tmp_path: Path,
    project_env_factory: Callable[..., ProjectEnv],
) -> None:
    preset, answers = case
    project = blueprint(preset, modules="catalog,billing", **answers)
    root = render_project(project, tmp_path / "project", git=False).destination
    env = project_env_factory(
        cache=project.derived()["uses_memcached"],
        replicas=project["read_replicas"],
        # The API docs are off unless asked for; this run reads the OpenAPI document.
        extra={"API_DOCS": "true"},
    )

    _settings_only_in_dotenv(env, root)
    env.make(root, "install", timeout=INSTALL_TIMEOUT)
    env.make(root, "lint")
    _two_pods_migrate_at_once(env, root, project.package_name)
    # -rp lists what passed: the role test must have run on the separate roles.
    tested = run_make(root, "test", {**env.env, "PYTEST_ADDOPTS": "-rp"}, timeout=600)
    assert f"PASSED {ROLES_TEST}" in tested.output, tested.tail()
    credential = provision_credential(project, root, env.env)

    has_queue = project["queue"] != "none"
    with env.server(root) as server, start_worker(env, root, has_queue) as worker:
        assert server.get("/healthz").status == 200
        ready = server.get("/readyz")
        assert ready.status == 200, ready.body
        assert server.get(OPENAPI_PATH[project["framework"]]).status == 200
        headers = write_headers(server, credential)
        for module in project["modules"]:
            if project.derived()["has_auth"]:
                assert_writes_need_a_credential(server, module, headers)
            else:
                assert_writes_are_open(server, module)
        if project.derived()["uses_api_keys"]:
            _revoked_key_is_refused(server, root, env.env, project["modules"][0])
        for module in project["modules"]:
            _crud_round_trip(server, module, headers)
        if "prometheus" in project["observability"]:
            for module in project["modules"]:
                _metrics_count_every_worker(server, module)
        if worker is not None:
            for module in project["modules"]:
                job_round_trip(server, worker, module, headers)
            if "prometheus" in project["observability"]:
                _queue_depth_is_exported(server)
        assert_loadtest_passes(root, {**env.env, **credential})
    for module in project["modules"]:
        _deleted_row_is_kept(env, module)
    if case in FRAMEWORK_CASES:
        _make_dev_serves(env, root)


def _settings_only_in_dotenv(env: ProjectEnv, root: Path) -> None:
    """Move the project's settings from the environment into its `.env`, as a developer has
    them after `scalekit new`: every `make` target below must then read them from there.
    PORT and METRICS_PORT stay in the environment (each server here gets free ones), which
    also shows that the environment wins over `.env`."""
    dotenv = root / ".env"
    lines = dotenv.read_text(encoding="utf-8").splitlines()
    names = {line.split("=", 1)[0] for line in lines if "=" in line and not line.startswith("#")}
    stays = {"PORT", "METRICS_PORT"}
    moved = {name: env.env.pop(name) for name in sorted(names & env.env.keys() - stays)}
    assert "DATABASE_URL" in moved and "SECRET_KEY" in moved, sorted(names)
    kept = [line for line in lines if line.split("=", 1)[0] not in moved]
    settings = [f"{name}={value}" for name, value in moved.items()]
    dotenv.write_text("\n".join([*kept, *settings]) + "\n", encoding="utf-8")


def _make_dev_serves(env: ProjectEnv, root: Path) -> None:
    """`make dev`, the development server the next steps end with, serves the API."""
    with env.server(root, argv=("make", "dev"), start_timeout=90) as dev:
        assert dev.get("/readyz").status == 200
        assert dev.get("/api/v1/catalog/items").status == 200
