"""The driver that runs generated projects (scalekit_gen/harness/project.py), tested end to end
on a tiny stand-in project (fixtures/fake_project): a stdlib HTTP server and a worker under uv."""

from __future__ import annotations

import os
import re
import shutil
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest

from scalekit_gen.harness import Memcached, PgBouncer, Postgres, Redis, processes
from scalekit_gen.harness.project import (
    CONTRACT_VARS,
    ProjectEnv,
    ProjectRunError,
    Server,
    find_python,
    run_make,
    toolchain_env,
    uv_cache_dir,
)

pytestmark = pytest.mark.integration

FAKE_PROJECT = Path(__file__).parent / "fixtures" / "fake_project"


def _wait_gone(pids: list[int], timeout: float = 2.0) -> list[int]:
    """The pids still alive after `timeout` (orphans are reaped by init, not at once)."""
    deadline = time.monotonic() + timeout
    while (alive := [p for p in pids if processes.alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


def _database_exists(postgres: Postgres, name: str) -> bool:
    return bool(postgres.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]))


def _role_exists(postgres: Postgres, name: str) -> bool:
    return bool(postgres.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name]))


@pytest.fixture(scope="module")
def fake_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the fake project, `make install`ed once (uv sync: a venv and psycopg)."""
    project = tmp_path_factory.mktemp("fake") / "fake_project"
    shutil.copytree(FAKE_PROJECT, project, ignore=shutil.ignore_patterns(".venv", "uv.lock"))
    run_make(project, "install", toolchain_env(), timeout=300)
    return project


# -- the environment ------------------------------------------------------------------------


def test_toolchain_env_is_uv_and_python_only() -> None:
    env = toolchain_env()
    path = env["PATH"].split(os.pathsep)
    assert os.path.basename(os.readlink(os.path.join(path[0], "uv"))) == "uv"
    assert sorted(os.listdir(path[0])) in (["uv"], ["uv", "uvx"])
    venv_bin = os.path.realpath(os.path.join(sys.prefix, "bin"))
    assert all(os.path.realpath(p) != venv_bin for p in path[1:])
    assert not any("pyenv/shims" in p for p in path)
    assert env["UV_PYTHON"] == find_python()
    assert env["UV_PYTHON_DOWNLOADS"] == "never"
    assert env["UV_CACHE_DIR"] == str(uv_cache_dir())
    leaks = {"VIRTUAL_ENV", "PYTHONPATH", "PYTEST_CURRENT_TEST", "MAKEFLAGS", "PGPASSWORD"}
    assert not leaks & env.keys()
    assert not set(CONTRACT_VARS) & env.keys()


def test_project_env_gives_the_contract_and_drops_what_it_made(
    postgres: Postgres, pgbouncer: PgBouncer, redis: Redis, memcached: Memcached
) -> None:
    with ProjectEnv(postgres, pgbouncer, redis, memcached, replicas=2) as penv:
        env = penv.env
        db, role, owner = penv.database, penv.role, penv.owner
        assert re.fullmatch(r"p_[0-9a-f]{10}", db) and role == db
        assert owner == f"{db}_migrations"
        assert _database_exists(postgres, db) and _role_exists(postgres, role)
        assert _role_exists(postgres, owner)

        app_url, direct_url = (
            urlsplit(env["DATABASE_URL"]),
            urlsplit(env["DATABASE_MIGRATIONS_URL"]),
        )
        assert (app_url.hostname, app_url.port, app_url.path) == (
            "127.0.0.1",
            pgbouncer.port,
            f"/{db}",
        )
        assert (direct_url.port, direct_url.path) == (postgres.port, f"/{db}")
        assert (app_url.username, direct_url.username) == (role, owner)
        assert env["DATABASE_REPLICA_URLS"] == f"{env['DATABASE_URL']},{env['DATABASE_URL']}"
        assert env["REDIS_URL"] == redis.url(penv.redis_dbs[0])  # type: ignore[index]
        assert env["BROKER_URL"] == redis.url(penv.redis_dbs[0] + 1)  # type: ignore[index]
        assert env["CACHE_URL"] == f"memcached://127.0.0.1:{memcached.port}"
        assert len(env["SECRET_KEY"]) >= 50
        assert (env["LOG_LEVEL"], env["WEB_CONCURRENCY"]) == ("INFO", "2")
        assert int(env["PORT"]) not in {postgres.port, pgbouncer.port, redis.port}
        assert "SENTRY_DSN" not in env and "OTEL_EXPORTER_OTLP_ENDPOINT" not in env

        # Both URLs log in; the app's goes through PgBouncer, timezone set on each role. The
        # database is the migrations' role's: the application's may not create in it.
        for url, user in ((env["DATABASE_URL"], role), (env["DATABASE_MIGRATIONS_URL"], owner)):
            with psycopg.connect(url, prepare_threshold=None) as conn:
                row = conn.execute(
                    "SELECT current_database(), current_user, inet_server_port(),"
                    " current_setting('TimeZone'), has_schema_privilege('public', 'CREATE')"
                ).fetchone()
            assert row == (db, user, postgres.port, "UTC", user == owner)
        pools = {(p["database"], p["user"]) for p in pgbouncer.show("POOLS")}
        assert (db, role) in pools

        # What a test runner makes next to it goes too (Django's test_<name>).
        with penv.connect(direct=True, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "test_{db}"')
        with ProjectEnv(postgres, pgbouncer, redis) as other:
            assert other.redis_dbs != penv.redis_dbs
            assert other.database != db

    assert not _database_exists(postgres, db)
    assert not _database_exists(postgres, f"test_{db}")
    assert not _role_exists(postgres, role)
    assert not _role_exists(postgres, owner)
    penv.close()  # idempotent


def test_project_env_can_use_the_shared_app_role(
    project_env_factory: Callable[..., ProjectEnv], postgres: Postgres
) -> None:
    penv = project_env_factory(dedicated_role=False, extra={"LOG_LEVEL": "DEBUG", "PORT": None})
    assert penv.role == "app"
    assert penv.env["LOG_LEVEL"] == "DEBUG" and "PORT" not in penv.env
    with penv.connect() as conn:
        assert conn.execute("SELECT current_user, current_database()").fetchone() == (
            "app",
            penv.database,
        )
    penv.close()
    assert not _database_exists(postgres, penv.database)
    assert _role_exists(postgres, "app")


# -- make targets --------------------------------------------------------------------------


def test_failing_target_raises_with_target_code_and_tail(fake_project: Path) -> None:
    env = toolchain_env()
    with pytest.raises(ProjectRunError) as excinfo:
        run_make(fake_project, "fail", env, timeout=30)
    message = str(excinfo.value)
    assert isinstance(excinfo.value, AssertionError)
    assert message.startswith(f"`make fail` in {fake_project} failed with exit code 2")
    assert "last 80 of 122 lines" in message
    assert "fake lint line 120" in message and "fake lint: 3 errors" in message
    assert "Error 3" in message  # make's own line names the recipe's exit code
    assert not re.search(r"^fake lint line 42$", message, re.MULTILINE)
    assert re.search(r"^fake lint line 43$", message, re.MULTILINE)

    result = run_make(fake_project, "fail", env, check=False)
    assert result.returncode == 2 and result.output.count("fake lint line") == 120


def test_a_failed_test_run_reports_its_failure_section_above_the_tail(
    fake_project: Path,
) -> None:
    with pytest.raises(ProjectRunError) as excinfo:
        run_make(fake_project, "fail-tests", toolchain_env(), timeout=30)
    message = str(excinfo.value)
    assert "lines from the first failure" in message
    assert "assert 'what broke' == 'expected'" in message
    assert message.index("what broke") < message.index("last 80 of")
    assert "test_fake.py::test_100" in message  # the tail is still there


def test_target_that_hangs_is_killed_with_its_children(fake_project: Path) -> None:
    pidfile = fake_project / "hang.pid"
    started = time.monotonic()
    with pytest.raises(ProjectRunError, match=r"`make hang` .* timed out after 1s \(killed\)"):
        run_make(fake_project, "hang", toolchain_env(), timeout=1)
    assert time.monotonic() - started < 5
    child = int(pidfile.read_text())
    pidfile.unlink()
    assert not _wait_gone([child])


def test_migrate_goes_straight_to_postgres(
    fake_project: Path, project_env: ProjectEnv, postgres: Postgres
) -> None:
    result = project_env.make(fake_project, "migrate", timeout=60)
    assert "fake migrate: applied 1 migration" in result.output
    with project_env.connect() as conn:
        assert conn.execute("SELECT server_port FROM fake_migrations").fetchall() == [
            (postgres.port,)
        ]


# -- the web server ------------------------------------------------------------------------


def test_server_runs_on_port_with_the_env_and_leaves_no_process(
    fake_project: Path, project_env: ProjectEnv, pgbouncer: PgBouncer
) -> None:
    penv = project_env
    penv.make(fake_project, "migrate", timeout=60)
    with penv.server(fake_project, start_timeout=30) as server:
        assert server.port == penv.port and server.running
        status, headers, health = server.get("/healthz")
        assert status == 200 and headers["x-fake"] == "yes"
        assert len(health["workers"]) == 2  # WEB_CONCURRENCY
        app_pids = [health["pid"], *health["workers"]]
        assert set(app_pids) <= set(server.pids())
        assert server.pid not in app_pids  # the leader is make; the app is its grandchild

        seen = server.get("/debug/env").body
        assert seen == {k: penv.env.get(k) for k in seen}

        ready = server.wait_for_status("/readyz", 200, timeout=10).body
        assert ready == {"database": penv.database, "user": penv.role, "migrations": 1}
        assert (penv.database, penv.role) in {
            (p["database"], p["user"]) for p in pgbouncer.show("POOLS")
        }

        created = server.post("/api/v1/echo", json={"name": "x"}, headers={"X-Test": "1"})
        assert created == (
            201,
            created.headers,
            {"method": "POST", "json": {"name": "x"}, "x_test": "1"},
        )
        assert server.patch("/api/v1/echo", json=[1]).body["json"] == [1]
        assert server.put("/api/v1/echo").body["method"] == "PUT"
        deleted = server.delete("/api/v1/echo")
        assert (deleted.status, deleted.body) == (204, None)
        assert server.get("/nope").status == 404
        metrics = server.get("/metrics")
        assert metrics.headers.get_content_type() == "text/plain"
        assert re.match(r"fake_requests_total \d+", metrics.body)
        leader = server.pid

    assert server.returncode is not None and not server.running
    assert leader is not None and not _wait_gone([leader, *app_pids])
    assert "fake app: GET /healthz" in server.output  # the log outlives the run
    assert "fake app: SIGTERM, shutting down" in server.output  # a graceful stop
    with pytest.raises(ProjectRunError, match="is not running"):
        server.get("/healthz")


def test_stop_kills_a_child_that_ignores_sigterm(
    fake_project: Path, project_env_factory: Callable[..., ProjectEnv]
) -> None:
    penv = project_env_factory(extra={"FAKE_STUBBORN_WORKER": "1"})
    with penv.server(fake_project, start_timeout=30, stop_timeout=1) as server:
        pids = server.pids()
        workers = server.get("/healthz").body["workers"]
        started = time.monotonic()
    assert 1 <= time.monotonic() - started < 5  # waited the grace period, then SIGKILL
    assert not _wait_gone([*pids, *workers])


def test_server_that_exits_at_once_fails_fast_with_its_output(
    fake_project: Path, project_env: ProjectEnv
) -> None:
    started = time.monotonic()
    with pytest.raises(ProjectRunError) as excinfo:
        project_env.server(fake_project, argv=("make", "crash"), start_timeout=30).start()
    assert time.monotonic() - started < 5
    message = str(excinfo.value)
    assert message.startswith(
        f"`make crash` in {fake_project} exited with code 2 before GET /healthz answering 200"
    )
    assert "refusing to start: SECRET_KEY is missing" in message


def test_server_never_healthy_times_out_and_is_stopped(
    fake_project: Path, project_env_factory: Callable[..., ProjectEnv]
) -> None:
    penv = project_env_factory(extra={"FAKE_HEALTH_STATUS": "503"})
    with pytest.raises(ProjectRunError) as excinfo:
        penv.server(fake_project, start_timeout=2).start()
    message = str(excinfo.value)
    assert "did not reach GET /healthz answering 200 within 2s (last: 503 " in message
    app_pid = re.search(r"fake app pid (\d+) listening", message)
    assert app_pid, message
    assert not _wait_gone([int(app_pid[1])])


def test_server_refuses_a_port_that_is_already_served(
    fake_project: Path, project_env: ProjectEnv
) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", project_env.port))
        squatter.listen()
        with pytest.raises(ProjectRunError, match="already accepts connections"):
            Server(fake_project, project_env.env).start()


# -- the worker ----------------------------------------------------------------------------


def test_worker_waits_for_its_ready_line(fake_project: Path, project_env: ProjectEnv) -> None:
    broker_db = urlsplit(project_env.env["BROKER_URL"]).path.strip("/")
    with project_env.worker(fake_project, ready_log=r"fake worker ready: pid (\d+)") as worker:
        assert f"broker db {broker_db}" in worker.output
        match = worker.wait_for_log(r"^fake worker tick 2$", timeout=10)
        assert worker.wait_for_log(r"tick 3", since=match.end()).group() == "tick 3"
        pid = int(re.findall(r"ready: pid (\d+)", worker.output)[0])
        assert processes.alive(pid)
    assert not _wait_gone([pid])


def test_worker_without_its_ready_line_fails_with_the_tail(
    fake_project: Path, project_env: ProjectEnv
) -> None:
    def never(worker: Any) -> bool:
        return False

    with pytest.raises(ProjectRunError) as excinfo:
        project_env.worker(
            fake_project, ready_log="fake worker ready", ready=never, start_timeout=2
        ).start()
    message = str(excinfo.value)
    assert re.search(r"did not reach its ready check within [\d.]+s", message)
    assert "fake worker ready" in message
