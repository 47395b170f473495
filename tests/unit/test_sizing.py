"""The capacity model: invariants over the whole input space, and worked examples."""

from __future__ import annotations

import dataclasses
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalekit_gen.catalog import DECISIONS
from scalekit_gen.paths import template_dir
from scalekit_gen.sizing import (
    DEFAULT_ASSUMPTIONS,
    FORMULAS,
    Assumptions,
    Sizing,
    estimate_peak_rps,
    size,
    web_processes_per_pod,
    worker_concurrency,
    worker_pod_cpu_m,
    worker_processes_per_pod,
)

FIELDS = {f.name for f in dataclasses.fields(Sizing)}
SETTINGS = settings(max_examples=300, deadline=None)


def _bounds(key: str) -> st.SearchStrategy[int]:
    decision = DECISIONS[key]
    return st.integers(min_value=decision.minimum, max_value=decision.maximum)


inputs = st.fixed_dictionaries(
    {
        "concurrency": st.sampled_from(DECISIONS["concurrency"].values),
        "pooling": st.sampled_from(DECISIONS["pooling"].values),
        "queue": st.sampled_from(DECISIONS["queue"].values),
        "target_users": _bounds("target_users"),
        "peak_rps": st.one_of(st.just(0), _bounds("peak_rps")),
        "read_replicas": _bounds("read_replicas"),
    }
)


def test_hypothesis_bounds_match_the_brief():
    assert (DECISIONS["target_users"].minimum, DECISIONS["target_users"].maximum) == (1, 10**9)
    assert (DECISIONS["peak_rps"].minimum, DECISIONS["peak_rps"].maximum) == (0, 10**7)
    assert (DECISIONS["read_replicas"].minimum, DECISIONS["read_replicas"].maximum) == (0, 15)


# --------------------------------------------------------------------------- invariants


@SETTINGS
@given(inputs)
def test_postgres_never_runs_out_of_connections(args):
    s = size(**args)
    assert s.server_connections + s.postgres_reserved_connections <= s.postgres_max_connections
    assert s.postgres_max_connections >= 100
    assert s.postgres_max_connections % 10 == 0
    assert s.postgres_reserved_connections == DEFAULT_ASSUMPTIONS.postgres_reserved


@SETTINGS
@given(inputs)
def test_pgbouncer_accepts_every_client(args):
    s = size(**args)
    if args["pooling"] == "app-pool-only":
        assert s.pgbouncer_replicas == 0
        assert s.pgbouncer_max_client_conn == 0
        assert s.server_connections == s.client_connections
    else:
        assert s.pgbouncer_replicas >= 2
        assert s.pgbouncer_max_client_conn >= s.client_connections
        assert s.pgbouncer_max_client_conn % 50 == 0
        assert s.pgbouncer_default_pool_size >= 1
        assert s.pgbouncer_reserve_pool_size >= 0
        if args["pooling"] == "pgbouncer-session":
            # every client pins a server connection
            assert s.server_connections >= s.client_connections


@SETTINGS
@given(inputs)
def test_autoscaling_bounds(args):
    s = size(**args)
    assert 2 <= s.hpa_min_replicas <= s.hpa_max_replicas
    assert s.hpa_min_replicas >= DEFAULT_ASSUMPTIONS.min_replicas


@SETTINGS
@given(inputs)
def test_pools_and_threads(args):
    s = size(**args)
    assert s.db_pool_size >= 1
    assert 4 <= s.db_pool_size <= 20
    assert s.db_max_overflow >= 1
    if args["concurrency"] == "async":
        assert s.web_threads_per_process == 1
    else:
        assert s.web_threads_per_process == s.db_pool_size + s.db_max_overflow
    assert s.web_processes_per_pod >= 1
    assert s.web_pod_memory_mib == (
        s.web_processes_per_pod * DEFAULT_ASSUMPTIONS.memory_mib_per_process
    )


@SETTINGS
@given(inputs)
def test_workers_exist_iff_there_is_a_queue(args):
    s = size(**args)
    if args["queue"] == "none":
        assert s.worker_replicas == 0
        assert s.worker_concurrency == 0
    else:
        assert s.worker_replicas >= 1
        assert s.worker_concurrency >= 1


@SETTINGS
@given(inputs)
def test_the_worker_pod_is_sized_from_its_own_processes_and_jobs(args):
    s = size(**args)
    if args["queue"] == "none":
        assert (s.worker_processes_per_pod, s.worker_pod_cpu_m, s.worker_pod_memory_mib) == (
            0,
            0,
            0,
        )
        return
    a = DEFAULT_ASSUMPTIONS
    # One job per process (celery, rq) or every job in one process (dramatiq, taskiq).
    assert s.worker_processes_per_pod in (1, s.worker_concurrency)
    # Never more CPU than its processes can use (one core each), never less than 0.1 vCPU.
    assert 100 <= s.worker_pod_cpu_m <= max(100, 1000 * s.worker_processes_per_pod)
    assert s.worker_pod_cpu_m % 100 == 0
    assert s.worker_pod_memory_mib == (
        s.worker_processes_per_pod * a.memory_mib_per_process + a.worker_parent_memory_mib
    )


@pytest.mark.parametrize(
    ("queue", "concurrency", "processes", "cpu_m", "memory_mib"),
    [
        # 4 processes x 1 job, 10 % CPU each (50 ms of 500 ms): 0.4 vCPU; 4 x 512 + 128 MiB.
        ("celery", "sync", 4, 400, 2176),
        ("celery", "async", 4, 400, 2176),
        ("rq", "sync", 4, 400, 2176),
        ("dramatiq", "sync", 1, 400, 640),
        # 16 coroutines x 10 % = 1.6 vCPU of work, but one process uses one core at most.
        ("dramatiq", "async", 1, 1000, 640),
        ("taskiq", "async", 1, 1000, 640),
    ],
)
def test_worker_pod_examples(queue, concurrency, processes, cpu_m, memory_mib):
    s = size(
        concurrency=concurrency, pooling="pgbouncer-transaction", queue=queue, target_users=10_000
    )
    assert (s.worker_processes_per_pod, s.worker_pod_cpu_m, s.worker_pod_memory_mib) == (
        processes,
        cpu_m,
        memory_mib,
    )
    # Less CPU than the web pod it used to copy, for every queue with the default assumptions.
    assert s.worker_pod_cpu_m < 1000 * s.web_pod_cpu


def test_worker_pod_cpu_follows_the_jobs_cpu_share():
    heavy = Assumptions(cpu_ms_per_job=250.0)  # half of each job on the CPU
    assert worker_processes_per_pod("celery", heavy) == 4
    assert worker_pod_cpu_m(4, 4, heavy) == 2000
    assert worker_pod_cpu_m(1, 16, heavy) == 1000  # one process: one core
    assert worker_pod_cpu_m(4, 4, Assumptions(cpu_ms_per_job=1.0)) == 100  # the floor


@SETTINGS
@given(inputs)
def test_peak_and_design_rps(args):
    s = size(**args)
    if args["peak_rps"] > 0:
        assert s.peak_rps == args["peak_rps"]
        assert s.peak_rps_estimated is False
    else:
        assert s.peak_rps == estimate_peak_rps(args["target_users"])
        assert s.peak_rps_estimated is True
    assert s.peak_rps >= 1
    assert s.design_rps >= s.peak_rps


@SETTINGS
@given(inputs, st.integers(min_value=0, max_value=10**9))
def test_more_users_never_means_fewer_pods(args, extra):
    more = min(args["target_users"] + extra, DECISIONS["target_users"].maximum)
    estimated = {**args, "peak_rps": 0}
    fewer_users = size(**estimated)
    more_users = size(**{**estimated, "target_users": more})
    assert more_users.hpa_max_replicas >= fewer_users.hpa_max_replicas
    assert more_users.peak_rps >= fewer_users.peak_rps


@SETTINGS
@given(inputs)
def test_given_peak_overrides_the_user_estimate(args):
    peak = max(args["peak_rps"], 1)
    a = size(**{**args, "peak_rps": peak, "target_users": 1})
    b = size(**{**args, "peak_rps": peak, "target_users": DECISIONS["target_users"].maximum})
    assert a == b


@SETTINGS
@given(inputs)
def test_sizing_serialises_to_plain_values(args):
    data = size(**args).as_dict()
    assert set(data) == FIELDS
    assert isinstance(data["warnings"], list)
    for key, value in data.items():
        if key not in ("warnings", "peak_rps_estimated"):
            assert isinstance(value, int) and not isinstance(value, bool), key
            assert value >= 0, key


@SETTINGS
@given(inputs)
def test_the_autoscaler_can_always_scale_out(args):
    s = size(**args)
    assert s.hpa_max_replicas >= 2 * s.hpa_min_replicas


@SETTINGS
@given(inputs)
def test_pgbouncer_limits_sit_above_postgresqls(args):
    """PostgreSQL's own timeouts fire first (a clean error on one statement); PgBouncer's
    are the backstop, for a role that lacks the settings."""
    s = size(**args)
    assert s.pgbouncer_query_timeout_s * 1000 > s.db_statement_timeout_ms
    assert s.pgbouncer_idle_transaction_timeout_s * 1000 > s.db_idle_in_transaction_timeout_ms
    assert s.db_idle_in_transaction_timeout_ms > s.db_statement_timeout_ms


@SETTINGS
@given(inputs)
def test_a_request_outlives_its_statements_and_shutdown_outlives_a_request(args):
    """A statement at its limit fails cleanly (503) before the request's own deadline; a
    graceful shutdown waits for a request that runs to its deadline."""
    s = size(**args)
    assert s.request_timeout_s * 1000 > s.db_statement_timeout_ms
    # A request waiting on PgBouncer for a server connection gets its error (a 503) in time.
    assert s.pgbouncer_query_wait_timeout_s < s.request_timeout_s
    assert s.db_pool_timeout_s < s.request_timeout_s
    assert s.server_graceful_timeout_s >= s.request_timeout_s


def test_the_read_your_writes_window_is_the_replica_lag_assumed():
    """A client's reads stay on the primary for as long as a replica may lag behind it."""
    args = {"concurrency": "async", "pooling": "pgbouncer-transaction", "queue": "taskiq"}
    lagging = Assumptions(replica_lag_s=30)
    assert size(**args, target_users=1_000, read_replicas=1).read_your_writes_s == 5
    assert size(**args, target_users=1_000, assumptions=lagging).read_your_writes_s == 30


def test_a_replica_further_behind_than_the_window_is_taken_out_of_rotation():
    """Past the window a client reads a replica again: one lagging more would hide its write."""
    args = {"concurrency": "async", "pooling": "pgbouncer-transaction", "queue": "taskiq"}
    for lag in (1, 5, 30):
        s = size(**args, target_users=1_000, assumptions=Assumptions(replica_lag_s=lag))
        assert s.replica_max_lag_s == s.read_your_writes_s == lag
    s = size(**args, target_users=1_000)
    # Measured more often than a replica may lag, and retried when down, but not every request.
    assert s.replica_check_interval_s < s.replica_max_lag_s < s.replica_retry_s
    assert s.replica_connect_timeout_s < s.db_pool_timeout_s


# --------------------------------------------------------------------------- worked examples


def test_ten_thousand_users_async_transaction():
    s = size(
        concurrency="async", pooling="pgbouncer-transaction", queue="taskiq", target_users=10_000
    )
    assert s.as_dict() == {
        "peak_rps": 200,
        "peak_rps_estimated": True,
        "design_rps": 400,
        "web_processes_per_pod": 2,
        "web_threads_per_process": 1,
        "web_pod_cpu": 2,
        "web_pod_memory_mib": 1024,
        "hpa_min_replicas": 2,
        "hpa_max_replicas": 4,
        "db_pool_size": 4,
        "db_max_overflow": 2,
        "worker_concurrency": 16,
        "worker_replicas": 1,
        "worker_processes_per_pod": 1,
        "worker_pod_cpu_m": 1000,
        "worker_pod_memory_mib": 640,
        "client_connections": 64,
        "pgbouncer_replicas": 2,
        "pgbouncer_max_client_conn": 100,
        "pgbouncer_default_pool_size": 11,
        "pgbouncer_reserve_pool_size": 3,
        "server_connections": 28,
        "postgres_max_connections": 100,
        "postgres_reserved_connections": 10,
        "server_keepalive_s": 5,
        "server_graceful_timeout_s": 30,
        "server_timeout_s": 30,
        "db_statement_timeout_ms": 5000,
        "db_idle_in_transaction_timeout_ms": 10000,
        "db_migration_lock_timeout_ms": 5000,
        "db_migration_wait_s": 600,
        "process_memory_mib": 512,
        "pgbouncer_query_timeout_s": 10,
        "pgbouncer_idle_transaction_timeout_s": 15,
        "db_pool_timeout_s": 5,
        "db_connect_timeout_s": 5,
        "db_keepalives_idle_s": 10,
        "db_keepalives_interval_s": 5,
        "db_keepalives_count": 3,
        "pgbouncer_query_wait_timeout_s": 5,
        "pgbouncer_server_login_retry_s": 1,
        "request_timeout_s": 10,
        "read_your_writes_s": 5,
        "replica_max_lag_s": 5,
        "replica_connect_timeout_s": 2,
        "replica_check_interval_s": 2,
        "replica_retry_s": 10,
        "warnings": [],
    }


def test_million_users_sync_without_pgbouncer_warns():
    s = size(
        concurrency="sync",
        pooling="app-pool-only",
        queue="celery",
        target_users=1_000_000,
        read_replicas=1,
    )
    assert (s.peak_rps, s.design_rps) == (20_000, 40_000)
    assert (s.web_processes_per_pod, s.web_threads_per_process) == (5, 6)
    assert (s.hpa_min_replicas, s.hpa_max_replicas) == (25, 100)
    assert (s.db_pool_size, s.db_max_overflow) == (4, 2)
    assert (s.worker_concurrency, s.worker_replicas) == (4, 250)
    # 100 pods × 5 processes × 6 connections × (primary + 1 replica) + 250 workers × 4
    assert s.client_connections == 7_000
    assert s.server_connections == 7_000
    assert s.postgres_max_connections == 7_010
    assert len(s.warnings) == 2
    assert "max_connections=7010" in s.warnings[0]
    assert "put PgBouncer in transaction mode" in s.warnings[0]
    assert s.warnings[1].startswith("100 web pods at 40000 design RPS")


def test_given_peak_with_session_pooling():
    s = size(
        concurrency="sync",
        pooling="pgbouncer-session",
        queue="celery",
        target_users=10,
        peak_rps=1_000,
    )
    assert (s.peak_rps, s.peak_rps_estimated, s.design_rps) == (1_000, False, 2_000)
    assert (s.hpa_min_replicas, s.hpa_max_replicas) == (2, 5)
    assert s.worker_replicas == 13
    assert s.client_connections == 202
    assert s.pgbouncer_max_client_conn == 300
    assert (s.pgbouncer_default_pool_size, s.pgbouncer_reserve_pool_size) == (101, 0)
    assert s.server_connections == 202
    assert s.postgres_max_connections == 220
    assert s.warnings == ()


def test_transaction_mode_with_a_big_primary_suggests_replicas():
    s = size(
        concurrency="async",
        pooling="pgbouncer-transaction",
        queue="taskiq",
        target_users=1,
        peak_rps=200_000,
    )
    assert s.postgres_max_connections > 500
    assert "add read replicas" in s.warnings[0]


@pytest.mark.parametrize(
    ("users", "peak"), [(1, 1), (49, 1), (50, 1), (51, 2), (10_000, 200), (10**9, 20_000_000)]
)
def test_estimate_peak_rps(users, peak):
    assert estimate_peak_rps(users) == peak


@pytest.mark.parametrize(("concurrency", "processes"), [("async", 2), ("sync", 5)])
def test_web_processes_per_pod(concurrency, processes):
    assert web_processes_per_pod(concurrency) == processes


@pytest.mark.parametrize(
    ("queue", "concurrency", "jobs"),
    [
        ("none", "async", 0),
        ("taskiq", "async", 16),
        ("dramatiq", "async", 16),
        ("dramatiq", "sync", 4),
        ("celery", "async", 4),
        ("rq", "sync", 4),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_worker_concurrency(queue, concurrency, jobs):
    assert worker_concurrency(queue, concurrency) == jobs


def test_assumptions_change_the_numbers():
    args = {
        "concurrency": "async",
        "pooling": "pgbouncer-transaction",
        "queue": "taskiq",
        "target_users": 10_000,
    }
    doubled = size(**args, assumptions=Assumptions(active_share=0.2))
    assert doubled.peak_rps == 2 * size(**args).peak_rps
    assert size(**args, assumptions=Assumptions(cpu_per_pod=4)).web_pod_cpu == 4


# --------------------------------------------------------------------------- documentation


def test_formulas_are_documented():
    assert FORMULAS
    for what, formula in FORMULAS:
        assert what.strip() and formula.strip()
    assert len({what for what, _ in FORMULAS}) == len(FORMULAS)


def test_formulas_name_real_assumptions():
    assumption_names = {f.name for f in dataclasses.fields(Assumptions)}
    text = " ".join(formula for _, formula in FORMULAS)
    named = {word for word in re.findall(r"[a-z]+(?:_[a-z]+)+", text)}
    assert named, "formulas name no assumptions"
    settings_named = {
        "max_client_conn",
        "default_pool_size",
        "reserve_pool_size",
        "max_connections",
        "max_overflow",
    }
    assert named <= assumption_names | settings_named | set(DECISIONS)


def _sizing_fields_used_in_templates() -> set[tuple[str, str]]:
    used = set()
    for path in template_dir().rglob("*"):
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        aliases = set(re.findall(r"set\s+(\w+)\s*=\s*plan\.sizing\b", text))
        patterns = [r"\bsizing\.(\w+)"] + [rf"(?<![\w.]){re.escape(a)}\.(\w+)" for a in aliases]
        for pattern in patterns:
            used |= {(path.name, name) for name in re.findall(pattern, text)}
    return used


def test_every_sizing_field_used_in_docs_exists():
    used = _sizing_fields_used_in_templates()
    assert any(name == "capacity.md.jinja" for name, _ in used), "capacity.md reads no sizing"
    unknown = sorted((file, name) for file, name in used if name not in FIELDS)
    assert unknown == []


def test_every_sizing_field_reaches_the_project_docs():
    used = {name for _, name in _sizing_fields_used_in_templates()}
    assert FIELDS - used == set()
