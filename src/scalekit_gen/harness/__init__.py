"""Private, hermetic servers: PostgreSQL (and its streaming replicas), PgBouncer, Redis,
memcached, RabbitMQ (`services`), and the driver of a generated project (`project`), for
`scalekit matrix --runtime` and the integration tests.

Each server runs on a free loopback port, keeps all of its files in its own temp dir and is
removed on stop, so test runs never touch the machine's standing services and can run in
parallel. The binaries come from Debian's packages: `scripts/ensure-system-deps` installs them.
"""

from .services import (
    Memcached,
    MissingBinaryError,
    PgBouncer,
    Postgres,
    PostgresReplica,
    RabbitMQ,
    Redis,
    ServiceError,
    free_port,
)

__all__ = [
    "Memcached",
    "MissingBinaryError",
    "PgBouncer",
    "Postgres",
    "PostgresReplica",
    "RabbitMQ",
    "Redis",
    "ServiceError",
    "free_port",
]
