"""Session-wide private servers for the integration tests (see src/scalekit_gen/harness).

Each fixture starts its own server on a free loopback port in a temp dir, never the
machine's standing PostgreSQL (5432) or Redis (6379), and removes it at the end of the
session. A missing server binary fails the tests with a pointer to
`scripts/ensure-system-deps`; it never skips them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from scalekit_gen.harness import Memcached, PgBouncer, Postgres, Redis, stack
from scalekit_gen.harness.project import ProjectEnv


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A private PostgreSQL set up as the projects' deployments set theirs up (stack.postgres)."""
    with stack.postgres() as pg:
        yield pg


@pytest.fixture(scope="session")
def pgbouncer(postgres: Postgres) -> Iterator[PgBouncer]:
    """PgBouncer in transaction mode in front of `postgres`, scram-sha-256 logins."""
    with stack.pgbouncer(postgres) as pgb:
        yield pgb


@pytest.fixture(scope="session")
def redis() -> Iterator[Redis]:
    with Redis() as server:
        yield server


@pytest.fixture(scope="session")
def memcached() -> Iterator[Memcached]:
    with Memcached() as server:
        yield server


# -- generated projects (scalekit_gen/harness/project.py) ---------------------------------


@pytest.fixture
def project_env_factory(
    request: pytest.FixtureRequest, postgres: Postgres, pgbouncer: PgBouncer, redis: Redis
) -> Iterator[Callable[..., ProjectEnv]]:
    """Make started `ProjectEnv`s (own database and role, own Redis databases, the contract's
    environment), all closed (database and role dropped) at the end of the test.

    `cache=True` adds memcached (CACHE_URL); other keyword arguments go to ProjectEnv."""
    envs: list[ProjectEnv] = []

    def make(*, cache: bool = False, **kwargs: Any) -> ProjectEnv:
        memcached = request.getfixturevalue("memcached") if cache else None
        env = ProjectEnv(postgres, pgbouncer, redis, memcached, **kwargs)
        envs.append(env)
        return env.start()

    yield make
    errors = []
    for env in reversed(envs):
        try:
            env.close()
        except Exception as e:
            errors.append(e)
    if errors:
        raise errors[0]


@pytest.fixture
def project_env(project_env_factory: Callable[..., ProjectEnv]) -> ProjectEnv:
    """A started ProjectEnv without memcached: DATABASE_URL through PgBouncer, REDIS_URL, …"""
    return project_env_factory()
