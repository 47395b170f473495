"""The services generated projects run on, set up as their deployment sets theirs up: used by
the integration tests' fixtures and by `scalekit matrix --runtime` (one definition of each)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from scalekit_gen.harness.services import PgBouncer, Postgres

#: PgBouncer's pool per (database, user): small on purpose, so that clients share server
#: connections as they do in production and session-state bugs show up.
PGBOUNCER_POOL_SIZE = 4
#: In session mode a client connection pins a server connection for as long as it is open,
#: and an application's pool keeps its connections open: the pool must hold every client
#: (web processes × (pool + overflow), the worker's), as the projects' own sizing makes it.
#: Below POSTGRES_MAX_CONNECTIONS, which the migrations' and the tests' direct connections
#: share.
PGBOUNCER_SESSION_POOL_SIZE = 30
PGBOUNCER_MAX_CLIENTS = 200
POSTGRES_MAX_CONNECTIONS = 50
#: What a generated project's docker-compose.yml starts its PostgreSQL with.
PG_STAT_STATEMENTS = {"shared_preload_libraries": "pg_stat_statements"}


@contextmanager
def postgres() -> Iterator[Postgres]:
    """A private PostgreSQL; role `app` (password, timezone UTC) owns database `app`.

    It loads pg_stat_statements and has it in template1, as a generated project's
    docker-compose.yml and deploy/postgres/roles.sql set theirs up: the projects' own
    tests/test_slow_queries.py then runs their report on real statistics."""
    with Postgres(max_connections=POSTGRES_MAX_CONNECTIONS, settings=PG_STAT_STATEMENTS) as pg:
        pg.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements", db="template1")
        yield pg


def pgbouncer(pg: Postgres, pool_mode: str = "transaction") -> PgBouncer:
    """PgBouncer (not started) in front of `pg`, scram-sha-256 logins, in `pool_mode`."""
    return PgBouncer(
        pg,
        pool_mode=pool_mode,
        default_pool_size=PGBOUNCER_SESSION_POOL_SIZE
        if pool_mode == "session"
        else PGBOUNCER_POOL_SIZE,
        max_client_conn=PGBOUNCER_MAX_CLIENTS,
    )
