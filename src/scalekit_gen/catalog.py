"""The week-one decision catalog: every question scalekit asks, as data.

Everything else reads this module: the wizard, `scalekit plan`, validation, the data handed to
Copier, the decision records written into each project and the template's `copier.yml`
(generated from it, see `copier_spec`). It is pure on purpose: no Typer, Rich, Copier or file
access, so it can be imported anywhere and tested without fixtures.

Reversal costs follow the seeds' week-one table ("Cost to Reverse Later").
"""

from __future__ import annotations

import keyword
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

Answers = Mapping[str, Any]


class Cost(StrEnum):
    """How expensive a decision is to reverse once code and data depend on it."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    MAJOR = "major"
    CATASTROPHIC = "catastrophic"

    @property
    def rank(self) -> int:
        return list(Cost).index(self)


class Kind(StrEnum):
    """The shape of an answer, which decides how it is parsed, prompted and stored."""

    TEXT = "text"
    CHOICE = "choice"
    MULTI = "multi"
    INTEGER = "integer"
    NAMES = "names"  # a list of Python identifiers (domain modules)
    OWNERS = "owners"  # a mapping module -> code owner handle, "*" for the fallback


@dataclass(frozen=True)
class Reversal:
    cost: Cost
    reason: str


@dataclass(frozen=True)
class Option:
    value: str
    choose_when: str
    reversal: Reversal


@dataclass(frozen=True)
class Decision:
    key: str
    title: str
    question: str
    context: str  # why the decision matters; opens the decision record
    kind: Kind
    default: Any | Callable[[Answers], Any]
    options: tuple[Option, ...] = ()
    reversal: Reversal | None = None  # for decisions without options (modules, scale, ...)
    default_note: str = ""  # says how a computed default is chosen
    applies: Callable[[Answers], bool] | None = None
    applies_note: str = ""
    refused: Mapping[str, str] = field(default_factory=dict)  # tempting values we never take
    minimum: int | None = None
    maximum: int | None = None
    recorded: bool = True  # gets a record in the project's docs/decisions

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(option.value for option in self.options)

    def option(self, value: str) -> Option:
        for option in self.options:
            if option.value == value:
                return option
        raise KeyError(f"{self.key} has no option {value!r}")

    def applies_to(self, answers: Answers) -> bool:
        return self.applies is None or self.applies(answers)

    def default_for(self, answers: Answers) -> Any:
        """The default given the answers to earlier decisions."""
        return self.default(answers) if callable(self.default) else self.default

    @property
    def has_computed_default(self) -> bool:
        return callable(self.default)


@dataclass(frozen=True)
class Requirement:
    """Choosing `value` for `key` requires `other` to be one of `allowed`.

    Every rule between two decisions has this shape, so every refusal message names both
    choices and the two ways out.
    """

    key: str
    value: str
    other: str
    allowed: tuple[str, ...]
    why: str

    def violated_by(self, answers: Answers) -> bool:
        if answers.get(self.key) != self.value or self.other not in answers:
            return False
        other_value = answers[self.other]
        return other_value is not None and other_value not in self.allowed

    def message(self, answers: Answers) -> str:
        wanted = " or ".join(f"{self.other}: {value}" for value in self.allowed)
        alternatives = [
            value
            for value in DECISIONS[self.key].values
            if value != self.value and not _conflicts(self.key, value, answers)
        ]
        fix = f"set {self.other}: {self.allowed[0]}"
        if alternatives:
            fix += f", or choose {self.key}: {' / '.join(alternatives)}"
        return (
            f"{self.key}: {self.value} needs {wanted}, but {self.other} is "
            f"{answers[self.other]} — {self.why}. Fix: {fix}"
        )


@dataclass(frozen=True)
class Consequence:
    """What a combination of choices forces in the generated project; shown in the plan."""

    when: Mapping[str, tuple[str, ...]]
    note: str

    def holds_for(self, answers: Answers) -> bool:
        return all(answers.get(key) in values for key, values in self.when.items())


def _reversal(cost: Cost, reason: str) -> Reversal:
    return Reversal(cost, reason)


# --------------------------------------------------------------------------- defaults


def _concurrency_default(answers: Answers) -> str:
    return "async" if answers.get("framework", "fastapi") == "fastapi" else "sync"


def _queue_default(answers: Answers) -> str:
    async_fastapi = (
        answers.get("framework", "fastapi") == "fastapi"
        and answers.get("concurrency", _concurrency_default(answers)) == "async"
    )
    return "taskiq" if async_fastapi else "celery"


def _owners_default(answers: Answers) -> dict[str, str]:
    return {"*": f"@{slugify(str(answers.get('project_name', 'service')))}/backend"}


def _has_queue(answers: Answers) -> bool:
    return bool(answers.get("queue", "none") != "none")


# --------------------------------------------------------------------------- naming helpers
# Kept here because the catalog's own defaults need them and the blueprint derives names
# with exactly the same functions.

RESERVED_MODULE_NAMES = frozenset(
    {
        "core",
        "api",
        "app",
        "config",
        "settings",
        "tests",
        "migrations",
        "alembic",
        "main",
        "models",
        "admin",
        "static",
        "templates",
        "worker",
        "tasks",
        "loadtests",
        "docs",
        # The project's own modules beside the domain ones (either framework).
        "routes",
        "tables",
        "urls",
        "wsgi",
        "asgi",
        "gunicorn_conf",
        # Django's app labels: a domain app with one of these names cannot be installed.
        "auth",
        "contenttypes",
        "sessions",
        "messages",
        "staticfiles",
        "ninja",
    }
)


def slugify(text: str) -> str:
    """`Café Zürich!` -> `cafe-zurich`; used for directory, image and service names."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    out: list[str] = []
    for char in ascii_text.strip().lower():
        if char.isascii() and char.isalnum():
            out.append(char)
        elif out and out[-1] != "-":
            out.append("-")
    return "".join(out).strip("-")


def package_name(slug: str) -> str:
    """`acme-shop` -> `acme_shop`; a name that must also be a valid Python package."""
    name = slug.replace("-", "_")
    if name and name[0].isdigit():
        name = f"svc_{name}"
    if keyword.iskeyword(name):
        name = f"{name}_svc"
    return name


def module_name_problem(name: str) -> str | None:
    if not name.isidentifier() or not name.isascii() or name != name.lower() or name[0] == "_":
        return f"{name!r} is not a lowercase Python identifier (letters, digits, _; e.g. billing)"
    if keyword.iskeyword(name):
        return f"{name!r} is a Python keyword — pick another name, e.g. {name}s"
    if name in RESERVED_MODULE_NAMES:
        return f"{name!r} is used by the generated project itself — pick a domain name instead"
    return None


# --------------------------------------------------------------------------- the catalog

_ASYNC_FASTAPI = "async FastAPI"

DECISION_LIST: tuple[Decision, ...] = (
    Decision(
        key="project_name",
        title="Project name",
        question="What is the service called?",
        context=(
            "The name becomes the directory, the Python package, the container image and the "
            "Kubernetes labels."
        ),
        kind=Kind.TEXT,
        default="my-service",
        reversal=_reversal(Cost.LOW, "a rename touches imports and deploy names, nothing else"),
        recorded=False,
    ),
    Decision(
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
        options=(
            Option(
                "fastapi",
                "an API-first service, async-heavy I/O, typed request/response contracts, "
                "ML serving",
                _reversal(
                    Cost.MAJOR,
                    "changing framework is a 6 to 12 month rebuild of every "
                    "endpoint, the ORM layer and the migrations",
                ),
            ),
            Option(
                "django",
                "a full web platform: admin, auth, sessions and the ORM out of the box "
                "(Instagram, Pinterest)",
                _reversal(
                    Cost.MAJOR,
                    "changing framework is a 6 to 12 month rebuild of every "
                    "endpoint, the ORM layer and the migrations",
                ),
            ),
        ),
    ),
    Decision(
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
        options=(
            Option(
                "async",
                "I/O dominates: database calls, downstream APIs, many concurrent clients "
                "per process",
                _reversal(Cost.HIGH, "every endpoint, repository and test is rewritten"),
            ),
            Option(
                "sync",
                "CPU-heavy work, low concurrency, or a team fluent in classic Django",
                _reversal(Cost.HIGH, "every endpoint, repository and test is rewritten"),
            ),
        ),
    ),
    Decision(
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
                _reversal(
                    Cost.CATASTROPHIC, "moving data to another engine is a 6+ month migration"
                ),
            ),
        ),
    ),
    Decision(
        key="read_replicas",
        title="Read replicas",
        question="How many PostgreSQL read replicas should reads be routed to?",
        context=(
            "Routing reads through one place from day one means replicas can be added later "
            "without touching every query. 0 keeps every query on the primary."
        ),
        kind=Kind.INTEGER,
        default=0,
        minimum=0,
        maximum=15,
        reversal=_reversal(
            Cost.LOW,
            "reads already go through the repository, so adding or "
            "removing replicas is a settings change",
        ),
    ),
    Decision(
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
                _reversal(
                    Cost.LOW,
                    "PgBouncer is a drop-in layer; the driver settings it "
                    "needs are already in place",
                ),
            ),
            Option(
                "pgbouncer-session",
                "the app relies on session state (SET, advisory locks, LISTEN, temp tables) "
                "and still needs a connection cap",
                _reversal(Cost.LOW, "switch pool_mode and remove session state"),
            ),
            Option(
                "app-pool-only",
                "one or two processes, a managed database with its own pooler, or a "
                "throwaway prototype",
                _reversal(
                    Cost.LOW,
                    "adding PgBouncer later is straightforward; the cost is "
                    "the months spent debugging connection timeouts first",
                ),
            ),
        ),
    ),
    Decision(
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
                _reversal(
                    Cost.MEDIUM,
                    "task signatures and retry settings move; the jobs "
                    "themselves call services and survive",
                ),
            ),
            Option(
                "dramatiq",
                "simpler than Celery with safer defaults: acks after processing, retries "
                "with backoff",
                _reversal(Cost.MEDIUM, "actors are re-declared; the services they call stay"),
            ),
            Option(
                "rq",
                "small sync apps that want the simplest Redis-only queue",
                _reversal(Cost.MEDIUM, "jobs are re-declared; no retries are built in"),
            ),
            Option(
                "taskiq",
                f"{_ASYNC_FASTAPI}: the worker runs the same async services and repositories",
                _reversal(Cost.MEDIUM, "tasks are re-declared; the async services stay"),
            ),
            Option(
                "none",
                "no background work yet (every request finishes its own work)",
                _reversal(
                    Cost.MEDIUM, "work done inside requests has to be extracted into jobs later"
                ),
            ),
        ),
    ),
    Decision(
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
        options=(
            Option(
                "redis",
                "one service for cache, rate limits, sessions and jobs; simplest to run",
                _reversal(Cost.LOW, "a URL change plus draining the old queue"),
            ),
            Option(
                "rabbitmq",
                "many job types with routing, strict acknowledgements, or jobs that must "
                "survive a Redis flush",
                _reversal(Cost.LOW, "a URL change plus draining the old queue"),
            ),
        ),
        refused={
            "memcached": (
                "memcached is a cache, never a broker: it evicts keys under memory pressure "
                "and has no acknowledgements, so jobs would vanish. Choose broker: redis or "
                "broker: rabbitmq"
            ),
        },
    ),
    Decision(
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
                _reversal(
                    Cost.MEDIUM,
                    "the cache client is behind one module; TTLs and invalidation rules carry over",
                ),
            ),
            Option(
                "memcached",
                "a pure, multi-threaded LRU cache for many small objects",
                _reversal(Cost.MEDIUM, "the cache client is behind one module"),
            ),
            Option(
                "redis+memcached",
                "two layers as at Instagram: memcached for wide query caching, Redis for hot "
                "structured data",
                _reversal(Cost.MEDIUM, "each layer is behind its own client; one can be dropped"),
            ),
            Option(
                "none",
                "no read path is hot yet; every read goes to the database",
                _reversal(
                    Cost.MEDIUM,
                    "adding a cache later changes how every endpoint thinks about freshness",
                ),
            ),
        ),
    ),
    Decision(
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
        options=(
            Option(
                "prometheus",
                "latency histograms (p50/p95/p99), queue depth and cache hit rates on /metrics",
                _reversal(Cost.LOW, "add it later, but the history before that is lost"),
            ),
            Option(
                "sentry",
                "errors with stack traces and context, grouped and alerted",
                _reversal(Cost.LOW, "add it later, but the history before that is lost"),
            ),
            Option(
                "opentelemetry",
                "distributed traces across services and queues (OTLP to any backend)",
                _reversal(Cost.LOW, "add it later, but the history before that is lost"),
            ),
        ),
    ),
    Decision(
        key="load_tests",
        title="Load tests",
        question="Which load tests ship with the project (Locust is always included)?",
        context=(
            "Simulate at least twice the projected peak before launch: finding the "
            "bottleneck with live users is the most expensive way to find it."
        ),
        kind=Kind.CHOICE,
        default="locust+k6",
        options=(
            Option(
                "locust",
                "Python load tests with a p95 and error-rate gate for CI",
                _reversal(Cost.LOW, "load tests sit beside the code"),
            ),
            Option(
                "locust+k6",
                "also a k6 script with thresholds, for teams that already run k6",
                _reversal(Cost.LOW, "load tests sit beside the code"),
            ),
        ),
    ),
    Decision(
        key="deploy",
        title="Deployment",
        question="Which deployment manifests (Docker Compose is always included)?",
        context=(
            "Stateless web and worker processes behind a load balancer scale by adding "
            "replicas; the manifests encode probes, autoscaling and the PgBouncer tier."
        ),
        kind=Kind.CHOICE,
        default="compose+kubernetes",
        options=(
            Option(
                "compose",
                "a single host or a PaaS that runs containers",
                _reversal(Cost.LOW, "manifests are generated from the same sizing"),
            ),
            Option(
                "compose+kubernetes",
                "kustomize base and production overlay: probes, HPA, PodDisruptionBudget, "
                "PgBouncer as its own Deployment",
                _reversal(Cost.LOW, "manifests are generated from the same sizing"),
            ),
        ),
    ),
    Decision(
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
                _reversal(Cost.LOW, "one workflow file to port"),
            ),
            Option(
                "gitlab",
                "the code lives on GitLab",
                _reversal(Cost.LOW, "one pipeline file to port"),
            ),
            Option(
                "none",
                "CI is provided elsewhere",
                _reversal(Cost.LOW, "the make targets are what CI calls"),
            ),
        ),
    ),
    Decision(
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
        reversal=_reversal(Cost.HIGH, "untangling modules that grew into each other takes months"),
    ),
    Decision(
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
        reversal=_reversal(Cost.LOW, "add it later, but by then the boundaries have decayed"),
    ),
    Decision(
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
        reversal=_reversal(
            Cost.LOW, "sizing is configuration; re-run scalekit plan and change the numbers"
        ),
    ),
    Decision(
        key="peak_rps",
        title="Peak requests per second",
        question="Expected peak requests per second (0 = estimate from target users)?",
        context="A measured or projected peak beats the estimate from the user count.",
        kind=Kind.INTEGER,
        default=0,
        minimum=0,
        maximum=10_000_000,
        reversal=_reversal(Cost.LOW, "sizing is configuration"),
    ),
)

DECISIONS: Mapping[str, Decision] = {decision.key: decision for decision in DECISION_LIST}

# Decision records are numbered in catalog order, ADR style: a number never changes meaning.
RECORD_NUMBERS: Mapping[str, int] = {
    decision.key: number
    for number, decision in enumerate((d for d in DECISION_LIST if d.recorded), start=1)
}

REQUIREMENTS: tuple[Requirement, ...] = (
    Requirement(
        "queue",
        "taskiq",
        "concurrency",
        ("async",),
        "Taskiq runs async functions and its worker reuses the async services",
    ),
    Requirement(
        "queue",
        "taskiq",
        "framework",
        ("fastapi",),
        "the Django template wires Celery, Dramatiq or RQ, which fit Django's sync ORM",
    ),
    Requirement(
        "queue",
        "rq",
        "concurrency",
        ("sync",),
        "RQ forks a work-horse per job and would start a new event loop for every async job",
    ),
    Requirement(
        "broker",
        "rabbitmq",
        "queue",
        ("celery", "dramatiq"),
        "RQ keeps its jobs in Redis only, and the Taskiq worker is wired to a Redis stream "
        "(acknowledged, claimable after a crash)",
    ),
)

CONSEQUENCES: tuple[Consequence, ...] = (
    Consequence(
        {"pooling": ("pgbouncer-transaction",)},
        "PgBouncer transaction mode: no session state through the pooler (no SET, session "
        "advisory locks or LISTEN); role settings via ALTER ROLE; migrations connect to "
        "PostgreSQL directly (DATABASE_MIGRATIONS_URL).",
    ),
    Consequence(
        {
            "framework": ("fastapi",),
            "concurrency": ("async",),
            "pooling": ("pgbouncer-transaction", "pgbouncer-session"),
        },
        "asyncpg >= 0.32 with statement_cache_size=0, so no named prepared statements cross "
        "PgBouncer.",
    ),
    Consequence(
        {
            "framework": ("fastapi",),
            "concurrency": ("sync",),
            "pooling": ("pgbouncer-transaction", "pgbouncer-session"),
        },
        "psycopg 3 with prepare_threshold=None, so no named prepared statements cross PgBouncer.",
    ),
    Consequence(
        {"framework": ("fastapi",), "concurrency": ("sync",)},
        "The thread pool that runs sync endpoints is capped at the database pool's capacity, "
        "so a request can never wait for a connection held by a blocked thread.",
    ),
    Consequence(
        {"framework": ("django",), "pooling": ("pgbouncer-transaction",)},
        "Django: DISABLE_SERVER_SIDE_CURSORS=True, since QuerySet.iterator() would otherwise "
        "open a cursor that the next transaction, on another server connection, cannot see.",
    ),
    Consequence(
        {"framework": ("django",), "pooling": ("pgbouncer-transaction", "pgbouncer-session")},
        "Django: prepared statements stay off (Django's psycopg default, "
        "prepare_threshold=None) and connection health checks are on.",
    ),
    Consequence(
        {
            "framework": ("django",),
            "concurrency": ("sync",),
            "pooling": ("pgbouncer-transaction", "pgbouncer-session"),
        },
        "Django sync: CONN_MAX_AGE=60, one client connection to PgBouncer per gunicorn thread, "
        "kept across requests, and no OPTIONS['pool'], which would only queue the threads in "
        "front of PgBouncer. In transaction mode an idle client holds no server connection, "
        "and reconnecting on every request (CONN_MAX_AGE=0) made a database read 1.7 times "
        "slower in our measurements (a scram-sha-256 login, about 4 ms, per request).",
    ),
    Consequence(
        {
            "framework": ("django",),
            "concurrency": ("async",),
            "pooling": ("pgbouncer-transaction", "pgbouncer-session"),
        },
        "Django async: psycopg's pool in each process (OPTIONS['pool'], sized in "
        "docs/capacity.md) in front of PgBouncer, with CONN_MAX_AGE=0 as the pool requires. "
        "Under ASGI a request's ORM work runs on a thread of its own, so a kept connection "
        "would leak with it (Django ticket #33497) and, without the pool, every request logs "
        "in to PgBouncer anew. A request holds its connection to its end, so the pool caps a "
        "process's concurrent database work; PgBouncer still shares the server connections.",
    ),
    Consequence(
        {"framework": ("django",), "pooling": ("app-pool-only",)},
        "Django: psycopg's pool per process (OPTIONS['pool'], sized in docs/capacity.md) with "
        "CONN_MAX_AGE=0, which the pool requires; PostgreSQL's max_connections must cover "
        "every process's pool.",
    ),
    Consequence(
        {"framework": ("django",), "concurrency": ("async",)},
        "Django async: ASGI under uvicorn workers; views await the ORM through sync_to_async "
        "or the async ORM API.",
    ),
    Consequence(
        {"queue": ("celery",), "broker": ("redis",)},
        "Celery on Redis: acks_late, reject_on_worker_lost, prefetch 1 and a visibility "
        "timeout longer than the longest task; the Redis instance must not evict keys.",
    ),
    Consequence(
        {"cache": ("none", "memcached")},
        "Redis still runs: the rate limiter and sessions live there.",
    ),
)


# --------------------------------------------------------------------------- rule queries


def _applicable_only(answers: Answers) -> dict[str, Any]:
    """Answers with the decisions that do not apply (broker without a queue) blanked."""
    trial = dict(answers)
    for decision in DECISION_LIST:
        if decision.key in trial and not decision.applies_to(trial):
            trial[decision.key] = None
    return trial


def _conflicts(key: str, value: Any, answers: Answers) -> list[Requirement]:
    trial = _applicable_only({**answers, key: value})
    return [
        rule for rule in REQUIREMENTS if key in (rule.key, rule.other) and rule.violated_by(trial)
    ]


def conflicts(key: str, value: Any, answers: Answers) -> list[str]:
    """Messages for every rule that `key: value` would break, given the other answers."""
    trial = {**answers, key: value}
    return [rule.message(trial) for rule in _conflicts(key, value, answers)]


def rule_violations(answers: Answers) -> list[tuple[Requirement, str]]:
    """Every broken rule among complete answers, with its message."""
    return [(rule, rule.message(answers)) for rule in REQUIREMENTS if rule.violated_by(answers)]


def consequences_for(answers: Answers) -> list[str]:
    return [c.note for c in CONSEQUENCES if c.holds_for(answers)]


def fitting_default(key: str, answers: Answers) -> Any:
    """The default for `key`, or the first option that breaks no rule with `answers`.

    `--set queue=rq --yes` should get concurrency: sync (the only fit), not a refusal of a
    default the user never chose.
    """
    decision = DECISIONS[key]
    default = decision.default_for(answers)
    if decision.kind is not Kind.CHOICE or not _conflicts(key, default, answers):
        return default
    fitting = allowed_values(key, answers)
    return fitting[0] if fitting else default


def allowed_values(key: str, answers: Answers) -> tuple[str, ...]:
    """The options of `key` that break no rule given the other answers."""
    return tuple(v for v in DECISIONS[key].values if not _conflicts(key, v, answers))
