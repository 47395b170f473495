"""`scalekit doctor`'s pure parts: which settings it reads, how it reports what is not there."""

from __future__ import annotations

import contextlib
import socket
import struct
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from scalekit_gen.doctor import (
    NotAProjectError,
    Status,
    check_service,
    compose_published_ports,
    login_check,
    project_file_checks,
    project_settings,
    run_checks,
    service_checks,
    services_port_checks,
)
from scalekit_gen.doctor import _tool_check as tool_check
from scalekit_gen.toolchain import Tool


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # nothing listens once it is closed


@pytest.fixture
def http_port() -> Iterator[int]:
    """A listener that answers like an HTTP server: the wrong protocol."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(5)

    def serve() -> None:  # one connection: the test makes one
        try:
            conn, _ = server.accept()
        except OSError:
            return
        with conn:
            conn.recv(64)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    server.close()
    thread.join(timeout=5)


@pytest.fixture
def postgres_port() -> Iterator[int]:
    """A listener that answers PostgreSQL's SSLRequest with N, as a server without SSL does."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(5)

    def serve() -> None:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        with conn:
            conn.recv(8)
            conn.sendall(b"N")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    with contextlib.suppress(OSError):
        server.shutdown(socket.SHUT_RDWR)  # wakes accept() when no test connected
    server.close()
    thread.join(timeout=5)


def _compose(tmp_path: Path, ports: str) -> Path:
    (tmp_path / "docker-compose.yml").write_text(
        f"services:\n  postgres:\n    image: postgres:18\n    ports:\n{ports}"
        "  redis:\n    image: redis:8\n"
    )
    return tmp_path


def test_a_postgresql_on_the_published_port_warns_that_make_services_cannot_bind(
    tmp_path: Path, postgres_port: int
) -> None:
    project = _compose(tmp_path, f'      - "127.0.0.1:{postgres_port}:5432"\n')
    checks = services_port_checks(project, {}, running=lambda _: set())
    assert len(checks) == 1, checks
    check = checks[0]
    assert check.status is Status.WARN
    assert f"PostgreSQL already listens on 127.0.0.1:{postgres_port}" in check.detail
    assert "`make services` will fail to bind" in check.detail
    assert "stop" in check.fix and str(postgres_port) in check.fix and ".env" in check.fix


def test_the_projects_own_running_container_is_no_conflict(
    tmp_path: Path, postgres_port: int
) -> None:
    project = _compose(tmp_path, f'      - "127.0.0.1:{postgres_port}:5432"\n')
    assert services_port_checks(project, {}, running=lambda _: {"postgres"}) == []


def test_a_free_published_port_is_no_conflict(tmp_path: Path) -> None:
    project = _compose(tmp_path, f'      - "127.0.0.1:{_closed_port()}:5432"\n')
    assert services_port_checks(project, {}, running=lambda _: set()) == []


def test_published_ports_are_read_in_every_syntax_and_interpolated(tmp_path: Path) -> None:
    ports = (
        '      - "127.0.0.1:${POSTGRES_PORT:-5432}:5432"\n'
        '      - "6543:5432"\n'
        '      - "5432"\n'
        "      - {target: 5432, published: 7654, host_ip: 127.0.0.2}\n"
    )
    _compose(tmp_path, ports)
    compose = tmp_path / "docker-compose.yml"
    assert compose_published_ports(compose, {"POSTGRES_PORT": "5433"}) == {
        "postgres": [("127.0.0.1", 5433), ("", 6543), ("127.0.0.2", 7654)]
    }
    assert compose_published_ports(compose, {})["postgres"][0] == ("127.0.0.1", 5432)
    assert compose_published_ports(tmp_path / "missing.yml", {}) == {}


def test_settings_from_env_file_with_the_environment_winning(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        '# comment\nREDIS_URL=redis://localhost:6379/0\nSECRET_KEY="quoted"\nPORT=8000\n'
    )
    settings = project_settings(tmp_path, {"PORT": "9000"})
    assert settings["REDIS_URL"] == "redis://localhost:6379/0"
    assert settings["SECRET_KEY"] == "quoted"
    assert settings["PORT"] == "9000"


def test_a_directory_scalekit_did_not_generate_is_refused(tmp_path: Path) -> None:
    with pytest.raises(NotAProjectError, match=r"no \.copier-answers\.yml"):
        run_checks(tmp_path, {})


def test_a_closed_port_fails_with_the_fix() -> None:
    port = _closed_port()
    check = check_service("REDIS_URL", f"redis://127.0.0.1:{port}/0", "REDIS_URL")
    assert check.status is Status.FAIL
    assert f"Redis at 127.0.0.1:{port}" in check.detail
    assert "make services" in check.fix and "REDIS_URL" in check.fix


def test_the_wrong_kind_of_server_is_named(http_port: int) -> None:
    url = f"postgresql://app:secret@127.0.0.1:{http_port}/app"
    check = check_service("DATABASE_URL", url, "DATABASE_URL")
    assert check.status is Status.FAIL
    assert "but not PostgreSQL" in check.detail


@pytest.mark.parametrize(
    ("url", "detail"),
    [
        pytest.param("mysql://x@localhost/db", "unknown scheme 'mysql'", id="scheme=mysql"),
        pytest.param("redis://localhost:99999/0", "not a URL", id="port=out-of-range"),
    ],
)
def test_malformed_urls_fail_without_a_connection(url: str, detail: str) -> None:
    check = check_service("REDIS_URL", url, "REDIS_URL")
    assert check.status is Status.FAIL
    assert detail in check.detail


def test_every_replica_is_checked_and_a_missing_database_url_fails() -> None:
    port = _closed_port()
    replicas = f"postgresql://a@127.0.0.1:{port}/a, postgresql://a@127.0.0.1:{port}/b"
    checks = service_checks({"DATABASE_REPLICA_URLS": replicas, "REDIS_CACHE_URL": ""})
    names = [check.name for check in checks]
    assert names == ["DATABASE_REPLICA_URLS", "DATABASE_REPLICA_URLS[1]", "DATABASE_URL"]
    assert checks[-1].status is Status.FAIL and checks[-1].detail == "not set"


def test_project_files_each_say_how_to_get_them(tmp_path: Path) -> None:
    checks = {check.name: check for check in project_file_checks(tmp_path)}
    assert checks[".env"].fix.startswith("cp .env.example .env")
    assert "commit uv.lock" in checks["uv.lock"].fix
    assert checks[".venv"].fix == "run `make install`"
    for name in ("uv.lock", ".env"):
        (tmp_path / name).write_text("")
    (tmp_path / ".venv").mkdir()
    assert all(check.status is Status.OK for check in project_file_checks(tmp_path))


def test_an_optional_tool_is_a_warning_and_a_missing_one_a_failure() -> None:
    assert tool_check(Tool("Python", None, "fix it", optional=True)).status is Status.WARN
    assert tool_check(Tool("uv", None, "fix it")).status is Status.FAIL


# PostgreSQL's protocol: the two requests a client may open with (SSL, GSSAPI encryption).
ENCRYPTION_REQUESTS = (80877103, 80877104)


def _error_response(code: str, message: str) -> bytes:
    fields = b"".join(
        key + value.encode() + b"\0"
        for key, value in ((b"S", "FATAL"), (b"V", "FATAL"), (b"C", code), (b"M", message))
    )
    return b"E" + struct.pack("!i", 4 + len(fields) + 1) + fields + b"\0"


def _read_exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


@pytest.fixture
def refusing_postgres() -> Iterator[int]:
    """A server that speaks PostgreSQL's protocol and refuses every login as PostgreSQL does
    when the password is not the role's (SQLSTATE 28P01): a volume made with other passwords."""
    server = socket.create_server(("127.0.0.1", 0))
    refusal = _error_response("28P01", 'password authentication failed for user "app"')

    def answer(conn: socket.socket) -> None:
        with conn:
            try:
                while True:
                    length, code = struct.unpack("!ii", _read_exactly(conn, 8))
                    if code in ENCRYPTION_REQUESTS:
                        conn.sendall(b"N")  # no encryption: the client goes on in the clear
                        continue
                    _read_exactly(conn, length - 8)  # the startup message: user, database
                    conn.sendall(refusal)
                    return
            except (ConnectionError, OSError):
                return  # the protocol probe closes after the first answer

    stop = threading.Event()
    server.settimeout(0.1)  # accept() looks at `stop` this often

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(5)
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(timeout=5)
    server.close()


@pytest.fixture
def project_python(tmp_path: Path) -> Path:
    """A project's `.venv/bin/python`: this interpreter, which has psycopg (a test dependency)."""
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    python.chmod(0o755)
    return python


def test_a_login_the_server_refuses_fails_with_the_roles_fix(
    refusing_postgres: int, project_python: Path
) -> None:
    url = f"postgresql://app:stale@127.0.0.1:{refusing_postgres}/app"
    (check,) = service_checks({"DATABASE_URL": url}, project_python)
    assert check.status is Status.FAIL
    assert "refuses app: password authentication failed" in check.detail
    assert "make services" in check.fix and "deploy/postgres/roles.sql" in check.fix
    assert "stale" not in check.detail + check.fix  # never the password


def test_without_the_projects_venv_only_the_protocol_is_checked(refusing_postgres: int) -> None:
    url = f"postgresql://app:stale@127.0.0.1:{refusing_postgres}/app"
    (check,) = service_checks({"DATABASE_URL": url})
    assert check.status is Status.OK
    assert "logged in" not in check.detail


def test_run_checks_logs_in_with_the_projects_venv(
    refusing_postgres: int, project_python: Path, tmp_path: Path
) -> None:
    (tmp_path / ".copier-answers.yml").write_text("_src_path: scalekit\n")
    url = f"postgresql://app:stale@127.0.0.1:{refusing_postgres}/app"
    checks = {check.name: check for check in run_checks(tmp_path, {"DATABASE_URL": url})}
    assert checks["DATABASE_URL"].status is Status.FAIL
    assert "password authentication failed" in checks["DATABASE_URL"].detail


def test_an_interpreter_that_cannot_run_the_login_is_a_warning(tmp_path: Path) -> None:
    broken = tmp_path / "python"
    broken.write_text("#!/bin/sh\nexit 3\n")
    broken.chmod(0o755)
    probed = check_service("DATABASE_URL", "postgresql://a@127.0.0.1:1/a", "DATABASE_URL")
    check = login_check(probed, "postgresql://a@127.0.0.1:1/a", "DATABASE_URL", broken)
    assert check.status is Status.WARN
    assert check.fix == "run `make install`"
