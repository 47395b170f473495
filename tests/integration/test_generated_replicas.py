"""Generated projects with a read replica that really lags: read-your-writes, and a cache
filled only from the primary.

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
  from the primary, so every one of them gets the new row, never the replica's old one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any

import pytest

from scalekit_gen.render import render_project
from tests.harness import PgBouncer, Postgres, PostgresReplica, Redis
from tests.harness.project import ProjectEnv, Response, Server
from tests.integration.generated import (
    FRAMEWORK_CASE_IDS,
    FRAMEWORK_CASES,
    INSTALL_TIMEOUT,
    blueprint,
)

pytestmark = pytest.mark.integration

ITEMS = "/api/v1/catalog/items"
READ_PRIMARY_COOKIE = "read_primary_until"


@dataclass
class Served:
    server: Server
    replica: PostgresReplica
    redis: Redis


@pytest.fixture(scope="module", params=FRAMEWORK_CASES, ids=FRAMEWORK_CASE_IDS)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    preset, answers = request.param
    project = blueprint(preset, modules="catalog", read_replicas=1, **answers)
    root = render_project(
        project, tmp_path_factory.mktemp("replicas") / "shop", git=False
    ).destination
    with (
        Postgres(max_connections=50, replication=True) as postgres,
        PostgresReplica(postgres) as replica,
        PgBouncer(postgres, default_pool_size=4) as pgbouncer,
        PgBouncer(replica, default_pool_size=4) as replica_pgbouncer,
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
        with Server(root, {**env.env, "DATABASE_REPLICA_URLS": replica_url}) as server:
            yield Served(server, replica, redis)


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
