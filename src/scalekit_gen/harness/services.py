"""Start and stop private servers for tests: PostgreSQL (and streaming replicas of it),
PgBouncer, Redis and memcached.

Every server listens on 127.0.0.1 on a free port, keeps its data, sockets, config and log in
a temp dir of its own, and is killed (and the dir removed) on stop. Each class is a context
manager::

    with Postgres() as pg, PgBouncer(pg) as pgb:
        with pgb.connect() as conn:          # app role, app database, prepare_threshold=None
            conn.execute("SELECT 1")

A replica lags on demand, for read-your-writes tests::

    with Postgres(replication=True) as pg, PostgresReplica(pg) as replica:
        replica.pause_replay()               # the primary's writes stop reaching it
        ...
        replica.resume_replay(); replica.wait_caught_up()

Running as root, PostgreSQL and PgBouncer (which both refuse root) run as the `postgres`
system user through `runuser -u postgres --`, and their temp dirs are chowned to it.

A server that cannot start raises `ServiceError` with the tail of its log. A missing binary
raises `MissingBinaryError`, which names `scripts/ensure-system-deps`: tests fail, never skip.

Only the standard library and psycopg are used.
"""

from __future__ import annotations

import abc
import base64
import contextlib
import glob
import hashlib
import hmac
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Self
from urllib.parse import quote

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row

from . import processes

HOST = "127.0.0.1"
ENSURE_DEPS = "scripts/ensure-system-deps"
LOG_TAIL_LINES = 40

# A unix socket path may hold 107 bytes; ".s.PGSQL.NNNNN" and friends need room.
_MAX_SOCKET_DIR = 80
_PORT_ATTEMPTS = 3
_FATAL_READY_ERROR = re.compile(
    r"authentication failed|no such user|does not exist|not allowed|no pg_hba", re.IGNORECASE
)
_ADDRESS_IN_USE = re.compile(r"address already in use|could not bind", re.IGNORECASE)


class ServiceError(RuntimeError):
    """A server could not be started (the message ends with its log tail) or used."""


class MissingBinaryError(ServiceError):
    """A server binary is not installed."""


class _PortInUseError(ServiceError):
    pass


def free_port(host: str = HOST) -> int:
    """A TCP port that was free on `host` a moment ago (the kernel's choice, so rarely reused).

    Another process can still take it before the server binds; the services retry with a
    new port when the log says the address is in use.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _find_binary(name: str, env_var: str, extra_dirs: Sequence[str] = ()) -> str:
    override = os.environ.get(env_var)
    if override:
        if os.access(override, os.X_OK):
            return override
        raise MissingBinaryError(
            f"{env_var}={override} is not an executable file; unset it to use the system's "
            f"{name}, and run `{ENSURE_DEPS}` to install the test servers"
        )
    found = shutil.which(name)
    if found:
        return found
    for d in (*extra_dirs, "/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin"):
        candidate = os.path.join(d, name)
        if os.access(candidate, os.X_OK):
            return candidate
    raise MissingBinaryError(
        f"{name} is not installed (looked on PATH and in the usual system dirs); "
        f"run `{ENSURE_DEPS}` (as root, or with sudo) to install the test servers"
    )


def _version_key(path: str) -> tuple[int, ...]:
    version = Path(path).parent.parent.name  # /usr/lib/postgresql/<version>/bin/postgres
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def postgres_bindir() -> Path:
    """The dir holding initdb and postgres: $SCALEKIT_PG_BINDIR, else the newest
    /usr/lib/postgresql/<version>/bin (Debian), else whatever is on PATH."""
    override = os.environ.get("SCALEKIT_PG_BINDIR")
    if override:
        candidates = [os.path.join(override, "postgres")]
    else:
        candidates = sorted(
            glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=_version_key, reverse=True
        )
        on_path = shutil.which("postgres")
        if on_path:
            candidates.append(on_path)
    for candidate in candidates:
        bindir = Path(candidate).parent
        if all(os.access(bindir / b, os.X_OK) for b in ("postgres", "initdb")):
            return bindir
    where = f"SCALEKIT_PG_BINDIR={override}" if override else "/usr/lib/postgresql/*/bin or PATH"
    raise MissingBinaryError(
        f"PostgreSQL server binaries (initdb, postgres) not found in {where}; "
        f"run `{ENSURE_DEPS}` (as root, or with sudo) to install the test servers"
    )


def _is_root() -> bool:
    return os.geteuid() == 0


def _clean_env() -> dict[str, str]:
    """The current environment without libpq's PG* variables, which would leak into the
    servers' own tools (initdb reads PGDATA, for example)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


class _Service(abc.ABC):
    """Shared start/stop machinery: temp dir, port choice and retry, readiness polling,
    process ownership, log tails, escalating shutdown."""

    kind: ClassVar[str] = "service"
    #: Signals for stop(), tried in order, each given `stop_timeout` seconds; SIGKILL last.
    stop_signals: ClassVar[tuple[signal.Signals, ...]] = (signal.SIGTERM,)
    #: Whether the server refuses to run as root and so runs as `run_as` under runuser.
    needs_non_root: ClassVar[bool] = False

    def __init__(
        self,
        *,
        port: int | None = None,
        start_timeout: float = 30.0,
        stop_timeout: float = 10.0,
        run_as: str = "postgres",
    ) -> None:
        self.host = HOST
        self._requested_port = port
        self.port: int = port or 0
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.run_as = run_as
        self.dir: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self._server_pid: int | None = None

    # -- public API --------------------------------------------------------------------

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The server's own pid (not runuser's)."""
        if self._server_pid is None and self.proc is not None:
            self._server_pid = self._find_server_pid()
        return self._server_pid

    @property
    def log_path(self) -> Path:
        assert self.dir is not None, f"{self.kind} is not started"
        return self.dir / f"{self.kind}.log"

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        if self.dir is None:
            return ""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def start(self) -> Self:
        if self.proc is not None:
            return self
        self._check_binaries()
        self.dir = self._make_dir()
        # Started and not yet stopped: stopped at interpreter exit if a caller forgot.
        processes.LIVE.add(self)
        try:
            self._prepare()
            for attempt in range(1, _PORT_ATTEMPTS + 1):
                self.port = self._requested_port or free_port()
                try:
                    self._launch()
                    self._wait_ready()
                    return self
                except _PortInUseError:
                    self._kill_process()
                    if self._requested_port or attempt == _PORT_ATTEMPTS:
                        raise
        except BaseException:
            self.stop()
            raise
        raise AssertionError("unreachable")  # pragma: no cover

    def stop(self) -> None:
        """Kill the server and remove its temp dir. Idempotent."""
        try:
            self._kill_process()
        finally:
            if self.dir is not None:
                shutil.rmtree(self.dir, ignore_errors=True)
                self.dir = None
            processes.LIVE.discard(self)

    def kill(self) -> None:
        """Stop the server process (its stop signals, as a restart would) and keep its
        directory and port, so that `revive()` starts the same server again: an outage, for
        fault tests. PostgreSQL's data survives it."""
        self._kill_process()

    def revive(self) -> Self:
        """Start the server `kill()` stopped again: same directory, same port."""
        if self.dir is None:
            raise ServiceError(f"{self.kind} was stopped (its directory is gone), not killed")
        if self.proc is None:
            self._launch()
            self._wait_ready()
        return self

    # -- hooks ---------------------------------------------------------------------------

    @abc.abstractmethod
    def _check_binaries(self) -> None: ...

    def _prepare(self) -> None:  # noqa: B027 - optional hook, most services need nothing
        """Once per start, before the first launch: write config, initdb, …"""

    @abc.abstractmethod
    def _command(self) -> list[str]: ...

    @abc.abstractmethod
    def _ready(self) -> bool: ...

    def _pidfile(self) -> Path | None:
        return None

    def _env(self) -> dict[str, str]:
        """The environment the server and its setup commands run in."""
        return _clean_env()

    # -- machinery -----------------------------------------------------------------------

    @property
    def _as_other_user(self) -> bool:
        return self.needs_non_root and _is_root()

    def _make_dir(self) -> Path:
        base = None
        if len(tempfile.gettempdir()) > _MAX_SOCKET_DIR - 30:
            base = "/tmp"
        path = Path(tempfile.mkdtemp(prefix=f"scalekit-{self.kind}-", dir=base))
        if self._as_other_user:
            self._chown(path)
        return path

    def _chown(self, path: Path) -> None:
        """Hand `path` (and everything under it) to the user the server runs as."""
        if not self._as_other_user:
            return
        try:
            user = pwd.getpwnam(self.run_as)
        except KeyError:
            raise ServiceError(
                f"{self.kind} refuses to run as root and the user {self.run_as!r} does not "
                f"exist; create it, run the tests as a non-root user, or pass run_as=..."
            ) from None
        os.lchown(path, user.pw_uid, user.pw_gid)
        for root, dirs, files in os.walk(path):
            os.chown(root, user.pw_uid, user.pw_gid)
            for name in dirs + files:
                os.lchown(os.path.join(root, name), user.pw_uid, user.pw_gid)

    def _wrap(self, argv: list[str]) -> list[str]:
        if self._as_other_user:
            return ["runuser", "-u", self.run_as, "--", *argv]
        return argv

    def _run(self, argv: list[str], what: str) -> str:
        """Run a setup command (initdb) to completion, as the server's user; its stdout."""
        assert self.dir is not None
        result = subprocess.run(
            self._wrap(argv),
            cwd=self.dir,
            env=self._env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=self.start_timeout,
            check=False,
        )
        if result.returncode != 0:
            output = "\n".join((result.stdout + result.stderr).splitlines()[-LOG_TAIL_LINES:])
            raise ServiceError(f"{what} failed (exit {result.returncode}):\n{output}")
        return result.stdout

    def _launch(self) -> None:
        assert self.dir is not None
        self._server_pid = None
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child, closed below
        try:
            self.proc = subprocess.Popen(
                self._wrap(self._command()),
                cwd=self.dir,
                env=self._env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Own session: a Ctrl-C meant for pytest does not reach the servers, whose
                # shutdown stays ours to run.
                start_new_session=True,
            )
        finally:
            log.close()

    def _wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + self.start_timeout
        last_error: BaseException | None = None
        while True:
            if self.proc.poll() is not None:
                self._fail(f"exited with code {self.proc.returncode} while starting")
            try:
                if self._ready():
                    return
            except (OSError, psycopg.Error) as e:
                last_error = e
                if _FATAL_READY_ERROR.search(str(e)):
                    # Listening, but refusing us: waiting will not help.
                    self._fail(f"refused the harness's own login: {e}")
            if time.monotonic() > deadline:
                self._fail(f"not ready after {self.start_timeout:.0f}s (last error: {last_error})")
            time.sleep(0.05)

    def _fail(self, why: str) -> None:
        tail = self.log_tail()
        error = _PortInUseError if _ADDRESS_IN_USE.search(tail) else ServiceError
        raise error(
            f"{self.kind} on {self.host}:{self.port} {why}; "
            f"log tail ({self.log_path}):\n{tail or '(empty)'}"
        )

    def _find_server_pid(self) -> int | None:
        assert self.proc is not None
        if not self._as_other_user:
            return self.proc.pid
        pidfile = self._pidfile()
        if pidfile is not None:
            with contextlib.suppress(OSError, ValueError, IndexError):
                pid = int(pidfile.read_text().split()[0])
                if processes.alive(pid):
                    return pid
        children = processes.child_pids(self.proc.pid)
        return children[0] if children else None

    def _kill_process(self) -> None:
        proc = self.proc
        if proc is None:
            return
        try:
            # The stop signals, then SIGKILL, to the server itself; then to runuser if need be.
            processes.stop_process(proc, self.stop_signals, self.stop_timeout, pid=self.pid)
        finally:
            self.proc = None
            self._server_pid = None


# ---------------------------------------------------------------------------------------
# PostgreSQL


class Postgres(_Service):
    """A private PostgreSQL cluster: initdb in a temp dir, started on a free loopback port.

    Two roles with passwords (SCRAM over TCP):
    - `superuser` (default "postgres"), the bootstrap superuser, for admin work;
    - `app_user` (default "app", LOGIN CREATEDB) owning database `app_db` (default "app"),
      with `role_settings` (timezone UTC, …) set on the role, so that frameworks find
      them already in place and send no session SET through PgBouncer (pitfalls §0).

    Over the unix socket in the temp dir (`socket_dir`) every local role is trusted.
    """

    kind = "postgres"
    needs_non_root = True
    # SIGINT is a fast shutdown; SIGQUIT an immediate one that also ends the backends.
    stop_signals = (signal.SIGINT, signal.SIGQUIT)

    DEFAULT_SETTINGS: ClassVar[Mapping[str, str | int]] = {
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "wal_level": "minimal",
        "max_wal_senders": 0,
        "shared_buffers": "64MB",
        "timezone": "UTC",
        "log_timezone": "UTC",
        "logging_collector": "off",
        "log_min_messages": "warning",
        "log_line_prefix": "%m [%p] %q%u@%d ",
        "password_encryption": "scram-sha-256",
    }
    #: With `replication=True`: a primary that streaming replicas (PostgresReplica) can copy
    #: (pg_basebackup needs full page writes) and follow. WAL is kept for a replica that
    #: reconnects after a restart.
    REPLICATION_SETTINGS: ClassVar[Mapping[str, str | int]] = {
        "wal_level": "replica",
        "max_wal_senders": 5,
        "full_page_writes": "on",
        "wal_keep_size": "256MB",
    }
    DEFAULT_ROLE_SETTINGS: ClassVar[Mapping[str, str]] = {
        "timezone": "UTC",
        "client_encoding": "UTF8",
        "default_transaction_isolation": "read committed",
    }

    def __init__(
        self,
        *,
        port: int | None = None,
        max_connections: int = 100,
        settings: Mapping[str, str | int] | None = None,
        replication: bool = False,
        superuser: str = "postgres",
        superuser_password: str | None = None,
        app_user: str = "app",
        app_password: str | None = None,
        app_db: str = "app",
        role_settings: Mapping[str, str] | None = None,
        start_timeout: float = 30.0,
        stop_timeout: float = 10.0,
        run_as: str = "postgres",
    ) -> None:
        super().__init__(
            port=port, start_timeout=start_timeout, stop_timeout=stop_timeout, run_as=run_as
        )
        self.max_connections = max_connections
        replicated = self.REPLICATION_SETTINGS if replication else {}
        self.settings: dict[str, str | int] = {
            **self.DEFAULT_SETTINGS,
            **replicated,
            **(settings or {}),
        }
        self.superuser = superuser
        self.app_user = app_user
        self.app_db = app_db
        self.role_settings = dict(
            self.DEFAULT_ROLE_SETTINGS if role_settings is None else role_settings
        )
        #: Every role this harness created, with its password (PgBouncer's auth_file).
        self.passwords: dict[str, str] = {
            superuser: superuser_password or secrets.token_hex(12),
            app_user: app_password or secrets.token_hex(12),
        }
        self.bindir: Path | None = None
        self._app_role_created = False  # in this cluster (a new one at each start)

    @property
    def data_dir(self) -> Path:
        assert self.dir is not None, "postgres is not started"
        return self.dir / "data"

    @property
    def socket_dir(self) -> Path:
        assert self.dir is not None, "postgres is not started"
        return self.dir / "sock"

    # -- connecting ----------------------------------------------------------------------

    def dsn(self, user: str | None = None, db: str | None = None, **params: Any) -> str:
        """A libpq keyword DSN over TCP: the app role and its database unless told otherwise
        (another role gets database "postgres"); `params` add or override keywords."""
        user = user or self.app_user
        db = db or (self.app_db if user == self.app_user else "postgres")
        return _dsn(self.host, self.port, user, db, self.passwords.get(user), params)

    def url(
        self, user: str | None = None, db: str | None = None, scheme: str = "postgresql"
    ) -> str:
        """postgresql://user:password@127.0.0.1:port/db (`scheme` e.g. postgresql+asyncpg)."""
        user = user or self.app_user
        db = db or (self.app_db if user == self.app_user else "postgres")
        return _pg_url(scheme, user, self.passwords.get(user), self.host, self.port, db)

    def connect(
        self, user: str | None = None, db: str | None = None, **kwargs: Any
    ) -> psycopg.Connection[Any]:
        return psycopg.connect(self.dsn(user, db), **kwargs)

    def admin_connect(self, db: str = "postgres") -> psycopg.Connection[Any]:
        """Superuser, autocommit, over the unix socket."""
        return psycopg.connect(
            host=str(self.socket_dir),
            port=self.port,
            user=self.superuser,
            dbname=db,
            autocommit=True,
            connect_timeout=5,
        )

    def execute(
        self,
        query: str | bytes | sql.SQL | sql.Composed,
        params: Sequence[Any] | None = None,
        db: str = "postgres",
    ) -> list[tuple[Any, ...]]:
        """Run one statement as the superuser (autocommit); the rows, if it returns any."""
        with self.admin_connect(db) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []

    # -- roles and databases -------------------------------------------------------------

    def create_role(
        self,
        name: str,
        password: str | None = None,
        *,
        superuser: bool = False,
        createdb: bool = False,
        createrole: bool = False,
        settings: Mapping[str, str] | None = None,
    ) -> str:
        """CREATE ROLE … LOGIN PASSWORD …; returns the password (generated if not given)."""
        password = password or secrets.token_hex(12)
        options = [sql.SQL("LOGIN")]
        if superuser:
            options.append(sql.SQL("SUPERUSER"))
        if createdb:
            options.append(sql.SQL("CREATEDB"))
        if createrole:
            options.append(sql.SQL("CREATEROLE"))
        self.execute(
            sql.SQL("CREATE ROLE {} {} PASSWORD {}").format(
                sql.Identifier(name), sql.SQL(" ").join(options), sql.Literal(password)
            )
        )
        self.passwords[name] = password
        if settings:
            self.set_role_settings(name, settings)
        return password

    def set_role_settings(self, role: str, settings: Mapping[str, str]) -> None:
        """ALTER ROLE role SET name = value, for each setting."""
        with self.admin_connect() as conn:
            for name, value in settings.items():
                conn.execute(
                    sql.SQL("ALTER ROLE {} SET {} = {}").format(
                        sql.Identifier(role), sql.Identifier(name), sql.Literal(value)
                    )
                )

    def create_database(self, name: str, owner: str | None = None) -> None:
        owner = owner or self.app_user
        self.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(owner)
            )
        )

    def drop_database(self, name: str) -> None:
        self.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )

    # -- hooks ---------------------------------------------------------------------------

    def _check_binaries(self) -> None:
        self.bindir = postgres_bindir()
        if self._as_other_user:
            _find_binary("runuser", "SCALEKIT_RUNUSER")

    def _prepare(self) -> None:
        assert self.dir is not None and self.bindir is not None
        self._app_role_created = False
        self.socket_dir.mkdir()
        pwfile = self.dir / "pwfile"
        pwfile.write_text(self.passwords[self.superuser] + "\n")
        self._chown(self.dir)
        self._run(
            [
                str(self.bindir / "initdb"),
                "--pgdata",
                str(self.data_dir),
                "--username",
                self.superuser,
                "--pwfile",
                str(pwfile),
                "--auth-local",
                "trust",
                "--auth-host",
                "scram-sha-256",
                "--encoding",
                "UTF8",
                "--no-locale",
                "--no-sync",
                "--no-instructions",
            ],
            "initdb",
        )
        pwfile.unlink()
        conf = {
            **self.settings,
            "listen_addresses": self.host,
            "unix_socket_directories": str(self.socket_dir),
            "max_connections": self.max_connections,
        }
        with open(self.data_dir / "postgresql.conf", "a") as f:
            f.write("\n# scalekit test harness\n")
            for name, value in conf.items():
                f.write(f"{name} = {_pg_conf_value(value)}\n")

    def _command(self) -> list[str]:
        assert self.bindir is not None
        return [str(self.bindir / "postgres"), "-D", str(self.data_dir), "-p", str(self.port)]

    def _pidfile(self) -> Path | None:
        return self.data_dir / "postmaster.pid"

    def _ready(self) -> bool:
        with self.admin_connect() as conn:
            conn.execute("SELECT 1")
        return True

    def _wait_ready(self) -> None:
        super()._wait_ready()
        if not self._app_role_created:  # once: revive() finds the cluster as it was
            self._create_app_role()
            self._app_role_created = True

    def _create_app_role(self) -> None:
        if self.app_user == self.superuser:
            return
        self.create_role(
            self.app_user,
            self.passwords[self.app_user],
            createdb=True,
            settings=self.role_settings,
        )
        self.create_database(self.app_db, owner=self.app_user)


class PostgresReplica(Postgres):
    """A hot standby streaming from `primary` (started with `replication=True`): a copy made
    with `pg_basebackup --write-recovery-conf` from the primary, on a port and in a directory
    of its own, answering read-only queries.

    Roles, passwords and databases are the primary's (replication copies them; `passwords`
    is the primary's own dict, so roles created later are known here too). `pause_replay()`
    makes it lag behind the primary until `resume_replay()`: it still receives the primary's
    WAL, and applies none of it.
    """

    kind = "postgres-replica"

    def __init__(
        self,
        primary: Postgres,
        *,
        port: int | None = None,
        start_timeout: float = 60.0,
        stop_timeout: float = 10.0,
    ) -> None:
        super().__init__(
            port=port,
            # A hot standby needs at least the primary's max_connections.
            max_connections=primary.max_connections,
            # The primary's settings: a standby refuses to run with lower limits than its
            # primary's (max_wal_senders, max_connections, ...).
            settings={**primary.settings, "hot_standby": "on"},
            superuser=primary.superuser,
            app_user=primary.app_user,
            app_db=primary.app_db,
            start_timeout=start_timeout,
            stop_timeout=stop_timeout,
            run_as=primary.run_as,
        )
        self.primary = primary
        self.passwords = primary.passwords

    # -- replay --------------------------------------------------------------------------

    def pause_replay(self) -> None:
        """Stop applying the primary's WAL (pg_wal_replay_pause), and wait until it has."""
        self.execute("SELECT pg_wal_replay_pause()")
        self._wait_for(
            lambda: self.execute("SELECT pg_get_wal_replay_pause_state()")[0][0] == "paused",
            "replay to pause",
        )

    def resume_replay(self) -> None:
        self.execute("SELECT pg_wal_replay_resume()")

    @property
    def replay_paused(self) -> bool:
        return bool(self.execute("SELECT pg_is_wal_replay_paused()")[0][0])

    def wait_caught_up(self, timeout: float = 30.0) -> None:
        """Wait until this replica has applied everything the primary had written when called
        (so a role or database just created on the primary exists here)."""
        # A marker record written now: once replay has passed its start, everything written
        # before it has been applied. (pg_current_wal_lsn() would not do: with
        # synchronous_commit=off it can lag the last commit, and the insert position can sit
        # past a page header that replay never reports.)
        with self.primary.admin_connect() as conn:
            # Flushed at its commit, so sent at once: the walsender sends only flushed WAL,
            # and the harness's primary runs with synchronous_commit=off.
            conn.execute("SET synchronous_commit = on")
            row = conn.execute(
                "SELECT pg_logical_emit_message(true, 'scalekit-harness', 'caught up?')"
            ).fetchone()
        assert row is not None
        target = row[0]
        self._wait_for(
            lambda: bool(
                self.execute("SELECT pg_last_wal_replay_lsn() > %s::pg_lsn", [target])[0][0]
            ),
            f"replay to reach the primary's {target}",
            timeout,
        )

    def _wait_for(self, check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise ServiceError(
                    f"{self.kind} on {self.host}:{self.port}: waited {timeout:.0f}s for {what}"
                    f"; log tail:\n{self.log_tail()}"
                )
            time.sleep(0.05)

    # -- hooks ---------------------------------------------------------------------------

    def _check_binaries(self) -> None:
        super()._check_binaries()
        assert self.bindir is not None
        if not os.access(self.bindir / "pg_basebackup", os.X_OK):
            raise MissingBinaryError(
                f"pg_basebackup is not in {self.bindir}; run `{ENSURE_DEPS}` to install it"
            )
        if not self.primary.running:
            raise ServiceError("a PostgresReplica needs its primary started first")
        (wal_level,) = self.primary.execute("SHOW wal_level")[0]
        if wal_level == "minimal":
            raise ServiceError(
                "the primary runs with wal_level=minimal, which no replica can follow: "
                "start it with Postgres(replication=True)"
            )

    def _prepare(self) -> None:
        assert self.dir is not None and self.bindir is not None
        self._app_role_created = True  # the primary's roles arrive by replication
        self.socket_dir.mkdir()
        self._chown(self.dir)
        primary = self.primary
        self._run(
            [
                str(self.bindir / "pg_basebackup"),
                "--pgdata",
                str(self.data_dir),
                # Over the primary's unix socket, where its superuser is trusted; the same
                # connection string goes into primary_conninfo.
                "--dbname",
                f"host={primary.socket_dir} port={primary.port} user={primary.superuser}",
                "--write-recovery-conf",  # standby.signal + primary_conninfo
                "--wal-method=stream",
                "--checkpoint=fast",
                "--no-sync",
            ],
            "pg_basebackup",
        )
        # The copied postgresql.conf is the primary's: the lines below win, being last.
        conf = {
            **self.settings,
            "listen_addresses": self.host,
            "unix_socket_directories": str(self.socket_dir),
            "max_connections": self.max_connections,
        }
        with open(self.data_dir / "postgresql.conf", "a") as f:
            f.write("\n# scalekit test harness: the replica\n")
            for name, value in conf.items():
                f.write(f"{name} = {_pg_conf_value(value)}\n")

    def _ready(self) -> bool:
        # Connections are refused until the standby reaches a consistent state.
        with self.admin_connect() as conn:
            row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
        if not (row and row[0]):
            raise ServiceError(f"{self.kind} on port {self.port} is not in recovery")
        return True


def _pg_conf_value(value: str | int) -> str:
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def _dsn(
    host: str, port: int, user: str, db: str, password: str | None, params: Mapping[str, Any]
) -> str:
    values: dict[str, Any] = {"host": host, "port": port, "user": user, "dbname": db}
    if password is not None:
        values["password"] = password
    return make_conninfo(**{**values, **params})


def _pg_url(scheme: str, user: str, password: str | None, host: str, port: int, db: str) -> str:
    auth = quote(user, safe="")
    if password is not None:
        auth += ":" + quote(password, safe="")
    return f"{scheme}://{auth}@{host}:{port}/{quote(db, safe='')}"


# ---------------------------------------------------------------------------------------
# PgBouncer


class PgBouncer(_Service):
    """PgBouncer in front of a `Postgres`, transaction pooling by default (pitfalls §0).

    Any database name is forwarded to the same name on the server (`* = host=… port=…`).
    The auth_file holds the plain passwords of every role the `Postgres` knows (plus
    `users`), which serve both the clients' SCRAM/md5 login and PgBouncer's own login to
    the server. `admin_user` may use the admin console (database "pgbouncer").
    """

    kind = "pgbouncer"
    needs_non_root = True  # "FATAL PgBouncer should not run as root"
    # 1.18: SIGTERM is an immediate shutdown (SIGINT would wait for clients).
    stop_signals = (signal.SIGTERM,)

    def __init__(
        self,
        postgres: Postgres,
        *,
        port: int | None = None,
        pool_mode: str = "transaction",
        auth_type: str = "scram-sha-256",
        default_pool_size: int = 4,
        max_client_conn: int = 200,
        users: Mapping[str, str] | None = None,
        admin_user: str = "pgbouncer_admin",
        admin_password: str | None = None,
        settings: Mapping[str, str | int] | None = None,
        start_timeout: float = 15.0,
        stop_timeout: float = 5.0,
        run_as: str = "postgres",
    ) -> None:
        super().__init__(
            port=port, start_timeout=start_timeout, stop_timeout=stop_timeout, run_as=run_as
        )
        self.postgres = postgres
        self.pool_mode = pool_mode
        self.auth_type = auth_type
        self.default_pool_size = default_pool_size
        self.max_client_conn = max_client_conn
        self.admin_user = admin_user
        self.admin_password = admin_password or secrets.token_hex(12)
        self.extra_users = dict(users or {})
        self.settings = dict(settings or {})
        self.binary: str | None = None

    @property
    def socket_dir(self) -> Path:
        assert self.dir is not None, "pgbouncer is not started"
        return self.dir / "sock"

    @property
    def config_path(self) -> Path:
        assert self.dir is not None, "pgbouncer is not started"
        return self.dir / "pgbouncer.ini"

    @property
    def passwords(self) -> dict[str, str]:
        return {
            **self.postgres.passwords,
            **self.extra_users,
            self.admin_user: self.admin_password,
        }

    # -- connecting ----------------------------------------------------------------------

    def dsn(self, user: str | None = None, db: str | None = None, **params: Any) -> str:
        user = user or self.postgres.app_user
        db = db or (self.postgres.app_db if user == self.postgres.app_user else "postgres")
        return _dsn(self.host, self.port, user, db, self.passwords.get(user), params)

    def url(
        self, user: str | None = None, db: str | None = None, scheme: str = "postgresql"
    ) -> str:
        user = user or self.postgres.app_user
        db = db or (self.postgres.app_db if user == self.postgres.app_user else "postgres")
        return _pg_url(scheme, user, self.passwords.get(user), self.host, self.port, db)

    def connect(
        self, user: str | None = None, db: str | None = None, **kwargs: Any
    ) -> psycopg.Connection[Any]:
        """A psycopg connection through the pooler, with prepare_threshold=None (no named
        prepared statements, which PgBouncer 1.18 cannot route: pitfalls §2)."""
        kwargs.setdefault("prepare_threshold", None)
        return psycopg.connect(self.dsn(user, db), **kwargs)

    def admin_connect(self) -> psycopg.Connection[Any]:
        """The admin console (database "pgbouncer"), autocommit. It speaks only the simple
        query protocol: use `show()`, or a `psycopg.ClientCursor`."""
        return psycopg.connect(
            self.dsn(self.admin_user, "pgbouncer"),
            autocommit=True,
            cursor_factory=psycopg.ClientCursor,
            connect_timeout=5,
        )

    def show(self, what: str) -> list[dict[str, Any]]:
        """SHOW <what> on the admin console (POOLS, CONFIG, SERVERS, CLIENTS, STATS, …)."""
        if not re.fullmatch(r"[A-Za-z_]+", what):
            raise ValueError(f"not a SHOW subject: {what!r}")
        with self.admin_connect() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(f"SHOW {what}")
            return cur.fetchall()

    def config(self) -> dict[str, str]:
        """SHOW CONFIG as {key: value}."""
        return {row["key"]: row["value"] for row in self.show("CONFIG")}

    def add_user(self, name: str, password: str) -> None:
        """Add a login to the auth_file (a role created on the server after start)."""
        self.extra_users[name] = password
        self._write_auth_file()
        self.reload()

    def reload(self) -> None:
        with self.admin_connect() as conn:
            conn.execute("RELOAD")

    # -- hooks ---------------------------------------------------------------------------

    def _check_binaries(self) -> None:
        self.binary = _find_binary("pgbouncer", "SCALEKIT_PGBOUNCER")
        if self._as_other_user:
            _find_binary("runuser", "SCALEKIT_RUNUSER")
        if not self.postgres.running:
            raise ServiceError("PgBouncer needs its Postgres started first")

    def _prepare(self) -> None:
        self.socket_dir.mkdir()
        self._write_auth_file()
        self._chown(self.socket_dir)

    def _write_auth_file(self) -> None:
        assert self.dir is not None
        path = self.dir / "userlist.txt"
        lines = [f'"{_pgb_quote(u)}" "{_pgb_quote(p)}"' for u, p in self._auth_secrets().items()]
        # Written beside, then renamed over: PgBouncer must never read a half-written file
        # (suspected cause of a rare "SASL authentication failed" for a role just added).
        partial = path.with_suffix(".partial")
        partial.write_text("\n".join(lines) + "\n")
        partial.chmod(0o600)
        self._chown(partial)
        partial.replace(path)

    def _auth_secrets(self) -> dict[str, str]:
        """What the auth_file holds for each login. For scram-sha-256, SCRAM secrets, as a
        production PgBouncer keeps them (copied from pg_authid, or through auth_query): with a
        plain password PgBouncer derives the key itself at every client login, on its single
        thread, which is not what production measures. A role PostgreSQL knows gets
        PostgreSQL's own secret (PgBouncer reuses the client's proof to log in to the server,
        which needs the same salt); the others get one made here."""
        if self.auth_type != "scram-sha-256":
            return self.passwords
        stored = dict(
            self.postgres.execute(
                "SELECT rolname, rolpassword FROM pg_authid"
                " WHERE rolpassword LIKE 'SCRAM-SHA-256$%'"
            )
        )
        return {user: stored.get(user) or scram_secret(pw) for user, pw in self.passwords.items()}

    def _config_text(self) -> str:
        assert self.dir is not None
        pg = self.postgres
        settings: dict[str, str | int] = {
            "listen_addr": self.host,
            "listen_port": self.port,
            "unix_socket_dir": str(self.socket_dir),
            "auth_type": self.auth_type,
            "auth_file": str(self.dir / "userlist.txt"),
            "admin_users": self.admin_user,
            "stats_users": self.admin_user,
            "pool_mode": self.pool_mode,
            "default_pool_size": self.default_pool_size,
            "max_client_conn": self.max_client_conn,
            # Drivers send these at startup; 1.18 refuses the connection otherwise (§0).
            "ignore_startup_parameters": "extra_float_digits,options",
            # Transaction pooling: no DISCARD ALL between clients (a transaction leaves no
            # session state). Session pooling keeps PgBouncer's default, DISCARD ALL, as the
            # projects' pgbouncer.ini does: the next client must not inherit the last one's
            # prepared statements (asyncpg's "__asyncpg_stmt_1__ already exists").
            **({"server_reset_query": ""} if self.pool_mode == "transaction" else {}),
            "pidfile": str(self.dir / "pgbouncer.pid"),
            # A client stuck behind a full pool fails in 30 s rather than the default 120 s.
            "query_wait_timeout": 30,
            **self.settings,
        }
        lines = [
            "; scalekit test harness",
            "[databases]",
            f"* = host={pg.host} port={pg.port}",
            "",
            "[pgbouncer]",
            *(f"{k} = {v}" for k, v in settings.items()),
        ]
        return "\n".join(lines) + "\n"

    def _launch(self) -> None:
        self.config_path.write_text(self._config_text())
        self._chown(self.config_path)
        super()._launch()

    def _command(self) -> list[str]:
        assert self.binary is not None
        return [self.binary, str(self.config_path)]

    def _pidfile(self) -> Path | None:
        return None if self.dir is None else self.dir / "pgbouncer.pid"

    def _ready(self) -> bool:
        with self.admin_connect() as conn:
            conn.execute("SHOW VERSION")
        return True


def scram_secret(password: str, *, iterations: int = 4096) -> str:
    """A SCRAM-SHA-256 secret for `password`, in PostgreSQL's (and PgBouncer's) format."""
    salt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    b64 = base64.b64encode
    return (
        f"SCRAM-SHA-256${iterations}:{b64(salt).decode()}"
        f"${b64(stored_key).decode()}:{b64(server_key).decode()}"
    )


def _pgb_quote(value: str) -> str:
    return value.replace('"', '""')


# ---------------------------------------------------------------------------------------
# Redis and memcached


class Redis(_Service):
    """redis-server on a free loopback port; no persistence, files in a temp dir."""

    kind = "redis"

    def __init__(
        self,
        *,
        port: int | None = None,
        args: Sequence[str] = (),
        binary: str | None = None,
        start_timeout: float = 15.0,
        stop_timeout: float = 5.0,
    ) -> None:
        super().__init__(port=port, start_timeout=start_timeout, stop_timeout=stop_timeout)
        self.args = list(args)
        self.binary = binary

    def url(self, db: int = 0) -> str:
        return f"redis://{self.host}:{self.port}/{db}"

    def command(self, *args: str | bytes | int) -> Any:
        """Send one command (RESP) and return the decoded reply: a tiny client for checks."""
        with socket.create_connection((self.host, self.port), timeout=5) as s:
            s.sendall(_resp_encode(args))
            return _resp_read(s.makefile("rb"))

    def _check_binaries(self) -> None:
        if self.binary is None:
            self.binary = _find_binary("redis-server", "SCALEKIT_REDIS_SERVER")
        elif not os.access(self.binary, os.X_OK):
            raise MissingBinaryError(
                f"{self.binary} is not installed; run `{ENSURE_DEPS}` to install the test servers"
            )

    def _command(self) -> list[str]:
        assert self.binary is not None and self.dir is not None
        return [
            self.binary,
            "--port", str(self.port),
            "--bind", self.host,
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.dir),
            "--daemonize", "no",
            "--logfile", "",
            "--protected-mode", "yes",
            *self.args,
        ]  # fmt: skip

    def _ready(self) -> bool:
        return bool(self.command("PING") == "PONG")


def _resp_encode(args: Sequence[str | bytes | int]) -> bytes:
    out = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def _resp_read(f: Any) -> Any:
    line = f.readline()
    if not line:
        raise ServiceError("redis closed the connection")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise ServiceError(f"redis error: {rest.decode()}")
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)[:-2]
        return bytes(data)
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_resp_read(f) for _ in range(n)]
    raise ServiceError(f"unexpected redis reply: {line!r}")


class Memcached(_Service):
    """memcached on a free loopback port (TCP only); `-u nobody` when run as root."""

    kind = "memcached"

    def __init__(
        self,
        *,
        port: int | None = None,
        memory_mb: int = 64,
        args: Sequence[str] = (),
        start_timeout: float = 10.0,
        stop_timeout: float = 5.0,
        user: str = "nobody",
    ) -> None:
        super().__init__(port=port, start_timeout=start_timeout, stop_timeout=stop_timeout)
        self.memory_mb = memory_mb
        self.args = list(args)
        self.user = user
        self.binary: str | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def command(self, line: str, data: bytes | None = None) -> str:
        """Send one text-protocol command and return the reply up to its end marker."""
        payload = line.encode() + b"\r\n" + (data + b"\r\n" if data is not None else b"")
        with socket.create_connection((self.host, self.port), timeout=5) as s:
            s.sendall(payload)
            reply = b""
            while not _memcached_reply_done(reply):
                chunk = s.recv(65536)
                if not chunk:
                    break
                reply += chunk
        return reply.decode(errors="replace")

    def _check_binaries(self) -> None:
        self.binary = _find_binary("memcached", "SCALEKIT_MEMCACHED")

    def _command(self) -> list[str]:
        assert self.binary is not None
        argv = [
            self.binary,
            "-l", self.host,
            "-p", str(self.port),
            "-U", "0",  # no UDP
            "-m", str(self.memory_mb),
        ]  # fmt: skip
        if _is_root():
            argv += ["-u", self.user]
        return [*argv, *self.args]

    def _ready(self) -> bool:
        return self.command("version").startswith("VERSION")


_MEMCACHED_ENDS = (b"END\r\n", b"STORED\r\n", b"NOT_STORED\r\n", b"EXISTS\r\n", b"NOT_FOUND\r\n",
                   b"DELETED\r\n", b"OK\r\n", b"ERROR\r\n", b"TOUCHED\r\n")  # fmt: skip


def _memcached_reply_done(reply: bytes) -> bool:
    if reply.startswith(b"VERSION ") and reply.endswith(b"\r\n"):
        return True
    if reply.startswith((b"CLIENT_ERROR", b"SERVER_ERROR")) and reply.endswith(b"\r\n"):
        return True
    return reply.endswith(_MEMCACHED_ENDS)


class RabbitMQ(_Service):
    """A private RabbitMQ node on a free loopback port (AMQP only, no plugins), its database,
    logs, configuration and Erlang cookie in its temp dir; user guest/guest on vhost `/`.

    Started through the package's own start script (`/usr/lib/rabbitmq/bin`), not the
    /usr/sbin wrapper that switches to the rabbitmq user. The node registers with the
    machine's epmd (started by Erlang if none runs, and left running, as Erlang does)."""

    kind = "rabbitmq"
    SCRIPT_DIRS = ("/usr/lib/rabbitmq/bin",)

    def __init__(self, *, start_timeout: float = 90.0, stop_timeout: float = 20.0) -> None:
        super().__init__(start_timeout=start_timeout, stop_timeout=stop_timeout)
        self.binary: str | None = None
        self.node = f"scalekit-{secrets.token_hex(4)}@localhost"
        self.dist_port = 0

    def url(self, vhost: str = "/") -> str:
        return f"amqp://guest:guest@{self.host}:{self.port}/{quote(vhost, safe='')}"

    def add_vhost(self, vhost: str) -> None:
        """A new virtual host where guest may do anything: one project's queues, apart."""
        self._ctl("add_vhost", vhost)
        self._ctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")

    def delete_vhost(self, vhost: str) -> None:
        self._ctl("delete_vhost", vhost)

    def vhosts(self) -> list[str]:
        return self._ctl("list_vhosts", "--quiet", "--no-table-headers").split()

    def permissions(self, vhost: str) -> list[list[str]]:
        """(user, configure, write, read) on `vhost`."""
        listed = self._ctl("list_permissions", "-p", vhost, "--quiet", "--no-table-headers")
        return [line.split() for line in listed.splitlines() if line.strip()]

    def _ctl(self, *args: str) -> str:
        assert self.binary is not None
        ctl = str(Path(self.binary).with_name("rabbitmqctl"))
        return self._run([ctl, "-n", self.node, *args], f"rabbitmqctl {args[0]}")

    def _check_binaries(self) -> None:
        # The package's script before PATH's /usr/sbin wrapper (which would switch users).
        scripts = [os.path.join(d, "rabbitmq-server") for d in self.SCRIPT_DIRS]
        found = [path for path in scripts if os.access(path, os.X_OK)]
        if found and not os.environ.get("SCALEKIT_RABBITMQ_SERVER"):
            self.binary = found[0]
        else:
            self.binary = _find_binary("rabbitmq-server", "SCALEKIT_RABBITMQ_SERVER")

    def _prepare(self) -> None:
        assert self.dir is not None
        (self.dir / "enabled_plugins").write_text("[].\n")
        (self.dir / "rabbitmq-env.conf").write_text("")
        # Little disk and memory on a CI machine must not block publishers.
        (self.dir / "rabbitmq.conf").write_text(
            "loopback_users.guest = true\n"
            "disk_free_limit.absolute = 1MB\n"
            "vm_memory_high_watermark.relative = 0.9\n"
        )

    def _env(self) -> dict[str, str]:
        assert self.dir is not None
        if not self.dist_port:
            self.dist_port = free_port()
        return {
            **_clean_env(),
            "HOME": str(self.dir),  # the Erlang cookie
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": self.host,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONF_ENV_FILE": str(self.dir / "rabbitmq-env.conf"),
            "RABBITMQ_CONFIG_FILE": str(self.dir / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.dir / "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.dir / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.dir / "log"),
            "RABBITMQ_LOGS": "-",  # to stdout: the harness's log file
            "RABBITMQ_PID_FILE": str(self.dir / "rabbitmq.pid"),
        }

    def _command(self) -> list[str]:
        assert self.binary is not None
        return [self.binary]

    def _pidfile(self) -> Path | None:
        assert self.dir is not None
        return self.dir / "rabbitmq.pid"

    def _ready(self) -> bool:
        """The AMQP listener opens last in the boot: ready once it answers the protocol
        header with a method frame (Connection.Start)."""
        with socket.create_connection((self.host, self.port), timeout=5) as s:
            s.sendall(b"AMQP\x00\x00\x09\x01")
            return s.recv(1)[:1] == b"\x01"
