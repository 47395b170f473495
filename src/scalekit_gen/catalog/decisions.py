"""The week-one decisions, one after the other in the order they are asked.

Each decision is written with everything that belongs to it: its computed default, what its
options need of other decisions (`requires`), what reversing them costs and the consequences
read beside it. `rules` derives the flat rule list from these, so a rule cannot exist apart
from the option that needs it.

Reversal costs follow the seeds' week-one table ("Cost to Reverse Later").
"""

from __future__ import annotations

from collections.abc import Mapping

from scalekit_gen.catalog.naming import slugify
from scalekit_gen.catalog.types import (
    Answers,
    Consequence,
    Cost,
    Decision,
    Kind,
    Need,
    Option,
    Reversal,
)

_ASYNC_FASTAPI = "async FastAPI"
_PGBOUNCER = ("pgbouncer-transaction", "pgbouncer-session")

PROJECT_NAME = Decision(
    key="project_name",
    title="Project name",
    question="What is the service called?",
    context=(
        "The name becomes the directory, the Python package, the container image and the "
        "Kubernetes labels."
    ),
    kind=Kind.TEXT,
    default="my-service",
    reversal=Reversal(Cost.LOW, "a rename touches imports and deploy names, nothing else"),
    recorded=False,
)

FRAMEWORK = Decision(
    key="framework",
    title="Application framework",
    question="Which web framework?",
    context=(
        "The framework shapes the ORM, the migrations and every endpoint. Both FastAPI and "
        "Django have been run at very large scale; pick the one your team can keep "
        "disciplined."
    ),
    kind=Kind.CHOICE,
    default="fastapi",
    option_reversal=Reversal(
        Cost.MAJOR,
        "changing framework is a 6 to 12 month rebuild of every "
        "endpoint, the ORM layer and the migrations",
    ),
    options=(
        Option(
            "fastapi",
            "an API-first service, async-heavy I/O, typed request/response contracts, ML serving",
        ),
        Option(
            "django",
            "a full web platform: admin, auth, sessions and the ORM out of the box "
            "(Instagram, Pinterest)",
        ),
    ),
)


def _concurrency_default(answers: Answers) -> str:
    return "async" if answers.get("framework", "fastapi") == "fastapi" else "sync"


CONCURRENCY = Decision(
    key="concurrency",
    title="Async-first or sync-first",
    question="Async or sync request handling?",
    context=(
        "Async-first aligns the whole codebase with the event loop; sync-first keeps "
        "every call blocking and scales with processes and threads. Mixing them later "
        "means rewriting endpoints, and a sync ORM call inside an async endpoint silently "
        "blocks the loop."
    ),
    kind=Kind.CHOICE,
    default=_concurrency_default,
    default_note="async for FastAPI, sync for Django",
    option_reversal=Reversal(Cost.HIGH, "every endpoint, repository and test is rewritten"),
    options=(
        Option(
            "async",
            "I/O dominates: database calls, downstream APIs, many concurrent clients per process",
        ),
        Option(
            "sync",
            "CPU-heavy work, low concurrency, or a team fluent in classic Django",
        ),
    ),
)

DATABASE = Decision(
    key="database",
    title="Database engine",
    question="Which database?",
    context=(
        "The database outlives every other decision: frameworks and clouds change, data "
        "stays. PostgreSQL is the default for transactional Python backends."
    ),
    kind=Kind.CHOICE,
    default="postgresql",
    options=(
        Option(
            "postgresql",
            "transactional data of any size: ACID, replication, partitioning, rich types",
            Reversal(Cost.CATASTROPHIC, "moving data to another engine is a 6+ month migration"),
        ),
    ),
)

READ_REPLICAS = Decision(
    key="read_replicas",
    title="Read replicas",
    question="How many PostgreSQL read replicas should reads be routed to?",
    context=(
        "Routing reads through one place from day one means replicas can be added later "
        "without touching every query. A replica lags, so a client that just wrote, and a read "
        "that fills the cache, read the primary (READ_YOUR_WRITES_S). 0 keeps every query on "
        "the primary."
    ),
    kind=Kind.INTEGER,
    default=0,
    minimum=0,
    maximum=15,
    reversal=Reversal(
        Cost.LOW,
        "reads already go through the repository, so adding or "
        "removing replicas is a settings change",
    ),
)

POOLING = Decision(
    key="pooling",
    title="Connection pooling",
    question="How are database connections pooled?",
    context=(
        "PostgreSQL's default limit of 100 connections becomes a hard wall around 5,000 "
        "concurrent requests. PgBouncer in transaction mode lets the same database serve "
        "about ten times more clients."
    ),
    kind=Kind.CHOICE,
    default="pgbouncer-transaction",
    options=(
        Option(
            "pgbouncer-transaction",
            "almost always: many app processes share a small set of server connections",
            Reversal(
                Cost.LOW,
                "PgBouncer is a drop-in layer; the driver settings it needs are already in place",
            ),
        ),
        Option(
            "pgbouncer-session",
            "the app relies on session state (SET, advisory locks, LISTEN, temp tables) "
            "and still needs a connection cap",
            Reversal(Cost.LOW, "switch pool_mode and remove session state"),
        ),
        Option(
            "app-pool-only",
            "one or two processes, a managed database with its own pooler, or a "
            "throwaway prototype",
            Reversal(
                Cost.LOW,
                "adding PgBouncer later is straightforward; the cost is "
                "the months spent debugging connection timeouts first",
            ),
        ),
    ),
    # How the framework and its concurrency talk to PostgreSQL through the chosen pooler.
    consequences=(
        Consequence(
            {"pooling": ("pgbouncer-transaction",)},
            "PgBouncer transaction mode: no session state through the pooler (no SET, session "
            "advisory locks or LISTEN); role settings via ALTER ROLE; migrations connect to "
            "PostgreSQL directly (DATABASE_MIGRATIONS_URL).",
        ),
        Consequence(
            {"framework": ("fastapi",), "concurrency": ("async",), "pooling": _PGBOUNCER},
            "asyncpg >= 0.32 with statement_cache_size=0, so no named prepared statements "
            "cross PgBouncer.",
        ),
        Consequence(
            {"framework": ("fastapi",), "concurrency": ("sync",), "pooling": _PGBOUNCER},
            "psycopg 3 with prepare_threshold=None, so no named prepared statements cross "
            "PgBouncer.",
        ),
        Consequence(
            {"framework": ("fastapi",), "concurrency": ("sync",)},
            "The thread pool that runs sync endpoints is capped at the database pool's "
            "capacity, so a request can never wait for a connection held by a blocked thread.",
        ),
        Consequence(
            {"framework": ("django",), "pooling": ("pgbouncer-transaction",)},
            "Django: DISABLE_SERVER_SIDE_CURSORS=True, since QuerySet.iterator() would "
            "otherwise open a cursor that the next transaction, on another server connection, "
            "cannot see.",
        ),
        Consequence(
            {"framework": ("django",), "pooling": _PGBOUNCER},
            "Django: prepared statements stay off (Django's psycopg default, "
            "prepare_threshold=None) and connection health checks are on.",
        ),
        Consequence(
            {"framework": ("django",), "concurrency": ("sync",), "pooling": _PGBOUNCER},
            "Django sync: CONN_MAX_AGE=60, one client connection to PgBouncer per gunicorn "
            "thread, kept across requests, and no OPTIONS['pool'], which would only queue the "
            "threads in front of PgBouncer. In transaction mode an idle client holds no server "
            "connection, and reconnecting on every request (CONN_MAX_AGE=0) made a database "
            "read 1.7 times slower in our measurements (a scram-sha-256 login, about 4 ms, per "
            "request).",
        ),
        Consequence(
            {"framework": ("django",), "concurrency": ("async",), "pooling": _PGBOUNCER},
            "Django async: psycopg's pool in each process (OPTIONS['pool'], sized in "
            "docs/capacity.md) in front of PgBouncer, with CONN_MAX_AGE=0 as the pool "
            "requires. Under ASGI a request's ORM work runs on a thread of its own, so a kept "
            "connection would leak with it (Django ticket #33497) and, without the pool, every "
            "request logs in to PgBouncer anew. A request holds its connection to its end, so "
            "the pool caps a process's concurrent database work; PgBouncer still shares the "
            "server connections.",
        ),
        Consequence(
            {"framework": ("django",), "pooling": ("app-pool-only",)},
            "Django: psycopg's pool per process (OPTIONS['pool'], sized in docs/capacity.md) "
            "with CONN_MAX_AGE=0, which the pool requires; PostgreSQL's max_connections must "
            "cover every process's pool.",
        ),
        # Not about pooling: it stays after the connection notes, where the plan and the
        # decision records have always printed it.
        Consequence(
            {"framework": ("django",), "concurrency": ("async",)},
            "Django async: ASGI under uvicorn workers; views await the ORM through "
            "sync_to_async or the async ORM API.",
        ),
    ),
)


AUTH = Decision(
    key="auth",
    title="Authentication",
    question="Who may call the write API, and how do they prove it?",
    context=(
        "A service that ships with open create, update and delete endpoints is one "
        "forgotten firewall rule away from anyone writing to it. Whoever calls the API is "
        "also who the rate limiter counts: a signed-in user or a key has a budget of its "
        "own, an anonymous caller shares its client address's. Django needs its own user "
        "model before the first migration; adding one later means rewriting that history."
    ),
    kind=Kind.CHOICE,
    default="users-jwt",
    options=(
        Option(
            "users-jwt",
            "people sign in: a users module with argon2-hashed passwords, short-lived "
            "access tokens from a password login, registration off until you open it",
            Reversal(
                Cost.HIGH,
                "users, their password hashes and every client's login flow move with it",
            ),
        ),
        Option(
            "api-keys",
            "other services call this one: keys minted by a command, stored hashed, sent in "
            "a header, each with its own rate limit",
            Reversal(Cost.MEDIUM, "every caller is issued new credentials"),
        ),
        Option(
            "none",
            "a gateway in front authenticates every call and this service trusts its network",
            Reversal(
                Cost.MEDIUM,
                "adding authentication later means every caller changes at once",
            ),
        ),
    ),
    consequences=(
        Consequence(
            {"auth": ("users-jwt", "api-keys")},
            "Reads stay open; writes need a credential (401 without one) and the rate limiter "
            "counts each user or key on its own, anonymous callers by client address.",
        ),
        Consequence(
            {"auth": ("users-jwt",), "framework": ("django",)},
            "Signing in is not leave to write: a write needs the user to hold the Django model "
            "permission the admin asks for too (add_item, change_item, delete_item), else 403. "
            "A superuser holds them all; grant others in the admin or with "
            "user.user_permissions.add(...).",
            shown_in=("auth",),
        ),
        Consequence(
            {"auth": ("users-jwt",), "framework": ("fastapi",)},
            "Signing in is not leave to write: a write needs a superuser (make "
            "createsuperuser), else 403; any other user may read and manage their account.",
            shown_in=("auth",),
        ),
        Consequence(
            {"auth": ("api-keys",)},
            "Every live key may write: a key is a service principal that an operator mints "
            "for a caller trusted to write.",
        ),
        Consequence(
            {"auth": ("none",)},
            "Every endpoint is open to whoever reaches the service: run it only behind a "
            "gateway that authenticates, on a network nothing else can call into. The rate "
            "limiter counts callers by client address.",
        ),
        Consequence(
            {"auth": ("api-keys", "none"), "framework": ("django",)},
            "Django still gets a custom User model in the first migration, so the admin's "
            "users can grow fields later without rewriting migration history.",
            shown_in=("auth",),
        ),
    ),
)


def _queue_default(answers: Answers) -> str:
    async_fastapi = (
        answers.get("framework", "fastapi") == "fastapi"
        and answers.get("concurrency", _concurrency_default(answers)) == "async"
    )
    return "taskiq" if async_fastapi else "celery"


QUEUE = Decision(
    key="queue",
    title="Background work",
    question="Which task queue runs background work?",
    context=(
        "Work that takes longer than a request should run in worker processes that scale "
        "on their own, not in threads inside the web process."
    ),
    kind=Kind.CHOICE,
    default=_queue_default,
    default_note=f"taskiq for {_ASYNC_FASTAPI}, celery otherwise",
    options=(
        Option(
            "celery",
            "the broadest ecosystem: retries, schedules (beat), routing, Flower; Django "
            "teams know it",
            Reversal(
                Cost.MEDIUM,
                "task signatures and retry settings move; the jobs "
                "themselves call services and survive",
            ),
        ),
        Option(
            "dramatiq",
            "simpler than Celery with safer defaults: acks after processing, retries with backoff",
            Reversal(Cost.MEDIUM, "actors are re-declared; the services they call stay"),
        ),
        Option(
            "rq",
            "small sync apps that want the simplest Redis-only queue",
            Reversal(Cost.MEDIUM, "jobs are re-declared; no retries are built in"),
            requires=(
                Need(
                    "concurrency",
                    ("sync",),
                    "RQ forks a work-horse per job and would start a new event loop for every "
                    "async job",
                ),
            ),
        ),
        Option(
            "taskiq",
            f"{_ASYNC_FASTAPI}: the worker runs the same async services and repositories",
            Reversal(Cost.MEDIUM, "tasks are re-declared; the async services stay"),
            requires=(
                Need(
                    "concurrency",
                    ("async",),
                    "Taskiq runs async functions and its worker reuses the async services",
                ),
                Need(
                    "framework",
                    ("fastapi",),
                    "the Django template wires Celery, Dramatiq or RQ, which fit Django's sync ORM",
                ),
            ),
        ),
        Option(
            "none",
            "no background work yet (every request finishes its own work)",
            Reversal(Cost.MEDIUM, "work done inside requests has to be extracted into jobs later"),
        ),
    ),
)


def _has_queue(answers: Answers) -> bool:
    return bool(answers.get("queue", "none") != "none")


BROKER = Decision(
    key="broker",
    title="Message broker",
    question="Which broker carries the queue's messages?",
    context=(
        "The broker holds jobs between the request that enqueues them and the worker that "
        "runs them. Redis is already in the stack; RabbitMQ adds real acknowledgements "
        "and routing at the cost of one more service."
    ),
    kind=Kind.CHOICE,
    default="redis",
    applies=_has_queue,
    applies_note="only when a queue is chosen",
    option_reversal=Reversal(Cost.LOW, "a URL change plus draining the old queue"),
    options=(
        Option(
            "redis",
            "one service for cache, rate limits, sessions and jobs; simplest to run",
        ),
        Option(
            "rabbitmq",
            "many job types with routing, strict acknowledgements, or jobs that must "
            "survive a Redis flush",
            requires=(
                Need(
                    "queue",
                    ("celery", "dramatiq"),
                    "RQ keeps its jobs in Redis only, and the Taskiq worker is wired to a Redis "
                    "stream (acknowledged, claimable after a crash)",
                ),
            ),
        ),
    ),
    refused={
        "memcached": (
            "memcached is a cache, never a broker: it evicts keys under memory pressure "
            "and has no acknowledgements, so jobs would vanish. Choose broker: redis or "
            "broker: rabbitmq"
        ),
    },
    consequences=(
        Consequence(
            {"queue": ("celery",), "broker": ("redis",)},
            "Celery on Redis: acks_late, reject_on_worker_lost, prefetch 1 and a visibility "
            "timeout just above the longest a healthy worker holds a task (its retry wait and "
            "twice JOB_TIME_LIMIT_S), so a killed worker's tasks run again within minutes; the "
            "Redis instance must not evict keys.",
        ),
    ),
)

CACHE = Decision(
    key="cache",
    title="Cache layer",
    question="Which cache sits between the application and the database?",
    context=(
        "Deciding the cache at week one, even before it is hot, fixes how every endpoint "
        "thinks about freshness; retrofitting invalidation later is a classic source of "
        "subtle correctness bugs. Redis also backs the rate limiter and sessions whatever "
        "is chosen here."
    ),
    kind=Kind.CHOICE,
    default="redis",
    options=(
        Option(
            "redis",
            "one cache for everything, with TTLs, data structures and persistence options",
            Reversal(
                Cost.MEDIUM,
                "the cache client is behind one module; TTLs and invalidation rules carry over",
            ),
        ),
        Option(
            "memcached",
            "a pure, multi-threaded LRU cache for many small objects",
            Reversal(Cost.MEDIUM, "the cache client is behind one module"),
        ),
        Option(
            "redis+memcached",
            "two layers as at Instagram: memcached for wide query caching, Redis for hot "
            "structured data",
            Reversal(Cost.MEDIUM, "each layer is behind its own client; one can be dropped"),
        ),
        Option(
            "none",
            "no read path is hot yet; every read goes to the database",
            Reversal(
                Cost.MEDIUM,
                "adding a cache later changes how every endpoint thinks about freshness",
            ),
        ),
    ),
    consequences=(
        Consequence(
            {"cache": ("redis", "redis+memcached"), "framework": ("fastapi",)},
            "The Redis cache has a URL of its own (REDIS_CACHE_URL; REDIS_URL when unset): in "
            "production a Redis that evicts (allkeys-lru), apart from the one that must not "
            "(REDIS_URL, noeviction: rate limits, and the broker when it is Redis).",
            shown_in=("cache",),
        ),
        Consequence(
            {"cache": ("redis", "redis+memcached"), "framework": ("django",)},
            "The Redis cache has a URL of its own (REDIS_CACHE_URL; REDIS_URL when unset): in "
            "production a Redis that evicts (allkeys-lru), apart from the one that must not "
            "(REDIS_URL, noeviction: sessions, rate limits, and the broker when it is Redis).",
            shown_in=("cache",),
        ),
        Consequence(
            {"cache": ("none", "memcached"), "framework": ("fastapi",)},
            "Redis still runs: the rate limiter lives there.",
            shown_in=("cache",),
        ),
        Consequence(
            {"cache": ("none", "memcached"), "framework": ("django",)},
            "Redis still runs: the rate limiter and sessions live there.",
            shown_in=("cache",),
        ),
    ),
)

OBSERVABILITY = Decision(
    key="observability",
    title="Observability",
    question="Which observability integrations (JSON logs with request ids are always on)?",
    context=(
        "The first time a bottleneck is discovered should not be when 100,000 users hit "
        "it. Structured logs with request ids are always generated; metrics, error "
        "tracking and tracing are chosen here."
    ),
    kind=Kind.MULTI,
    default=("prometheus", "sentry"),
    option_reversal=Reversal(Cost.LOW, "add it later, but the history before that is lost"),
    options=(
        Option(
            "prometheus",
            "latency histograms (p50/p95/p99), queue depth and cache hit rates on /metrics",
        ),
        Option(
            "sentry",
            "errors with stack traces and context, grouped and alerted",
        ),
        Option(
            "opentelemetry",
            "distributed traces across services and queues (OTLP to any backend)",
        ),
    ),
)

LOAD_TESTS = Decision(
    key="load_tests",
    title="Load tests",
    question="Which load tests ship with the project (Locust is always included)?",
    context=(
        "Simulate at least twice the projected peak before launch: finding the "
        "bottleneck with live users is the most expensive way to find it."
    ),
    kind=Kind.CHOICE,
    default="locust+k6",
    option_reversal=Reversal(Cost.LOW, "load tests sit beside the code"),
    options=(
        Option(
            "locust",
            "Python load tests with a p95 and error-rate gate for CI",
        ),
        Option(
            "locust+k6",
            "also a k6 script with thresholds, for teams that already run k6",
        ),
    ),
)

DEPLOY = Decision(
    key="deploy",
    title="Deployment",
    question="Which deployment manifests (Docker Compose is always included)?",
    context=(
        "Stateless web and worker processes behind a load balancer scale by adding "
        "replicas; the manifests encode probes, autoscaling and the PgBouncer tier."
    ),
    kind=Kind.CHOICE,
    default="compose+kubernetes",
    option_reversal=Reversal(Cost.LOW, "manifests are generated from the same sizing"),
    options=(
        Option(
            "compose",
            "a single host or a PaaS that runs containers",
        ),
        Option(
            "compose+kubernetes",
            "kustomize base and production overlay: probes, HPA, PodDisruptionBudget, "
            "PgBouncer as its own Deployment",
        ),
    ),
)

CI = Decision(
    key="ci",
    title="Continuous integration",
    question="Which CI provider runs lint, types, tests and the load gate?",
    context=(
        "CI runs the project's own checks against real PostgreSQL, PgBouncer and Redis on "
        "every change, plus a short load-test gate."
    ),
    kind=Kind.CHOICE,
    default="github",
    options=(
        Option(
            "github",
            "the code lives on GitHub",
            Reversal(Cost.LOW, "one workflow file to port"),
        ),
        Option(
            "gitlab",
            "the code lives on GitLab",
            Reversal(Cost.LOW, "one pipeline file to port"),
        ),
        Option(
            "none",
            "CI is provided elsewhere",
            Reversal(Cost.LOW, "the make targets are what CI calls"),
        ),
    ),
)

MODULES = Decision(
    key="modules",
    title="Domain modules",
    question="Which business domains get their own module (comma-separated)?",
    context=(
        "Modules by business domain, each with a public service interface and "
        "import-linter contracts, let a backend evolve for years without rewrites; "
        "circular imports between modules are the strongest predictor of decay."
    ),
    kind=Kind.NAMES,
    default=("catalog",),
    # A product limit, not a template one: past about 30 business domains one codebase
    # holds several services' worth of teams, and its CODEOWNERS, import contracts and
    # migrations stop being reviewable by one group. Split services before that.
    maximum=30,
    reversal=Reversal(Cost.HIGH, "untangling modules that grew into each other takes months"),
)


def _owners_default(answers: Answers) -> dict[str, str]:
    return {"*": f"@{slugify(str(answers.get('project_name', 'service')))}/backend"}


OWNERS = Decision(
    key="owners",
    title="Code owners",
    question="Who owns each module (CODEOWNERS handles; '*' is the fallback owner)?",
    context=(
        "Name an owner per module from the first commit, even at five engineers; the "
        "discipline scales with the team."
    ),
    kind=Kind.OWNERS,
    default=_owners_default,
    default_note="@<project>/backend for everything",
    reversal=Reversal(Cost.LOW, "add it later, but by then the boundaries have decayed"),
)

TARGET_USERS = Decision(
    key="target_users",
    title="Target users",
    question="How many users should the first production setup serve?",
    context=(
        "Sizing turns the target into web workers, pool sizes, PgBouncer and PostgreSQL "
        "connection limits and autoscaling bounds, with the formula written down."
    ),
    kind=Kind.INTEGER,
    default=10_000,
    minimum=1,
    maximum=1_000_000_000,
    reversal=Reversal(
        Cost.LOW, "sizing is configuration; re-run scalekit plan and change the numbers"
    ),
)

PEAK_RPS = Decision(
    key="peak_rps",
    title="Peak requests per second",
    question="Expected peak requests per second (0 = estimate from target users)?",
    context="A measured or projected peak beats the estimate from the user count.",
    kind=Kind.INTEGER,
    default=0,
    minimum=0,
    maximum=10_000_000,
    reversal=Reversal(Cost.LOW, "sizing is configuration"),
)

# The order the wizard asks in, copier.yml lists and the consequences are printed in.
DECISION_LIST: tuple[Decision, ...] = (
    PROJECT_NAME,
    FRAMEWORK,
    CONCURRENCY,
    AUTH,
    DATABASE,
    READ_REPLICAS,
    POOLING,
    QUEUE,
    BROKER,
    CACHE,
    OBSERVABILITY,
    LOAD_TESTS,
    DEPLOY,
    CI,
    MODULES,
    OWNERS,
    TARGET_USERS,
    PEAK_RPS,
)

DECISIONS: Mapping[str, Decision] = {decision.key: decision for decision in DECISION_LIST}

# Decision records are numbered ADR style: a number never changes meaning, so a record keeps
# its file name in projects rendered before a later decision was added. The first decisions
# are numbered in asking order; each one added later takes the next number, in the order it
# was added, whatever place it takes in the asking order.
_ADDED_LATER: tuple[Decision, ...] = (AUTH,)
_RECORD_ORDER: tuple[Decision, ...] = (
    *(d for d in DECISION_LIST if d.recorded and d.key not in {a.key for a in _ADDED_LATER}),
    *_ADDED_LATER,
)
RECORD_NUMBERS: Mapping[str, int] = {
    decision.key: number for number, decision in enumerate(_RECORD_ORDER, start=1)
}
