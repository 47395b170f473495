"""Capacity model: from a target scale to worker counts, pool sizes and connection limits.

Every number written into a generated project (gunicorn/uvicorn workers, SQLAlchemy pools,
PgBouncer and PostgreSQL limits, worker concurrency, HPA bounds) comes from `size()`, and the
formulas below are rendered verbatim into the project's `docs/capacity.md`.

The invariant the model keeps, whatever the input: the server connections PostgreSQL can be
asked for (through PgBouncer or straight from the app pools) plus the connections reserved for
migrations and administration never exceed `max_connections`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Assumptions:
    """The stated assumptions behind every number; change them, re-run, get new numbers."""

    active_share: float = 0.10  # share of target users active at the peak
    requests_per_active_user_s: float = 0.2  # one request every five seconds while active
    headroom: float = 2.0  # size for twice the peak, as the load-test rule says
    cpu_per_pod: int = 2  # vCPUs a web pod requests
    cpu_ms_per_request: float = 5.0  # Python CPU per request: routing, ORM, serialisation
    latency_ms: float = 50.0  # mean wall time of a request, database waits included
    db_ms_per_request: float = 10.0  # time a request holds a server connection (transactions)
    job_share: float = 0.05  # share of requests that enqueue a background job
    job_seconds: float = 0.5  # mean run time of a job
    cpu_ms_per_job: float = 50.0  # Python CPU per job; the rest of its run waits on I/O
    memory_mib_per_process: int = 512  # recycle a worker past this (Instagram's cap)
    worker_parent_memory_mib: int = 128  # the worker's supervisor: no jobs, only bookkeeping
    min_replicas: int = 2  # two pods, so a PodDisruptionBudget can always keep one
    pgbouncer_rps: int = 10_000  # requests per second one single-threaded PgBouncer carries
    postgres_reserved: int = 10  # superuser_reserved_connections, migrations, admin, metrics
    statement_timeout_ms: int = 5000  # the longest one SQL statement of the app may run
    migration_wait_s: int = 600  # how long a migrate waits for one already running to finish
    # The replication delay a read replica may reach before it is taken out of rotation
    # (alert on it): streaming replicas run milliseconds behind, seconds under a write burst.
    replica_lag_s: int = 5
    # How long a read waits to connect to a replica before it reads the primary instead: a
    # replica on the same network answers in milliseconds; libpq and psycopg wait 2 s at least.
    replica_connect_timeout_s: int = 2


DEFAULT_ASSUMPTIONS = Assumptions()

# (what, formula) — rendered into docs/capacity.md of every generated project.
FORMULAS: tuple[tuple[str, str], ...] = (
    ("peak RPS (when not given)", "target_users × active_share × requests_per_active_user_s"),
    ("design RPS", "peak RPS × headroom"),
    ("RPS one web pod carries", "cpu_per_pod × 1000 / cpu_ms_per_request"),
    (
        "web processes per pod",
        "async: cpu_per_pod (one event loop per core); sync: 2 × cpu_per_pod + 1 (gunicorn's rule)",
    ),
    ("HPA min replicas", "max(min_replicas, ⌈peak RPS / 2 / RPS per pod⌉)"),
    ("HPA max replicas", "max(2 × HPA min, ⌈design RPS / RPS per pod⌉)"),
    ("in-flight requests per process", "⌈design RPS × latency / (HPA max × processes per pod)⌉"),
    ("DB pool per process", "clamp(in-flight per process, 4, 20), max_overflow = ⌈pool / 2⌉"),
    ("sync threads per process", "pool + max_overflow (a thread never waits for a connection)"),
    ("jobs in flight", "design RPS × job_share × job_seconds"),
    ("worker replicas", "max(1, ⌈jobs in flight / worker concurrency⌉)"),
    (
        "worker processes per pod",
        "celery, rq: worker concurrency (one job per process); dramatiq, taskiq: 1 "
        "(threads or coroutines share it)",
    ),
    (
        "worker pod CPU",
        "min(worker processes, worker concurrency × cpu_ms_per_job / (job_seconds × 1000)) "
        "vCPU, rounded up to 0.1 (a process uses at most one core)",
    ),
    (
        "worker pod memory",
        "worker processes × memory_mib_per_process + worker_parent_memory_mib",
    ),
    (
        "client connections",
        "HPA max × processes × (pool + overflow) × (1 + read replicas) + "
        "worker replicas × worker concurrency (one pool per database)",
    ),
    ("PgBouncer replicas", "max(2, ⌈design RPS / pgbouncer_rps⌉)"),
    ("PgBouncer max_client_conn", "max(100, client connections × 1.25, rounded up to 50)"),
    (
        "PgBouncer default_pool_size (transaction)",
        "clamp(⌈(design RPS × db_ms_per_request + jobs in flight) × 1.5 / PgBouncer replicas⌉, "
        "10, 100), reserve_pool_size = ⌈pool / 4⌉",
    ),
    (
        "server connections",
        "transaction: PgBouncer replicas × (pool + reserve); session and "
        "app-pool-only: client connections",
    ),
    (
        "PostgreSQL max_connections",
        "max(100, server connections + postgres_reserved, rounded up to 10)",
    ),
    (
        "app role's statement_timeout / idle_in_transaction_session_timeout",
        "statement_timeout_ms / 2 × statement_timeout_ms",
    ),
    (
        "PgBouncer query_timeout / idle_transaction_timeout (backstops)",
        "⌈statement_timeout_ms / 1000⌉ + 5 s / ⌈2 × statement_timeout_ms / 1000⌉ + 5 s",
    ),
    ("migrations' lock_timeout (statement_timeout off)", "statement_timeout_ms"),
    ("a migrate's wait for one already running (advisory lock)", "migration_wait_s"),
    (
        "a request's wait for a connection (the app's pool)",
        "⌈statement_timeout_ms / 1000⌉ s, then 503: below the request's own time",
    ),
    (
        "PgBouncer query_wait_timeout / server_login_retry",
        "⌈statement_timeout_ms / 1000⌉ s (a database down or saturated answers 503 within "
        "the request's time, not a queue) / 1 s (back in a second once the database is)",
    ),
    (
        "a connect's wait / a dead peer noticed (libpq, psycopg; asyncpg: the connect only)",
        "⌈statement_timeout_ms / 1000⌉ s (a PgBouncer or database gone fails the connect, "
        "not TCP's 2 minutes) / keepalives after 10 s idle, every 5 s, 3 unanswered: 25 s",
    ),
    (
        "request timeout (async servers)",
        "2 × ⌈statement_timeout_ms / 1000⌉ s (a statement at its limit, then the rest)",
    ),
    (
        "read-your-writes window (read replicas)",
        "replica_lag_s: a client's reads go to the primary this long after its last write",
    ),
    (
        "a read replica out of rotation",
        "replay lag > replica_lag_s (measured every 2 s), or unreachable within "
        "replica_connect_timeout_s (tried again after 10 s): its reads go to the primary",
    ),
)


@dataclass(frozen=True)
class Sizing:
    peak_rps: int
    peak_rps_estimated: bool
    design_rps: int
    web_processes_per_pod: int
    web_threads_per_process: int  # 1 for async; sync servers get a thread per DB connection
    web_pod_cpu: int
    web_pod_memory_mib: int
    hpa_min_replicas: int
    hpa_max_replicas: int
    db_pool_size: int
    db_max_overflow: int
    worker_concurrency: int
    worker_replicas: int
    worker_processes_per_pod: int
    worker_pod_cpu_m: int  # millicores
    worker_pod_memory_mib: int
    client_connections: int
    pgbouncer_replicas: int
    pgbouncer_max_client_conn: int
    pgbouncer_default_pool_size: int
    pgbouncer_reserve_pool_size: int
    server_connections: int
    postgres_max_connections: int
    postgres_reserved_connections: int
    server_keepalive_s: int
    server_graceful_timeout_s: int
    server_timeout_s: int
    db_statement_timeout_ms: int
    db_idle_in_transaction_timeout_ms: int
    db_migration_lock_timeout_ms: int
    db_migration_wait_s: int
    process_memory_mib: int
    pgbouncer_query_timeout_s: int
    pgbouncer_idle_transaction_timeout_s: int
    db_pool_timeout_s: int
    db_connect_timeout_s: int
    db_keepalives_idle_s: int
    db_keepalives_interval_s: int
    db_keepalives_count: int
    pgbouncer_query_wait_timeout_s: int
    pgbouncer_server_login_retry_s: int
    request_timeout_s: int
    read_your_writes_s: int
    replica_max_lag_s: int
    replica_connect_timeout_s: int
    replica_check_interval_s: int
    replica_retry_s: int
    warnings: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["warnings"] = list(self.warnings)
        return data


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


def _round_up(value: float, step: int) -> int:
    return int(math.ceil(value / step) * step)


def estimate_peak_rps(target_users: int, a: Assumptions = DEFAULT_ASSUMPTIONS) -> int:
    return max(1, math.ceil(target_users * a.active_share * a.requests_per_active_user_s))


def web_processes_per_pod(concurrency: str, a: Assumptions = DEFAULT_ASSUMPTIONS) -> int:
    return a.cpu_per_pod if concurrency == "async" else 2 * a.cpu_per_pod + 1


def worker_concurrency(queue: str, concurrency: str, a: Assumptions = DEFAULT_ASSUMPTIONS) -> int:
    """Jobs one worker pod runs at once: coroutines for taskiq, processes/threads otherwise."""
    if queue == "none":
        return 0
    if queue == "taskiq" or (concurrency == "async" and queue == "dramatiq"):
        return 16
    return 2 * a.cpu_per_pod  # jobs wait on I/O, so two per core


def worker_processes_per_pod(queue: str, a: Assumptions = DEFAULT_ASSUMPTIONS) -> int:
    """celery's prefork pool and rq's pool run one job per process; dramatiq (threads) and
    taskiq (coroutines) run all of a pod's jobs in one process."""
    if queue == "none":
        return 0
    if queue in ("celery", "rq"):
        return worker_concurrency(queue, "sync", a)
    return 1


def worker_pod_cpu_m(processes: int, concurrency: int, a: Assumptions = DEFAULT_ASSUMPTIONS) -> int:
    """Millicores for `concurrency` busy jobs, each on the CPU cpu_ms_per_job of its
    job_seconds, but no more than the pod's processes can use (one core each: the GIL)."""
    if processes == 0:
        return 0
    cores = min(processes, concurrency * a.cpu_ms_per_job / (a.job_seconds * 1000))
    return max(100, _round_up(cores * 1000, 100))


def size(
    *,
    concurrency: str,
    pooling: str,
    queue: str,
    target_users: int,
    peak_rps: int = 0,
    read_replicas: int = 0,
    assumptions: Assumptions = DEFAULT_ASSUMPTIONS,
) -> Sizing:
    a = assumptions
    peak = peak_rps if peak_rps > 0 else estimate_peak_rps(target_users, a)
    design = math.ceil(peak * a.headroom)
    pod_rps = a.cpu_per_pod * 1000 / a.cpu_ms_per_request

    processes = web_processes_per_pod(concurrency, a)
    hpa_min = max(a.min_replicas, math.ceil(peak / 2 / pod_rps))
    # Room to scale out even at the smallest size: an HPA whose min equals its max is none.
    hpa_max = max(2 * hpa_min, math.ceil(design / pod_rps))

    in_flight = math.ceil(design * a.latency_ms / 1000 / (hpa_max * processes))
    pool = _clamp(in_flight, 4, 20)
    overflow = math.ceil(pool / 2)
    threads = 1 if concurrency == "async" else pool + overflow

    jobs_in_flight = design * a.job_share * a.job_seconds
    per_worker = worker_concurrency(queue, concurrency, a)
    workers = max(1, math.ceil(jobs_in_flight / per_worker)) if per_worker else 0
    worker_processes = worker_processes_per_pod(queue, a)
    worker_memory = (
        worker_processes * a.memory_mib_per_process + a.worker_parent_memory_mib
        if worker_processes
        else 0
    )

    # Each web process keeps one pool per database it reads from: the primary and every
    # replica. Replicas run the same limits as the primary (a hot standby must allow at
    # least the primary's max_connections), so one invariant covers every server.
    clients = hpa_max * processes * (pool + overflow) * (1 + read_replicas)
    clients += workers * per_worker

    if pooling == "app-pool-only":
        bouncers, max_client, bouncer_pool, reserve = 0, 0, 0, 0
        server = clients
    else:
        bouncers = max(2, math.ceil(design / a.pgbouncer_rps))
        max_client = max(100, _round_up(clients * 1.25, 50))
        if pooling == "pgbouncer-transaction":
            busy = design * a.db_ms_per_request / 1000 + jobs_in_flight
            bouncer_pool = _clamp(math.ceil(busy * 1.5 / bouncers), 10, 100)
            reserve = math.ceil(bouncer_pool / 4)
            server = bouncers * (bouncer_pool + reserve)
        else:  # session mode: every client connection pins a server connection
            bouncer_pool, reserve = math.ceil(clients / bouncers), 0
            server = bouncers * bouncer_pool

    max_connections = max(100, _round_up(server + a.postgres_reserved, 10))
    # PostgreSQL bounds the app's statements and idle transactions (role settings); PgBouncer's
    # own limits sit a little above them, a backstop for a role that lacks the settings.
    idle_in_transaction_ms = 2 * a.statement_timeout_ms
    statement_s = math.ceil(a.statement_timeout_ms / 1000)  # whole seconds, rounded up
    return Sizing(
        peak_rps=peak,
        peak_rps_estimated=peak_rps <= 0,
        design_rps=design,
        web_processes_per_pod=processes,
        web_threads_per_process=threads,
        web_pod_cpu=a.cpu_per_pod,
        web_pod_memory_mib=processes * a.memory_mib_per_process,
        hpa_min_replicas=hpa_min,
        hpa_max_replicas=hpa_max,
        db_pool_size=pool,
        db_max_overflow=overflow,
        worker_concurrency=per_worker,
        worker_replicas=workers,
        worker_processes_per_pod=worker_processes,
        worker_pod_cpu_m=worker_pod_cpu_m(worker_processes, per_worker, a),
        worker_pod_memory_mib=worker_memory,
        client_connections=clients,
        pgbouncer_replicas=bouncers,
        pgbouncer_max_client_conn=max_client,
        pgbouncer_default_pool_size=bouncer_pool,
        pgbouncer_reserve_pool_size=reserve,
        server_connections=server,
        postgres_max_connections=max_connections,
        postgres_reserved_connections=a.postgres_reserved,
        server_keepalive_s=5,
        server_graceful_timeout_s=30,
        server_timeout_s=30,
        db_statement_timeout_ms=a.statement_timeout_ms,
        db_idle_in_transaction_timeout_ms=idle_in_transaction_ms,
        db_migration_lock_timeout_ms=a.statement_timeout_ms,
        db_migration_wait_s=a.migration_wait_s,
        process_memory_mib=a.memory_mib_per_process,
        pgbouncer_query_timeout_s=statement_s + 5,
        pgbouncer_idle_transaction_timeout_s=math.ceil(idle_in_transaction_ms / 1000) + 5,
        db_pool_timeout_s=statement_s,
        db_connect_timeout_s=statement_s,
        # A pooled or kept connection whose peer vanished (a PgBouncer pod gone, a failover)
        # fails within idle + interval × count s instead of waiting for TCP to give up.
        db_keepalives_idle_s=10,
        db_keepalives_interval_s=5,
        db_keepalives_count=3,
        pgbouncer_query_wait_timeout_s=statement_s,
        pgbouncer_server_login_retry_s=1,
        request_timeout_s=2 * statement_s,
        read_your_writes_s=a.replica_lag_s,
        # A replica further behind than the window would break read-your-writes for a client
        # whose window has just closed.
        replica_max_lag_s=a.replica_lag_s,
        replica_connect_timeout_s=a.replica_connect_timeout_s,
        replica_check_interval_s=2,
        replica_retry_s=10,
        warnings=_warnings(pooling, design, hpa_max, max_connections, a),
    )


def _warnings(
    pooling: str, design: int, hpa_max: int, max_connections: int, a: Assumptions
) -> tuple[str, ...]:
    notes: list[str] = []
    if max_connections > 500:
        fix = (
            "put PgBouncer in transaction mode in front of it"
            if pooling != "pgbouncer-transaction"
            else "add read replicas and move reads there before the primary saturates"
        )
        notes.append(
            f"PostgreSQL would need max_connections={max_connections}; every backend costs "
            f"memory and CPU, and above a few hundred the primary degrades — {fix}."
        )
    if hpa_max > 50:
        notes.append(
            f"{hpa_max} web pods at {design} design RPS: cache hot reads and measure the real "
            f"CPU cost per request (assumed {a.cpu_ms_per_request:g} ms) before buying that "
            "much compute."
        )
    return tuple(notes)
