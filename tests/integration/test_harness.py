"""The service harness itself: private PostgreSQL behind PgBouncer (transaction mode),
Redis and memcached, each on its own loopback port, all gone after stop."""

from __future__ import annotations

import os
import pwd
import socket
import threading
from pathlib import Path
from typing import Any

import psycopg
import pytest

from scalekit_gen.harness import (
    Memcached,
    MissingBinaryError,
    PgBouncer,
    Postgres,
    PostgresReplica,
    RabbitMQ,
    Redis,
    ServiceError,
    processes,
)
from tests.harness.faults import FaultProxy

pytestmark = pytest.mark.integration

STANDING_PORTS = {5432, 6379, 6432, 11211}


def _one(cur: psycopg.Cursor[Any]) -> Any:
    row = cur.fetchone()
    assert row is not None
    return row


def _refuses(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


# -- PostgreSQL through PgBouncer ----------------------------------------------------------


def test_query_through_pgbouncer_reaches_the_private_postgres(
    postgres: Postgres, pgbouncer: PgBouncer
) -> None:
    assert pgbouncer.port not in STANDING_PORTS | {postgres.port}
    assert postgres.port not in STANDING_PORTS
    with pgbouncer.connect() as conn:
        user, db, server_port, tz = _one(
            conn.execute(
                "SELECT current_user, current_database(), inet_server_port(), "
                "current_setting('TimeZone')"
            )
        )
        assert conn.execute("SELECT %s::int + 1", [41]).fetchone() == (42,)
    assert (user, db, server_port) == ("app", "app", postgres.port)
    assert tz == "UTC"  # ALTER ROLE app SET timezone, so no session SET is needed


def test_urls_and_dsns_work(postgres: Postgres, pgbouncer: PgBouncer) -> None:
    assert pgbouncer.url().startswith(f"postgresql://app:{postgres.passwords['app']}@127.0.0.1:")
    for target in (postgres.url(), pgbouncer.url(), postgres.dsn(), pgbouncer.dsn()):
        with psycopg.connect(target, prepare_threshold=None) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)


def test_pgbouncer_runs_transaction_pooling(pgbouncer: PgBouncer) -> None:
    config = pgbouncer.config()
    assert config["pool_mode"] == "transaction"
    assert config["server_reset_query"] == ""
    assert config["ignore_startup_parameters"] == "extra_float_digits,options"

    with pgbouncer.connect() as conn:
        conn.execute("SELECT 1")
        pools = {(p["database"], p["user"]): p for p in pgbouncer.show("POOLS")}
    assert pools[("app", "app")]["pool_mode"] == "transaction"


def test_options_startup_parameter_is_ignored_not_refused(pgbouncer: PgBouncer) -> None:
    with pgbouncer.connect(options="-c statement_timeout=1234") as conn:
        # Dropped by ignore_startup_parameters: the connection works, the setting is not set.
        assert conn.execute("SHOW statement_timeout").fetchone() == ("0",)


def test_concurrent_clients_share_a_small_server_pool(pgbouncer: PgBouncer) -> None:
    clients = 10
    assert pgbouncer.default_pool_size < clients
    all_connected = threading.Barrier(clients, timeout=20)
    backend_pids: list[int] = []
    errors: list[BaseException] = []

    def client(n: int) -> None:
        try:
            with pgbouncer.connect() as conn:
                all_connected.wait()
                for _ in range(3):
                    with conn.transaction():
                        pid, echoed = _one(
                            conn.execute(
                                "SELECT pg_backend_pid(), %s::int FROM pg_sleep(0.02)", [n]
                            )
                        )
                        assert echoed == n
                    backend_pids.append(pid)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert len(backend_pids) == clients * 3
    # 10 clients were connected at once, yet at most default_pool_size backends served them.
    assert len(set(backend_pids)) <= pgbouncer.default_pool_size


def test_two_clients_share_one_backend_and_named_statements_collide(postgres: Postgres) -> None:
    """With one server connection, two clients get the same backend; psycopg's named
    prepared statements (its default prepare_threshold=5, here forced with prepare=True)
    then collide: why the harness and the generated projects use prepare_threshold=None."""
    with (
        PgBouncer(postgres, default_pool_size=1, settings={"query_wait_timeout": 5}) as pgb,
        pgb.connect(autocommit=True, prepare_threshold=5) as a,
        pgb.connect(autocommit=True, prepare_threshold=5) as b,
    ):
        pid_a = a.execute("SELECT pg_backend_pid()").fetchone()
        pid_b = b.execute("SELECT pg_backend_pid()").fetchone()
        assert pid_a == pid_b

        a.execute("SELECT %s::int", [1], prepare=True)  # leaves "_pg3_0" on the backend
        with pytest.raises(psycopg.errors.DuplicatePreparedStatement):
            b.execute("SELECT %s::int", [2], prepare=True)


def test_prepare_threshold_none_never_prepares_through_pgbouncer(pgbouncer: PgBouncer) -> None:
    conns = [pgbouncer.connect(prepare_threshold=None) for _ in range(4)]
    try:
        for i in range(12):  # well past psycopg's default threshold of 5
            for k, conn in enumerate(conns):
                assert conn.prepare_threshold is None
                value = i * 10 + k
                assert conn.execute("SELECT %s::int * 2", [value]).fetchone() == (value * 2,)
                conn.commit()
        with conns[0].transaction():
            (count,) = _one(conns[0].execute("SELECT count(*) FROM pg_prepared_statements"))
        assert count == 0
    finally:
        for conn in conns:
            conn.close()


def test_wrong_password_is_refused(postgres: Postgres, pgbouncer: PgBouncer) -> None:
    with pytest.raises(psycopg.OperationalError, match="authentication failed"):
        psycopg.connect(pgbouncer.dsn(password="not-the-password", connect_timeout=5))
    with pytest.raises(psycopg.OperationalError, match="authentication failed"):
        psycopg.connect(pgbouncer.dsn("nobody", "app", password="x", connect_timeout=5))
    # The server itself checks passwords too (scram-sha-256 over TCP).
    with pytest.raises(psycopg.OperationalError, match="authentication failed"):
        psycopg.connect(postgres.dsn(password="not-the-password", connect_timeout=5))


def test_roles_and_databases_created_later_work_through_pgbouncer(
    postgres: Postgres, pgbouncer: PgBouncer
) -> None:
    password = postgres.create_role("reporter", settings={"timezone": "UTC"})
    postgres.create_database("reports", owner="reporter")
    try:
        pgbouncer.add_user("reporter", password)
        with pgbouncer.connect("reporter", "reports") as conn:
            assert conn.execute("SELECT current_user, current_database()").fetchone() == (
                "reporter",
                "reports",
            )
    finally:
        postgres.drop_database("reports")


# -- a streaming replica -------------------------------------------------------------------


def test_a_replica_follows_its_primary_and_lags_while_replay_is_paused() -> None:
    with (
        Postgres(max_connections=20, replication=True) as primary,
        PostgresReplica(primary) as replica,
        PgBouncer(replica) as bouncer,
    ):
        assert replica.port not in (primary.port, *STANDING_PORTS)
        assert replica.execute("SELECT pg_is_in_recovery()") == [(True,)]
        with primary.connect() as conn:
            conn.execute("CREATE TABLE notes (body text)")
            conn.execute("INSERT INTO notes VALUES ('before')")
        replica.wait_caught_up()
        # The app role logs in on the replica with its primary's password, through PgBouncer too.
        with replica.connect() as conn, bouncer.connect() as pooled:
            assert conn.execute("SELECT body FROM notes").fetchall() == [("before",)]
            assert pooled.execute("SELECT count(*) FROM notes").fetchone() == (1,)
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                conn.execute("INSERT INTO notes VALUES ('refused')")

        replica.pause_replay()
        assert replica.replay_paused
        with primary.connect() as conn:
            conn.execute("INSERT INTO notes VALUES ('while paused')")
        with pytest.raises(ServiceError, match="waited 1s for replay"):
            replica.wait_caught_up(timeout=1)
        with replica.connect() as conn:
            assert conn.execute("SELECT count(*) FROM notes").fetchone() == (1,)

        replica.resume_replay()
        replica.wait_caught_up()
        assert not replica.replay_paused
        with replica.connect() as conn:
            assert conn.execute("SELECT count(*) FROM notes").fetchone() == (2,)
        replica_dir = replica.dir
    assert replica_dir is not None and not replica_dir.exists()


def test_a_replica_of_a_primary_without_replication_is_refused(postgres: Postgres) -> None:
    with pytest.raises(ServiceError, match=r"Postgres\(replication=True\)"):
        PostgresReplica(postgres).start()


# -- Redis and memcached ---------------------------------------------------------------


def test_redis_is_private_and_answers(redis: Redis) -> None:
    assert redis.port != 6379
    assert redis.url() == f"redis://127.0.0.1:{redis.port}/0"
    assert redis.command("PING") == "PONG"
    assert redis.command("SET", "harness:key", "value") == "OK"
    assert redis.command("GET", "harness:key") == b"value"
    assert redis.command("CONFIG", "GET", "save") == [b"save", b""]
    assert redis.command("CONFIG", "GET", "appendonly") == [b"appendonly", b"no"]
    info = redis.command("INFO", "server").decode()
    assert f"tcp_port:{redis.port}" in info
    assert f"process_id:{redis.pid}" in info


def test_memcached_set_and_get_over_a_raw_socket(memcached: Memcached) -> None:
    assert memcached.port != 11211
    with socket.create_connection(("127.0.0.1", memcached.port), timeout=5) as s:
        f = s.makefile("rwb")
        f.write(b"set harness 0 60 5\r\nhello\r\n")
        f.flush()
        assert f.readline() == b"STORED\r\n"
        f.write(b"get harness\r\n")
        f.flush()
        assert f.readline() == b"VALUE harness 0 5\r\n"
        assert f.readline() == b"hello\r\n"
        assert f.readline() == b"END\r\n"


def test_rabbitmq_is_private_and_gives_each_project_its_own_vhost() -> None:
    """What `scalekit matrix --runtime` uses for a blueprint whose broker is RabbitMQ."""
    with RabbitMQ() as rabbit:
        assert rabbit.port != 5672
        with socket.create_connection(("127.0.0.1", rabbit.port), timeout=5) as s:
            s.sendall(b"AMQP\x00\x00\x09\x01")
            assert s.recv(1) == b"\x01"  # a method frame: Connection.Start
        rabbit.add_vhost("row-a")
        assert "row-a" in rabbit.vhosts()
        assert rabbit.permissions("row-a") == [["guest", ".*", ".*", ".*"]]
        assert rabbit.url("row-a").endswith(f":{rabbit.port}/row-a")
        rabbit.delete_vhost("row-a")
        assert "row-a" not in rabbit.vhosts()
        pid, directory = rabbit.pid, rabbit.dir
    assert pid is not None and not processes.alive(pid)
    assert directory is not None and not directory.exists()


# -- lifecycle -------------------------------------------------------------------------


def test_stop_kills_the_servers_and_removes_their_dirs() -> None:
    with Postgres(max_connections=20) as pg, PgBouncer(pg) as pgb, Redis() as r, Memcached() as m:
        services = [pg, pgb, r, m]
        pids = [s.pid for s in services]
        dirs = [s.dir for s in services]
        ports = [s.port for s in services]
        with pgb.connect() as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        assert all(pids) and all(d is not None and d.is_dir() for d in dirs)
        assert len(set(ports)) == 4

    for service, pid, d, port in zip(services, pids, dirs, ports, strict=True):
        assert not service.running
        assert service.dir is None
        assert d is not None and not d.exists(), d
        assert pid is not None and not Path(f"/proc/{pid}").exists(), (service.kind, pid)
        assert _refuses(port), (service.kind, port)
    # stop() is idempotent
    for service in services:
        service.stop()


def test_missing_binary_is_an_error_naming_the_install_script(
    postgres: Postgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(MissingBinaryError, match="scripts/ensure-system-deps"):
        Redis(binary="/nonexistent/redis-server").start()
    monkeypatch.setenv("PATH", "/nonexistent")
    for var in ("SCALEKIT_PGBOUNCER", "SCALEKIT_MEMCACHED"):
        monkeypatch.setenv(var, "/nonexistent/binary")
    with pytest.raises(MissingBinaryError, match="SCALEKIT_PGBOUNCER"):
        PgBouncer(postgres).start()
    with pytest.raises(MissingBinaryError, match="SCALEKIT_MEMCACHED"):
        Memcached().start()
    monkeypatch.setenv("SCALEKIT_PG_BINDIR", "/nonexistent")
    with pytest.raises(MissingBinaryError, match="scripts/ensure-system-deps"):
        Postgres().start()


def test_a_server_that_fails_to_start_raises_with_its_log_tail(postgres: Postgres) -> None:
    pgb = PgBouncer(postgres, settings={"pool_mode": "not-a-mode"}, start_timeout=5)
    with pytest.raises(ServiceError, match="pool_mode") as excinfo:
        pgb.start()
    assert "log tail" in str(excinfo.value)
    assert pgb.dir is None and not pgb.running


def test_postgres_and_pgbouncer_do_not_run_as_root(
    postgres: Postgres, pgbouncer: PgBouncer
) -> None:
    expected = pwd.getpwnam("postgres").pw_uid if os.geteuid() == 0 else os.geteuid()
    for service in (postgres, pgbouncer):
        status = Path(f"/proc/{service.pid}/status").read_text()
        uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
        assert int(uid_line.split()[1]) == expected, (service.kind, uid_line)


def _ping(port: int, timeout: float = 1.0) -> bytes:
    """PING a Redis on `port`: its reply, or raises (OSError, TimeoutError)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(b"PING\r\n")
        return conn.recv(64)


def test_the_fault_proxy_forwards_hangs_refuses_and_recovers_on_its_port(redis: Redis) -> None:
    with FaultProxy("127.0.0.1", redis.port) as proxy:
        port = proxy.port
        assert _ping(port) == b"+PONG\r\n"

        with socket.create_connection(("127.0.0.1", port), timeout=1) as open_before:
            proxy.black_hole()
            # A new connection is accepted and never answered; so is one opened before.
            with pytest.raises(TimeoutError):
                _ping(port, timeout=0.3)
            open_before.sendall(b"PING\r\n")
            with pytest.raises(TimeoutError):
                open_before.recv(64)

            proxy.refuse()
            assert _refuses(port)
            with pytest.raises(OSError):  # the open connection was reset
                open_before.sendall(b"PING\r\n")
                if not open_before.recv(64):
                    raise ConnectionResetError("closed")

        proxy.forward()
        assert proxy.port == port
        assert _ping(port) == b"+PONG\r\n"
