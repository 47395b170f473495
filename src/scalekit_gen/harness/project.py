"""Drive a generated project through its operations contract (DESIGN.md §4): for the
integration tests and `scalekit matrix --runtime`.

The pieces, each usable on its own::

    with ProjectEnv(postgres, pgbouncer, redis, memcached) as penv:   # per-run db + role
        run_make(project, "install", penv.env)                       # or penv.make(...)
        penv.make(project, "migrate")
        with penv.server(project) as web:                            # `make run`, /healthz polled
            status, headers, body = web.post("/api/v1/items", json={"name": "x"})
        with penv.worker(project, ready_log=r"ready") as worker:     # `make worker`
            worker.wait_for_log(r"job .* done")

- `toolchain_env()`: the environment a project's own tools need (uv, its Python, a shared uv
  cache, proxies and CA settings) and nothing of the test process's venv, pyenv shims,
  pytest or libpq variables. Enough for `make install` and `make lint`.
- `ProjectEnv`: that plus the contract's variables for a fresh database (and, by default, a
  fresh role) on the harness's PostgreSQL, reached through PgBouncer, and a private pair of
  Redis databases; everything it created is dropped on close.
- `run_make()`: one Makefile target to completion; a failure or a timeout raises
  `ProjectRunError` (an AssertionError) naming the target and exit code, with the output tail.
- `Server` / `Worker`: a long-running command in a process group of its own, waited for until
  ready (GET /healthz answers 200; a log line or a check for workers), failing early with the
  output tail when it exits; on exit the whole group (and any descendant that left it) gets
  SIGTERM, then SIGKILL after a grace period, so no uvicorn/gunicorn child survives.

Only the standard library and psycopg are used (HTTP through urllib).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import json as jsonlib
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any, NamedTuple, NoReturn, Self, TypeVar
from urllib import error as urlerror
from urllib import request as urlrequest

import psycopg
from psycopg import sql

from scalekit_gen.matrix import tools

from . import processes
from .services import HOST, Memcached, PgBouncer, Postgres, Redis, free_port

#: Lines of output a failure message ends with.
LOG_TAIL_LINES = 80
#: Variables of the operations contract (DESIGN.md §4).
CONTRACT_VARS = (
    "DATABASE_URL",
    "DATABASE_MIGRATIONS_URL",
    "DATABASE_REPLICA_URLS",
    "REDIS_URL",
    "CACHE_URL",
    "BROKER_URL",
    "SECRET_KEY",
    "SENTRY_DSN",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "LOG_LEVEL",
    "WEB_CONCURRENCY",
    "PORT",
)

# What a project's tools may see of the test process's environment: locale, home, CA bundles,
# proxies and package-index settings. Not the venv, PYTHONPATH, PG*, PYTEST_*, MAKEFLAGS or
# a stray DATABASE_URL.
_PASSTHROUGH = frozenset(
    {
        "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "CI",
        "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
        "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY",
        "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_CERT",
        "UV_INDEX", "UV_DEFAULT_INDEX", "UV_INDEX_URL", "UV_EXTRA_INDEX_URL",
        "UV_FIND_LINKS", "UV_INDEX_STRATEGY", "UV_NATIVE_TLS", "UV_HTTP_TIMEOUT",
        "UV_KEYRING_PROVIDER", "UV_OFFLINE", "UV_CONCURRENT_DOWNLOADS",
        "UV_CONCURRENT_INSTALLS", "UV_CONCURRENT_BUILDS",
    }
)  # fmt: skip
_PASSTHROUGH_PREFIXES = ("LC_", "UV_INDEX_")  # UV_INDEX_<NAME>_USERNAME/PASSWORD

_T = TypeVar("_T")


class ProjectRunError(AssertionError):
    """A project's command failed, timed out or misbehaved; the message ends with the tail of
    its output. An AssertionError, so that pytest reports it as a test failure."""


class ProjectSetupError(RuntimeError):
    """The toolchain a project needs (uv, a Python >= 3.12, make) is missing."""


# ---------------------------------------------------------------------------------------
# The toolchain


def find_uv() -> str:
    """$SCALEKIT_UV, else the `uv` installed beside this interpreter (the test extra), else PATH."""
    override = os.environ.get("SCALEKIT_UV")
    if override:
        if os.access(override, os.X_OK):
            return override
        raise ProjectSetupError(f"SCALEKIT_UV={override} is not an executable file")
    beside = Path(sys.executable).parent / "uv"
    if os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("uv")
    if found:
        return found
    raise ProjectSetupError(
        "uv not found: install the test extras (`pip install -e '.[test]'`, which include uv) "
        "or set SCALEKIT_UV"
    )


def find_python() -> str:
    """The Python >= 3.12 generated projects run on (`scalekit_gen.matrix.tools`)."""
    found = tools.project_python()
    if found is None:
        raise ProjectSetupError(tools.NO_PROJECT_PYTHON)
    return found


def uv_cache_dir() -> Path:
    """The uv cache shared by every project run: $SCALEKIT_UV_CACHE, else
    $XDG_CACHE_HOME/scalekit-uv (~/.cache/scalekit-uv). It persists across sessions."""
    override = os.environ.get("SCALEKIT_UV_CACHE")
    if override:
        path = Path(override)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
        path = Path(base) / "scalekit-uv"
    path.mkdir(parents=True, exist_ok=True)
    return path


@functools.cache
def _tool_bin_dir() -> str:
    """A private dir holding only uv and uvx (symlinks), put first on the projects' PATH:
    the test venv's own bin dir would lend them its python, pytest and ruff."""
    path = tempfile.mkdtemp(prefix="scalekit-toolbin-")
    atexit.register(shutil.rmtree, path, True)
    uv = find_uv()
    os.symlink(uv, os.path.join(path, "uv"))
    uvx = os.path.join(os.path.dirname(uv), "uvx")
    if os.access(uvx, os.X_OK):
        os.symlink(uvx, os.path.join(path, "uvx"))
    return path


def toolchain_env(*, python: str | None = None, passthrough: Iterable[str] = ()) -> dict[str, str]:
    """The environment for a project's tools, without any service: PATH (uv first, then the
    system's), UV_PYTHON, UV_PYTHON_DOWNLOADS=never, the shared UV_CACHE_DIR, unbuffered
    Python output, NO_COLOR, and the locale/CA/proxy/index variables of this process (plus
    `passthrough`). Enough for `make install` and `make lint`."""
    keep = _PASSTHROUGH | set(passthrough)
    env = {
        k: v
        for k, v in os.environ.items()
        if k.upper() in keep or k in keep or k.startswith(_PASSTHROUGH_PREFIXES)
    }
    cache = uv_cache_dir()
    env.update(
        PATH=os.pathsep.join([_tool_bin_dir(), *tools.clean_path(os.environ.get("PATH"))]),
        UV_PYTHON=python or find_python(),
        UV_PYTHON_DOWNLOADS="never",
        UV_CACHE_DIR=str(cache),
        PYTHONUNBUFFERED="1",
        NO_COLOR="1",
    )
    with contextlib.suppress(OSError):
        if os.stat(cache).st_dev != os.stat(tempfile.gettempdir()).st_dev:
            # Projects live under the temp dir: hardlinks from the cache would fail, and uv
            # would warn on every install before falling back to copying.
            env.setdefault("UV_LINK_MODE", "copy")
    return env


# ---------------------------------------------------------------------------------------
# A project's environment: its own database and role, Redis databases, the contract vars

_redis_claims: dict[tuple[str, int], set[int]] = {}
_memcached_users: dict[tuple[str, int], int] = {}
_claims_lock = threading.Lock()


class ProjectEnv:
    """One project run's share of the harness services and its contract environment.

    On start, with `dedicated_role` (the default), the two roles a generated project's
    deploy/postgres/roles.sql makes, both with the harness's role settings (timezone UTC, …):
    `p_<hex>_migrations` (LOGIN CREATEDB, no CREATEROLE, a member of the other) owning a
    new database `p_<hex>`, for DATABASE_MIGRATIONS_URL; and `p_<hex>` (LOGIN only, known to
    PgBouncer), the application's, for DATABASE_URL, which may use the tables only once the
    migrations grant it (the generated projects' core/db_roles.py). With
    `dedicated_role=False` the harness's `app` role is both and owns the database. Then a
    pair of Redis databases no other live ProjectEnv uses (REDIS_URL the even one, BROKER_URL
    the odd one), flushed; memcached flushed when no other live ProjectEnv shares it. On
    close: every database whose name holds the run's token (so a `test_p_<hex>` a test
    runner made too) or owned by either role is
    dropped (WITH FORCE), then the roles; the Redis databases are flushed and released.

    `env` is the complete environment for the project's commands: `toolchain_env()` plus
    DATABASE_URL (the application's role, PgBouncer), DATABASE_MIGRATIONS_URL (the
    migrations' role, PostgreSQL), REDIS_URL, BROKER_URL,
    CACHE_URL (memcached, when given), DATABASE_REPLICA_URLS (`replicas` copies of the
    PgBouncer URL: the primary stands in), SECRET_KEY (random), LOG_LEVEL, WEB_CONCURRENCY,
    PORT and METRICS_PORT (free; /metrics answers on the latter only). SENTRY_DSN and
    OTEL_EXPORTER_OTLP_ENDPOINT stay unset (inert) unless `extra` sets them; `extra` overrides
    anything, a None value removes the variable.
    """

    def __init__(
        self,
        postgres: Postgres,
        pgbouncer: PgBouncer,
        redis: Redis | None = None,
        memcached: Memcached | None = None,
        *,
        dedicated_role: bool = True,
        web_concurrency: int = 2,
        log_level: str = "INFO",
        replicas: int = 0,
        extra: Mapping[str, str | None] | None = None,
        python: str | None = None,
        passthrough: Iterable[str] = (),
        prefix: str = "p",
    ) -> None:
        self.postgres = postgres
        self.pgbouncer = pgbouncer
        self.redis = redis
        self.memcached = memcached
        self.dedicated_role = dedicated_role
        self.web_concurrency = web_concurrency
        self.log_level = log_level
        self.replicas = replicas
        self.extra = dict(extra or {})
        self.python = python
        self.passthrough = tuple(passthrough)
        self.token = secrets.token_hex(5)
        self.database = f"{prefix}_{self.token}"
        #: The application's role (DATABASE_URL) and the migrations' (DATABASE_MIGRATIONS_URL).
        self.role = self.database if dedicated_role else postgres.app_user
        self.owner = f"{self.database}_migrations" if dedicated_role else postgres.app_user
        self.port = 0
        self.metrics_port = 0
        self.redis_dbs: tuple[int, int] | None = None
        self.env: dict[str, str] = {}
        self._created_role = False
        self._created_owner = False
        self._created_db = False
        self._memcached_claimed = False
        self._started = False

    # -- lifecycle -----------------------------------------------------------------------

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start(self) -> Self:
        if self._started:
            return self
        self._started = True
        try:
            base = toolchain_env(python=self.python, passthrough=self.passthrough)
            if self.dedicated_role:
                self.postgres.create_role(
                    self.owner, createdb=True, settings=self.postgres.role_settings
                )
                self._created_owner = True
                password = self.postgres.create_role(
                    self.role, settings=self.postgres.role_settings
                )
                self._created_role = True
                # As roles.sql: a member (no ADMIN OPTION), so that dropping a test database
                # WITH (FORCE) may end the application role's sessions on it.
                self.postgres.execute(
                    sql.SQL("GRANT {} TO {}").format(
                        sql.Identifier(self.role), sql.Identifier(self.owner)
                    )
                )
                self.pgbouncer.add_user(self.role, password)
            self.postgres.create_database(self.database, owner=self.owner)
            self._created_db = True
            if self.redis is not None:
                self.redis_dbs = _claim_redis_dbs(self.redis)
                _redis_flush(self.redis, self.redis_dbs)
            if self.memcached is not None:
                key = (self.memcached.host, self.memcached.port)
                with _claims_lock:
                    alone = _memcached_users.get(key, 0) == 0
                    _memcached_users[key] = _memcached_users.get(key, 0) + 1
                self._memcached_claimed = True
                if alone:
                    self.memcached.command("flush_all")
            self.port = free_port()
            self.metrics_port = free_port()
            self.env = self._build_env(base)
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Drop what start() created. Idempotent; a failure is raised after all was tried."""
        errors: list[BaseException] = []
        if self._created_db or self._created_role or self._created_owner:
            try:
                self._drop_databases()
                self._created_db = False
            except Exception as e:
                errors.append(e)
        for role, created in ((self.role, self._created_role), (self.owner, self._created_owner)):
            if not created:
                continue
            try:
                self.postgres.execute(
                    sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role))
                )
                self.postgres.passwords.pop(role, None)
                self.pgbouncer.extra_users.pop(role, None)
            except Exception as e:
                errors.append(e)
            else:
                if role == self.role:
                    self._created_role = False
                else:
                    self._created_owner = False
        if self.redis is not None and self.redis_dbs is not None:
            try:
                _redis_flush(self.redis, self.redis_dbs)
            except Exception as e:
                errors.append(e)
            finally:
                _release_redis_dbs(self.redis, self.redis_dbs)
                self.redis_dbs = None
        if self._memcached_claimed and self.memcached is not None:
            key = (self.memcached.host, self.memcached.port)
            with _claims_lock:
                _memcached_users[key] -= 1
            self._memcached_claimed = False
        self._started = False
        if errors:
            raise errors[0]

    def _drop_databases(self) -> None:
        names = {
            name
            for (name,) in self.postgres.execute(
                "SELECT datname FROM pg_database WHERE strpos(datname, %s) > 0", [self.token]
            )
        }
        if self.dedicated_role:
            names.update(
                name
                for (name,) in self.postgres.execute(
                    "SELECT datname FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba "
                    "WHERE r.rolname = ANY(%s)",
                    [[self.role, self.owner]],
                )
            )
        for name in sorted(names):
            self.postgres.drop_database(name)

    def _build_env(self, base: dict[str, str]) -> dict[str, str]:
        env = dict(base)
        database_url = self.database_url
        env.update(
            DATABASE_URL=database_url,
            DATABASE_MIGRATIONS_URL=self.migrations_url,
            SECRET_KEY=secrets.token_urlsafe(48),
            LOG_LEVEL=self.log_level,
            WEB_CONCURRENCY=str(self.web_concurrency),
            PORT=str(self.port),
            METRICS_PORT=str(self.metrics_port),
        )
        if self.replicas:
            env["DATABASE_REPLICA_URLS"] = ",".join([database_url] * self.replicas)
        if self.redis is not None and self.redis_dbs is not None:
            env["REDIS_URL"] = self.redis.url(self.redis_dbs[0])
            # The project's .env points the cache at Compose's redis-cache (:6380), which
            # this machine does not run: the cache shares the run's Redis, as on one machine.
            env["REDIS_CACHE_URL"] = env["REDIS_URL"]
            env["BROKER_URL"] = self.redis.url(self.redis_dbs[1])
        if self.memcached is not None:
            env["CACHE_URL"] = f"memcached://{self.memcached.address}"
        for name, value in self.extra.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        return env

    # -- conveniences --------------------------------------------------------------------

    @property
    def database_url(self) -> str:
        """postgresql://role:pw@127.0.0.1:<pgbouncer>/<database>"""
        return self.pgbouncer.url(self.role, self.database)

    @property
    def migrations_url(self) -> str:
        """postgresql://owner:pw@127.0.0.1:<postgres>/<database>: the migrations' role."""
        return self.postgres.url(self.owner, self.database)

    def connect(self, *, direct: bool = False, **kwargs: Any) -> psycopg.Connection[Any]:
        """A connection to the run's database: as the application's role through PgBouncer
        (no prepared statements), or, with direct=True, as the migrations' role (the owner of
        every table) straight to PostgreSQL."""
        if direct:
            return psycopg.connect(self.migrations_url, **kwargs)
        kwargs.setdefault("prepare_threshold", None)
        return psycopg.connect(self.database_url, **kwargs)

    def make(self, project_dir: str | os.PathLike[str], target: str, **kwargs: Any) -> MakeResult:
        """run_make(project_dir, target, self.env, ...)."""
        return run_make(project_dir, target, self.env, **kwargs)

    def server(self, project_dir: str | os.PathLike[str], **kwargs: Any) -> Server:
        """Server(project_dir, self.env, ...): `make run` unless argv= says otherwise."""
        return Server(project_dir, self.env, **kwargs)

    def worker(self, project_dir: str | os.PathLike[str], **kwargs: Any) -> Worker:
        """Worker(project_dir, self.env, ...): `make worker` unless argv= says otherwise."""
        return Worker(project_dir, self.env, **kwargs)


def _claim_redis_dbs(redis: Redis) -> tuple[int, int]:
    key = (redis.host, redis.port)
    with _claims_lock:
        used = _redis_claims.setdefault(key, set())
        for first in range(0, 16, 2):
            if first not in used:
                used.add(first)
                return first, first + 1
    raise ProjectSetupError("all 8 pairs of Redis databases are in use by live ProjectEnvs")


def _release_redis_dbs(redis: Redis, dbs: tuple[int, int]) -> None:
    with _claims_lock:
        _redis_claims.get((redis.host, redis.port), set()).discard(dbs[0])


def _redis_flush(redis: Redis, dbs: Sequence[int]) -> None:
    """SELECT + FLUSHDB for each db, on one connection (the harness's client opens one per
    command, which would forget the SELECT)."""
    payload = b"".join(
        f"*2\r\n$6\r\nSELECT\r\n${len(str(db))}\r\n{db}\r\n*1\r\n$7\r\nFLUSHDB\r\n".encode()
        for db in dbs
    )
    with socket.create_connection((redis.host, redis.port), timeout=5) as s:
        s.sendall(payload)
        replies = s.makefile("rb")
        for _ in range(2 * len(dbs)):
            line = replies.readline()
            if not line.startswith(b"+OK"):
                raise ProjectSetupError(f"redis refused SELECT/FLUSHDB {list(dbs)}: {line!r}")


# ---------------------------------------------------------------------------------------
# Helpers


#: How much of a pytest FAILURES/ERRORS section a failed run's report carries.
FAILURE_SECTION_LINES = 150


def _tail(text: str, lines: int = LOG_TAIL_LINES) -> str:
    all_lines = text.splitlines()
    shown = all_lines[-lines:]
    if not all_lines:
        return "--- no output ---"
    head = (
        f"--- last {len(shown)} of {len(all_lines)} lines of output ---"
        if len(shown) < len(all_lines)
        else f"--- output ({len(all_lines)} lines) ---"
    )
    return _failure_section(all_lines[: -lines or None]) + head + "\n" + "\n".join(shown)


def _failure_section(lines: list[str]) -> str:
    """The start of the pytest FAILURES/ERRORS section among `lines`, if any.

    With PYTEST_ADDOPTS=-rp the passed-tests summary follows the failures and fills the
    tail, so the tail alone would report that a run failed without saying what failed.
    """
    for index, line in enumerate(lines):
        if line.lstrip("> ").startswith("=") and (" FAILURES " in line or " ERRORS " in line):
            excerpt = lines[index : index + FAILURE_SECTION_LINES]
            body = "\n".join(excerpt)
            return f"--- {len(excerpt)} lines from the first failure ---\n{body}\n"
    return ""


def _check_env(env: Mapping[str, str]) -> dict[str, str]:
    bad = {k: v for k, v in env.items() if not isinstance(k, str) or not isinstance(v, str)}
    if bad:
        raise TypeError(f"environment values must be str: {bad!r}")
    return dict(env)


def _make_binary(env: Mapping[str, str]) -> str:
    found = shutil.which("make", path=env.get("PATH")) or shutil.which("make")
    if not found:
        raise ProjectSetupError("make is not installed (apt-get install make)")
    return found


# ---------------------------------------------------------------------------------------
# make <target>


@dataclass(frozen=True)
class MakeResult:
    target: str
    argv: tuple[str, ...]
    returncode: int
    output: str  # stdout and stderr, interleaved as written
    seconds: float

    def tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return _tail(self.output, lines)


def run_make(
    project_dir: str | os.PathLike[str],
    target: str,
    env: Mapping[str, str],
    timeout: float = 600.0,
    *,
    args: Sequence[str] = (),
    check: bool = True,
) -> MakeResult:
    """Run `make <target> [args]` in `project_dir` with exactly `env` as its environment.

    stdout and stderr go to one capture, in order. A non-zero exit raises ProjectRunError
    (an AssertionError) with the target, the exit code and the last LOG_TAIL_LINES lines of
    output, unless check=False. On timeout the whole process tree is killed and
    ProjectRunError raised either way. Processes the target left behind are killed too.
    """
    env = _check_env(env)
    argv = (_make_binary(env), target, *args)
    shown = " ".join(["make", target, *args])
    started = time.monotonic()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(
            argv,
            cwd=project_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        timed_out = False
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            # After a timeout (or a Ctrl-C) the tree; after a normal exit, any leftovers.
            processes.stop_tree(proc, grace=2.0)
        seconds = time.monotonic() - started
        out.seek(0)
        output = out.read().decode(errors="replace")
    result = MakeResult(target, tuple(argv), proc.returncode, output, seconds)
    if timed_out:
        raise ProjectRunError(
            f"`{shown}` in {project_dir} timed out after {timeout:g}s (killed)\n{result.tail()}"
        )
    if check and proc.returncode != 0:
        raise ProjectRunError(
            f"`{shown}` in {project_dir} failed with exit code {proc.returncode} "
            f"after {seconds:.1f}s\n{result.tail()}"
        )
    return result


# ---------------------------------------------------------------------------------------
# Long-running commands: web server, worker


class ManagedProcess:
    """A command run in its own process group with its output in a log file, ready when
    `_wait_ready` says so, stopped as a whole tree. A context manager."""

    def __init__(
        self,
        project_dir: str | os.PathLike[str],
        env: Mapping[str, str],
        argv: Sequence[str],
        *,
        start_timeout: float = 60.0,
        stop_timeout: float = 10.0,
        log_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self.project_dir = Path(project_dir)
        self.env = _check_env(env)
        self.argv = tuple(argv)
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._log_path = Path(log_path) if log_path is not None else None
        self._tmpdir: str | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.returncode: int | None = None
        self._output: str | None = None
        self._started_at = 0.0

    @property
    def command(self) -> str:
        return " ".join(self.argv)

    # -- lifecycle -----------------------------------------------------------------------

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> Self:
        if self.proc is not None:
            return self
        self._before_start()
        if self._log_path is None:
            self._tmpdir = tempfile.mkdtemp(prefix="scalekit-run-")
            self._log_path = Path(self._tmpdir) / "output.log"
        self._output = None
        self.returncode = None
        argv = list(self.argv)
        if argv and argv[0] == "make":
            argv[0] = _make_binary(self.env)
        with open(self._log_path, "wb") as log:
            self._started_at = time.monotonic()
            self.proc = subprocess.Popen(
                argv,
                cwd=self.project_dir,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        processes.LIVE.add(self)  # stopped at interpreter exit if a caller forgot
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> int | None:
        """Stop the whole process tree (SIGTERM, SIGKILL after stop_timeout); keep the output
        in `output`; remove the temp log dir. Idempotent. Returns the exit code."""
        proc = self.proc
        if proc is None:
            return self.returncode
        try:
            processes.stop_tree(proc, self.stop_timeout)
        finally:
            self.returncode = proc.returncode
            self._output = self._read_log()
            self.proc = None
            processes.LIVE.discard(self)
            if self._tmpdir is not None:
                shutil.rmtree(self._tmpdir, ignore_errors=True)
                self._tmpdir = None
                self._log_path = None
        return self.returncode

    def kill(self) -> int | None:
        """SIGKILL the whole process tree at once, no SIGTERM first: no process of it runs any
        shutdown code (a worker puts back no job, closes no connection), as when the OOM
        killer or a lost node ends it. Then as stop(). Returns the exit code."""
        proc = self.proc
        if proc is not None:
            processes.stop_tree(proc, 0.0, sigterm=False)
        return self.stop()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The leader's pid (make's, for `make run`), which is also the process group id."""
        return None if self.proc is None else self.proc.pid

    def pids(self) -> list[int]:
        """Live pids of the group and of every descendant (sorted)."""
        if self.proc is None:
            return []
        return sorted(pid for pid, _ in processes.tree(self.proc.pid, self.proc.pid))

    @property
    def log_path(self) -> Path | None:
        return self._log_path

    @property
    def output(self) -> str:
        """stdout and stderr so far (after stop: all of it)."""
        if self._output is not None and self.proc is None:
            return self._output
        return self._read_log()

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return _tail(self.output, lines)

    # -- waiting -------------------------------------------------------------------------

    def fail(self, why: str) -> NoReturn:
        elapsed = time.monotonic() - self._started_at
        raise ProjectRunError(
            f"`{self.command}` in {self.project_dir} {why} ({elapsed:.1f}s after start)\n"
            f"{self.log_tail()}"
        )

    def check_alive(self, waiting_for: str = "") -> None:
        """Fail (with the output tail) if the process has exited."""
        if self.proc is None:
            self.fail("is not running")
        code = self.proc.poll()
        if code is not None:
            self.fail(f"exited with code {code}" + (f" {waiting_for}" if waiting_for else ""))

    def wait_until(
        self,
        predicate: Callable[[], _T | None],
        timeout: float,
        what: str,
        interval: float = 0.1,
        last: Callable[[], str] | None = None,
    ) -> _T:
        """Poll `predicate` until it returns something truthy (returned); fail early if the
        process exits, or after `timeout` seconds. `last` describes the last attempt."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive(f"before {what}")
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                detail = f" (last: {last()})" if last is not None else ""
                self.fail(f"did not reach {what} within {timeout:g}s{detail}")
            time.sleep(interval)

    def wait_for_log(
        self, pattern: str | re.Pattern[str], timeout: float = 30.0, *, since: int = 0
    ) -> re.Match[str]:
        """Wait until the output (from character `since` on) matches `pattern` (re.MULTILINE
        for a str); return the match. Fails early if the process exits."""
        regex = re.compile(pattern, re.MULTILINE) if isinstance(pattern, str) else pattern
        return self.wait_until(
            lambda: regex.search(self._read_log(), since),
            timeout,
            f"a log line matching {regex.pattern!r}",
        )

    # -- hooks ---------------------------------------------------------------------------

    def _before_start(self) -> None:
        pass

    def _wait_ready(self) -> None:
        pass

    def _read_log(self) -> str:
        if self._log_path is None:
            return self._output or ""
        try:
            return self._log_path.read_bytes().decode(errors="replace")
        except OSError:
            return self._output or ""


class Response(NamedTuple):
    status: int
    headers: Message  # case-insensitive .get(); .get_all() for repeated headers
    body: Any  # parsed JSON for a JSON content type, else text; None when empty


class _NoRedirect(urlrequest.HTTPRedirectHandler):
    """Report 3xx as they are: an API test wants to see a 307, not its target."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


# No proxies (a CI's http_proxy must not intercept 127.0.0.1), no redirects.
_opener = urlrequest.build_opener(urlrequest.ProxyHandler({}), _NoRedirect())


def http_request(
    url: str,
    method: str = "GET",
    *,
    json: Any = None,
    data: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> Response:
    """One HTTP request through urllib, without proxies or redirects; any status is returned
    (not raised). `json` is sent as application/json; `data` as is."""
    send_headers = dict(headers or {})
    if json is not None:
        data = jsonlib.dumps(json).encode()
        if not any(k.lower() == "content-type" for k in send_headers):
            send_headers["Content-Type"] = "application/json"
    req = urlrequest.Request(url, data=data, headers=send_headers, method=method.upper())
    try:
        with _opener.open(req, timeout=timeout) as resp:
            return _response(resp.status, resp.headers, resp.read())
    except urlerror.HTTPError as e:
        with e:
            return _response(e.code, e.headers, e.read())


def _response(status: int, headers: Message, raw: bytes) -> Response:
    if not raw:
        return Response(status, headers, None)
    text = raw.decode(headers.get_content_charset() or "utf-8", errors="replace")
    if "json" in (headers.get("Content-Type") or "").lower():
        with contextlib.suppress(ValueError):
            return Response(status, headers, jsonlib.loads(text))
    return Response(status, headers, text)


class Server(ManagedProcess):
    """`make run` (or `argv`) serving HTTP on $PORT: started, then ready when GET
    `health_path` answers `health_status`; fails early, with the output tail, if it exits.

    `port` overrides the env's PORT (two servers from one ProjectEnv), and then METRICS_PORT
    too (a free one) unless `metrics_port` says; `metrics(path)` asks the metrics port, where
    the generated servers answer /metrics. A port that already accepts connections is refused
    at once: a stale server must not answer for this one.
    """

    def __init__(
        self,
        project_dir: str | os.PathLike[str],
        env: Mapping[str, str],
        argv: Sequence[str] = ("make", "run"),
        *,
        port: int | None = None,
        metrics_port: int | None = None,
        host: str = HOST,
        health_path: str = "/healthz",
        health_status: int = 200,
        start_timeout: float = 60.0,
        stop_timeout: float = 10.0,
        request_timeout: float = 10.0,
        log_path: str | os.PathLike[str] | None = None,
    ) -> None:
        env = dict(env)
        if port is not None:
            env["PORT"] = str(port)
            env["METRICS_PORT"] = str(metrics_port or free_port())
        elif metrics_port is not None:
            env["METRICS_PORT"] = str(metrics_port)
        if "PORT" not in env:
            raise ValueError("Server needs PORT in env (or port=)")
        super().__init__(
            project_dir,
            env,
            argv,
            start_timeout=start_timeout,
            stop_timeout=stop_timeout,
            log_path=log_path,
        )
        self.host = host
        self.port = int(env["PORT"])
        self.health_path = health_path
        self.health_status = health_status
        self.request_timeout = request_timeout
        self.base_url = f"http://{host}:{self.port}"
        self.metrics_port = int(env["METRICS_PORT"]) if env.get("METRICS_PORT") else None

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return self.base_url + (path if path.startswith("/") else "/" + path)

    # -- requests ------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        *,
        data: bytes | None = None,
        timeout: float | None = None,
    ) -> Response:
        """(status, headers, body) of one request; any HTTP status is returned. A failure to
        connect or read raises ProjectRunError with the server's output tail."""
        try:
            return http_request(
                self.url(path),
                method,
                json=json,
                data=data,
                headers=headers,
                timeout=timeout or self.request_timeout,
            )
        except (urlerror.URLError, OSError) as e:
            self.check_alive(f"during {method} {path}")
            self.fail(f"did not answer {method} {path}: {e}")

    def get(self, path: str, headers: Mapping[str, str] | None = None, **kw: Any) -> Response:
        return self.request("GET", path, headers=headers, **kw)

    def metrics(self, path: str = "/metrics") -> Response:
        """GET `path` on METRICS_PORT, the listener /metrics is served on."""
        if self.metrics_port is None:
            raise ValueError("Server has no METRICS_PORT in its env")
        return self.get(f"http://{self.host}:{self.metrics_port}{path}")

    def post(
        self, path: str, json: Any = None, headers: Mapping[str, str] | None = None, **kw: Any
    ) -> Response:
        return self.request("POST", path, json, headers, **kw)

    def put(
        self, path: str, json: Any = None, headers: Mapping[str, str] | None = None, **kw: Any
    ) -> Response:
        return self.request("PUT", path, json, headers, **kw)

    def patch(
        self, path: str, json: Any = None, headers: Mapping[str, str] | None = None, **kw: Any
    ) -> Response:
        return self.request("PATCH", path, json, headers, **kw)

    def delete(
        self, path: str, json: Any = None, headers: Mapping[str, str] | None = None, **kw: Any
    ) -> Response:
        return self.request("DELETE", path, json, headers, **kw)

    def wait_for_status(
        self, path: str, status: int = 200, timeout: float | None = None
    ) -> Response:
        """Poll GET `path` until it answers `status` (e.g. /readyz after the server is up)."""
        last: list[str] = ["no answer yet"]

        def probe() -> Response | None:
            try:
                resp = http_request(self.url(path), timeout=min(self.request_timeout, 5.0))
            except (urlerror.URLError, OSError) as e:
                last[0] = f"{type(e).__name__}: {e}"
                return None
            last[0] = f"{resp.status} {str(resp.body)[:200]!r}"
            return resp if resp.status == status else None

        return self.wait_until(
            probe,
            self.start_timeout if timeout is None else timeout,
            f"GET {path} answering {status}",
            last=lambda: last[0],
        )

    # -- hooks ---------------------------------------------------------------------------

    def _before_start(self) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(1)
            busy = s.connect_ex((self.host, self.port)) == 0
        if busy:
            raise ProjectRunError(
                f"`{self.command}` in {self.project_dir} not started: {self.host}:{self.port} "
                f"(PORT) already accepts connections, another server is listening there"
            )

    def _wait_ready(self) -> None:
        self.wait_for_status(self.health_path, self.health_status, self.start_timeout)


class Worker(ManagedProcess):
    """`make worker` (or `argv`), ready when its output matches `ready_log` (a regex, e.g.
    r"celery@\\S+ ready" or r"Worker .* started") and/or `ready(worker)` returns true; with
    neither, when it is still running after `settle` seconds. Fails early, with the output
    tail, if it exits first."""

    def __init__(
        self,
        project_dir: str | os.PathLike[str],
        env: Mapping[str, str],
        argv: Sequence[str] = ("make", "worker"),
        *,
        ready_log: str | re.Pattern[str] | None = None,
        ready: Callable[[Worker], bool] | None = None,
        settle: float = 1.0,
        start_timeout: float = 60.0,
        stop_timeout: float = 10.0,
        log_path: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__(
            project_dir,
            env,
            argv,
            start_timeout=start_timeout,
            stop_timeout=stop_timeout,
            log_path=log_path,
        )
        self.ready_log = ready_log
        self.ready = ready
        self.settle = settle

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        if self.ready_log is not None:
            self.wait_for_log(self.ready_log, self.start_timeout)
        if self.ready is not None:
            check = self.ready
            self.wait_until(
                lambda: check(self), max(deadline - time.monotonic(), 0.0), "its ready check"
            )
        if self.ready_log is None and self.ready is None:
            time.sleep(self.settle)
            self.check_alive(f"within {self.settle:g}s of starting")
