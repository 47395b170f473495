"""Generated projects with a read replica that really lags, or goes down: read-your-writes, a
cache filled only from the primary, and reads that never fail for the replica's sake.

For each framework in each concurrency model, a project rendered with `read_replicas=1` is
served with DATABASE_URL on a primary and DATABASE_REPLICA_URLS on a streaming replica of it
(`pg_basebackup -R`), each behind a PgBouncer of its own, as in production. Replay on the
replica is paused (`pg_wal_replay_pause()`) while a test writes, so the replica lags for as
long as the test wants:

- a client that wrote reads its write at once (a POST then a GET answers 200, not 404), by
  id and in a list, while another client, which never wrote, still reads the replica (its
  list lacks the new row until replay resumes): the routing still uses the replica;
- an item changed on the primary while the replica lags, its cache entry then gone (as when
  the write's tombstone expires), is read by clients that never wrote: the cache is filled
  from the primary, so every one of them gets the new row, never the replica's old one;
- a replica lagging past REPLICA_MAX_LAG_S is out of rotation: a client that never wrote
  reads the primary (it sees a row the replica has not replayed);
- a replica that stops (its PostgreSQL killed, its PgBouncer still answering, as in
  production) costs no failed read: GETs answer 200 from the primary, the first within
  PgBouncer's query_wait_timeout, the next ones at once; once it is back, reads return to it.

The replica's PgBouncer waits for a server as the generated pgbouncer.ini does
(query_wait_timeout, server_login_retry from the sizing), not the harness's 30 s.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest

from scalekit_gen.harness import PgBouncer, Postgres, PostgresReplica, Redis, free_port
from scalekit_gen.harness.project import ProjectEnv, Response, Server
from scalekit_gen.render import render_project
from scalekit_gen.sizing import size
from tests.integration.generated import (
    FRAMEWORK_CASE_IDS,
    FRAMEWORK_CASES,
    INSTALL_TIMEOUT,
    blueprint,
)

pytestmark = pytest.mark.integration

ITEMS = "/api/v1/catalog/items"
READ_PRIMARY_COOKIE = "read_primary_until"


# How the generated pgbouncer.ini makes a client wait for a server (it is the same at any scale).
SIZING = size(concurrency="async", pooling="pgbouncer-transaction", queue="none", target_users=1)
PGBOUNCER_WAITS = {
    "query_wait_timeout": SIZING.pgbouncer_query_wait_timeout_s,
    "server_login_retry": SIZING.pgbouncer_server_login_retry_s,
}
# Short enough for a test to wait out: a replica past this lag is out of rotation, measured
# this often; one that was down is tried again after REPLICA_RETRY_S. One web process: each
# process learns a replica's state for itself.
FAULT_ENV = {
    "REPLICA_MAX_LAG_S": "1",
    "REPLICA_CHECK_INTERVAL_S": "0.2",
    "REPLICA_RETRY_S": "2",
    "WEB_CONCURRENCY": "1",
}


@dataclass
class Served:
    server: Server
    replica: PostgresReplica
    redis: Redis
    root: Path
    env: dict[str, str]

    def another_server(self, **env: str) -> Server:
        """A second server of the same project and replica, with `env` on top."""
        return Server(self.root, {**self.env, **env}, port=free_port())


@pytest.fixture(scope="module", params=FRAMEWORK_CASES, ids=FRAMEWORK_CASE_IDS)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    preset, answers = request.param
    # Open writes (auth: none): what is under test here is not who may write;
    # test_generated_project.py drives the credentials.
    project = blueprint(preset, modules="catalog", read_replicas=1, auth="none", **answers)
    root = render_project(
        project, tmp_path_factory.mktemp("replicas") / "shop", git=False
    ).destination
    with (
        Postgres(max_connections=50, replication=True) as postgres,
        PostgresReplica(postgres) as replica,
        PgBouncer(postgres, default_pool_size=4) as pgbouncer,
        PgBouncer(replica, default_pool_size=4, settings=PGBOUNCER_WAITS) as replica_pgbouncer,
        Redis() as redis,
        ProjectEnv(postgres, pgbouncer, redis) as env,
    ):
        # The run's role and database reach the replica before its PgBouncer reads the role's
        # password there.
        replica.wait_caught_up()
        replica_pgbouncer.add_user(env.role, postgres.passwords[env.role])
        env.make(root, "install", timeout=INSTALL_TIMEOUT)
        env.make(root, "migrate")
        replica_url = replica_pgbouncer.url(env.role, env.database)
        server_env = {**env.env, "DATABASE_REPLICA_URLS": replica_url}
        with Server(root, server_env) as server:
            yield Served(server, replica, redis, root, server_env)


class Client:
    """A client of the server that keeps the cookies it is given, as browsers,
    `requests.Session` and `httpx.Client` do."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.cookies: SimpleCookie = SimpleCookie()

    def request(self, method: str, path: str, json: Any = None) -> Response:
        sent = "; ".join(f"{name}={morsel.value}" for name, morsel in self.cookies.items())
        response = self.server.request(method, path, json, {"Cookie": sent} if sent else None)
        for header in response.headers.get_all("Set-Cookie") or []:
            self.cookies.load(header)
        return response


def _create(client: Client | Server, name: str) -> dict[str, Any]:
    created = client.request("POST", ITEMS, {"name": name, "price_cents": 1})
    assert created.status == 201, created
    body: dict[str, Any] = created.body
    return body


def _listed_ids(client: Client | Server, name: str) -> list[str]:
    listed = client.request("GET", f"{ITEMS}?name={name}")
    assert listed.status == 200, listed
    return [item["id"] for item in listed.body]


def test_a_client_reads_its_own_write_from_a_lagging_replica(served: Served) -> None:
    server, replica = served.server, served.replica
    writer = Client(server)
    name = f"own-{uuid.uuid4().hex[:8]}"
    replica.wait_caught_up()
    replica.pause_replay()
    try:
        created = _create(writer, name)
        fetched = writer.request("GET", f"{ITEMS}/{created['id']}")
        writer_lists = _listed_ids(writer, name)
        others_list = _listed_ids(server, name)
    finally:
        replica.resume_replay()
    log = server.log_tail(40)

    assert fetched.status == 200, f"{fetched}\n{log}"
    assert fetched.body["name"] == name
    assert READ_PRIMARY_COOKIE in writer.cookies, created
    assert writer_lists == [created["id"]]
    # Another client reads the replica, which has not replayed the write.
    assert others_list == []
    replica.wait_caught_up()
    assert _listed_ids(server, name) == [created["id"]]


def test_the_cache_is_never_filled_from_a_lagging_replica(served: Served) -> None:
    server, replica = served.server, served.replica
    item = _create(server, f"cached-{uuid.uuid4().hex[:8]}")
    replica.wait_caught_up()
    assert server.get(f"{ITEMS}/{item['id']}").status == 200  # cached now
    renamed = f"renamed-{uuid.uuid4().hex[:8]}"
    replica.pause_replay()
    try:
        patched = Client(server).request("PATCH", f"{ITEMS}/{item['id']}", {"name": renamed})
        assert patched.status == 200, patched
        # The write's invalidation has expired (its tombstone lives TOMBSTONE_TTL_S): the
        # cache is empty, and the replica still has the old row.
        served.redis.command("FLUSHALL")
        # Clients that never wrote: the first fills the cache, the next read it.
        names = [server.get(f"{ITEMS}/{item['id']}").body["name"] for _ in range(3)]
    finally:
        replica.resume_replay()

    assert names == [renamed] * 3, server.log_tail(40)


def test_a_replica_lagging_past_the_limit_is_read_from_the_primary(served: Served) -> None:
    replica = served.replica
    name = f"lag-{uuid.uuid4().hex[:8]}"
    with served.another_server(**FAULT_ENV) as server:
        replica.wait_caught_up()
        assert _listed_ids(server, name) == []  # the replica is in rotation, lag measured
        replica.pause_replay()
        try:
            created = _create(server, name)
            # Past REPLICA_MAX_LAG_S behind, and measured since.
            time.sleep(1.5)
            reads = [_listed_ids(Client(server), name) for _ in range(3)]
        finally:
            replica.resume_replay()
        log = server.log_tail(40)
    # Clients that never wrote: the replica lacks the row, the primary has it.
    assert reads == [[created["id"]]] * 3, log


def test_reads_go_to_the_primary_while_the_replica_is_down(served: Served) -> None:
    replica = served.replica
    name = f"down-{uuid.uuid4().hex[:8]}"
    with served.another_server(**FAULT_ENV) as server:
        created = _create(server, name)
        replica.wait_caught_up()
        assert _listed_ids(server, name) == [created["id"]]  # pooled replica connections
        replica.kill()
        try:
            started = time.monotonic()
            first = server.request("GET", f"{ITEMS}?name={name}")
            first_took = time.monotonic() - started
            started = time.monotonic()
            later = [server.request("GET", f"{ITEMS}/{created['id']}") for _ in range(5)]
            later_took = time.monotonic() - started
            log = server.log_tail(40)
        finally:
            replica.revive()
        replica.wait_caught_up()
        back = _back_in_rotation(server, replica)

    assert first.status == 200, f"{first}\n{log}"
    assert [item["id"] for item in first.body] == [created["id"]]
    assert first_took < SIZING.pgbouncer_query_wait_timeout_s + 2, log
    assert [response.status for response in later] == [200] * 5, f"{later}\n{log}"
    # Out of rotation: no waiting on the replica's PgBouncer for each read.
    assert later_took < 2, log
    assert back, "the replica was never read again once it was back"


def _back_in_rotation(server: Server, replica: PostgresReplica) -> bool:
    """Whether the server reads the replica again within a few REPLICA_RETRY_S: a row the
    paused replica has not replayed is missing from a reader's list. (PgBouncer fails the
    first client after its server is back, so the first retry may fail.)"""
    deadline = time.monotonic() + 3 * float(FAULT_ENV["REPLICA_RETRY_S"]) + 1
    while time.monotonic() < deadline:
        time.sleep(0.5)
        replica.wait_caught_up()
        replica.pause_replay()
        try:
            unreplayed = _create(server, f"back-{uuid.uuid4().hex[:8]}")
            if _listed_ids(server, unreplayed["name"]) == []:
                return True
        finally:
            replica.resume_replay()
    return False
