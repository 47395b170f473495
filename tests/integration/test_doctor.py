"""`scalekit doctor` against real servers: the harness's PostgreSQL, PgBouncer, Redis and
memcached, and the machine's RabbitMQ (127.0.0.1:5672, as in CI). Each probe must recognise
its own server and refuse another's."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scalekit_gen.cli import app
from scalekit_gen.doctor import Status, check_service
from scalekit_gen.errors import CHECKS_FAILED
from scalekit_gen.harness.project import find_python
from scalekit_gen.harness.services import Memcached, PgBouncer, Postgres, Redis

pytestmark = pytest.mark.integration

RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


@pytest.fixture
def servers(postgres: Postgres, pgbouncer: PgBouncer, redis: Redis, memcached: Memcached):
    return {
        "DATABASE_URL": pgbouncer.url(),
        "DATABASE_MIGRATIONS_URL": postgres.url(),
        "REDIS_URL": redis.url(0),
        "CACHE_URL": f"memcached://{memcached.address}",
        "BROKER_URL": RABBITMQ_URL,
    }


@pytest.fixture
def toolchain_on_path(monkeypatch) -> None:
    """uv (installed with scalekit, next to this interpreter) on PATH and a Python >= 3.12."""
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("UV_PYTHON", find_python())


def _project(tmp_path: Path, settings: dict[str, str]) -> Path:
    """A directory as `make install` leaves a generated project: answers, .env, lock, venv."""
    (tmp_path / ".copier-answers.yml").write_text("_src_path: scalekit\n")
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    (tmp_path / "uv.lock").write_text("")
    (tmp_path / ".venv").mkdir()
    return tmp_path


def test_each_probe_recognises_its_own_server(servers: dict[str, str]) -> None:
    for var, url in servers.items():
        check = check_service(var, url, var)
        assert check.status is Status.OK, check


def test_each_probe_refuses_another_kind_of_server(servers: dict[str, str]) -> None:
    urls = list(servers.items())
    for (var, url), (_, other) in zip(urls, urls[1:] + urls[:1], strict=True):
        scheme = url.split("://")[0]
        misdirected = f"{scheme}://{other.split('://')[1]}"
        check = check_service(var, misdirected, var)
        if check.status is Status.OK:  # DATABASE_URL and DATABASE_MIGRATIONS_URL: both PG
            assert scheme == "postgresql" and other.startswith("postgresql")
            continue
        assert "listens" in check.detail and "but not" in check.detail, check


@pytest.mark.usefixtures("toolchain_on_path")
def test_doctor_passes_when_everything_answers(servers, tmp_path: Path, monkeypatch) -> None:
    for var in servers:
        monkeypatch.delenv(var, raising=False)
    result = CliRunner().invoke(app, ["doctor", str(_project(tmp_path, servers))])
    assert result.exit_code == 0, result.output
    assert "Ready:" in result.output


@pytest.mark.usefixtures("toolchain_on_path")
def test_doctor_names_each_failure_and_its_fix(servers, tmp_path: Path, monkeypatch) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    settings = {**servers, "REDIS_URL": f"redis://127.0.0.1:{closed}/0"}
    for var in settings:
        monkeypatch.delenv(var, raising=False)
    project = _project(tmp_path, settings)
    (project / "uv.lock").unlink()
    result = CliRunner().invoke(app, ["doctor", str(project)])
    assert result.exit_code == CHECKS_FAILED, result.output
    assert "REDIS_URL: start them with `make services`" in result.output
    assert "uv.lock: run `make install` (it writes uv.lock), then commit uv.lock" in result.output
    assert "2 to fix" in result.output
