"""A generated project's slow-query report and PgBouncer pool metrics, on real servers.

- `make slow-queries` against a PostgreSQL that loads pg_stat_statements, set up by the
  project's own deploy/postgres/roles.sql (run with psql, as on a managed server): it lists the
  statement that took longest first, with its mean time, calls and rows, read as the
  monitoring role, which may read every role's statistics but no table's rows and writes
  nothing. Without the extension, or on a server that does not load it, it fails and says
  which, rather than printing an empty table.
- PgBouncer's pool metrics come from the pgbouncer-exporter next to each PgBouncer
  (docker-compose.yml, the Kubernetes PgBouncer pod). What it depends on is checked here on a
  real PgBouncer run with the generated pgbouncer.ini's stats_users: its connection string,
  as Compose and Kubernetes give it, logs in to the admin console as the stats user and reads
  `SHOW POOLS` with the columns the exporter turns into gauges, and a client waiting for a
  server shows in cl_waiting and maxwait; the stats user can neither administer PgBouncer nor
  reach PostgreSQL through it. (The exporter binary itself is a container image; this machine
  runs no container engine.)

Rendered once (the SQL, Makefile and manifests do not depend on the framework).
"""

from __future__ import annotations

import configparser
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import psycopg
import pytest
import yaml
from psycopg.rows import dict_row

from scalekit_gen.harness import PgBouncer, Postgres
from scalekit_gen.harness.project import MakeResult, run_make, toolchain_env
from scalekit_gen.render import render_project
from tests.integration.generated import blueprint

pytestmark = pytest.mark.integration

PACKAGE = "shop"
PRELOAD = {"shared_preload_libraries": "pg_stat_statements"}
KUBERNETES_PGBOUNCER = "deploy/kubernetes/base/pgbouncer.yaml"
# Compose's reference to the stats password (Kubernetes' is a secretKeyRef).
PASSWORD_REFERENCE = re.compile(r"\$\{PGBOUNCER_STATS_PASSWORD:\?[^}]*\}")


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = blueprint("fastapi-async")  # PgBouncer, Prometheus, Compose and Kubernetes
    return render_project(
        project, tmp_path_factory.mktemp("pgstats") / "shop", git=False
    ).destination


def _run_roles_sql(root: Path, postgres: Postgres, passwords: dict[str, str]) -> None:
    """deploy/postgres/roles.sql with psql as the superuser, as its header says."""
    env = {
        **toolchain_env(),
        "PGPASSWORD": postgres.passwords[postgres.superuser],
        "DATABASE_APP_PASSWORD": passwords[PACKAGE],
        "DATABASE_MIGRATIONS_PASSWORD": passwords[f"{PACKAGE}_migrations"],
        "DATABASE_MONITORING_PASSWORD": passwords[f"{PACKAGE}_monitoring"],
    }
    done = subprocess.run(
        [
            "psql",
            "--no-psqlrc",
            postgres.url(postgres.superuser, "postgres"),
            "-f",
            str(root / "deploy" / "postgres" / "roles.sql"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _url(postgres: Postgres, user: str, password: str) -> str:
    return (
        f"postgresql://{user}:{quote(password, safe='')}@{postgres.host}:{postgres.port}/{PACKAGE}"
    )


def _slow_queries(root: Path, url: str) -> MakeResult:
    env = {**toolchain_env(), "DATABASE_MONITORING_URL": url}
    return run_make(root, "slow-queries", env, timeout=60, check=False)


@pytest.fixture(scope="module")
def passwords() -> dict[str, str]:
    return {
        role: f"pw-{role}" for role in (PACKAGE, f"{PACKAGE}_migrations", f"{PACKAGE}_monitoring")
    }


@pytest.fixture(scope="module")
def loaded(root: Path, passwords: dict[str, str]) -> Iterator[Postgres]:
    """A PostgreSQL that loads pg_stat_statements, its roles made by the project's roles.sql."""
    with Postgres(max_connections=20, settings=PRELOAD) as postgres:
        _run_roles_sql(root, postgres, passwords)
        _run_roles_sql(root, postgres, passwords)  # a second run changes nothing, fails nothing
        yield postgres


def test_slow_queries_lists_the_costliest_statement_first(
    root: Path, loaded: Postgres, passwords: dict[str, str]
) -> None:
    migrations = f"{PACKAGE}_migrations"
    with psycopg.connect(_url(loaded, migrations, passwords[migrations]), autocommit=True) as c:
        c.execute("CREATE TABLE secrets (id int PRIMARY KEY, value text)")
        c.execute("INSERT INTO secrets VALUES (1, 'hidden')")
        c.execute(f"GRANT SELECT ON secrets TO {PACKAGE}")
    with psycopg.connect(_url(loaded, PACKAGE, passwords[PACKAGE]), autocommit=True) as app:
        for _ in range(3):
            app.execute("SELECT pg_sleep(0.2), 'the slow one' AS marker").fetchall()
        for _ in range(5):
            app.execute("SELECT value FROM secrets WHERE id = 1").fetchall()

    monitoring = f"{PACKAGE}_monitoring"
    result = _slow_queries(root, _url(loaded, monitoring, passwords[monitoring]))
    assert result.returncode == 0, result.output
    lines = [line for line in result.output.splitlines() if "|" in line]
    header = [cell.strip() for cell in lines[0].split("|")]
    assert header == ["total_ms", "mean_ms", "calls", "rows", "pct", "role", "query"], lines[0]
    first = [cell.strip() for cell in lines[1].split("|")]
    assert "pg_sleep" in first[6] and first[5] == PACKAGE, result.output
    assert float(first[0]) >= 600 and float(first[1]) >= 200 and first[2] == "3", first
    assert any("FROM secrets WHERE id" in line for line in lines[2:]), result.output
    assert len(lines) <= 11, result.output
    assert f"| {PACKAGE}_monitoring" not in result.output, "the report lists its own checks"

    # Statistics, not data, and nothing written: the role's limits.
    with psycopg.connect(_url(loaded, monitoring, passwords[monitoring]), autocommit=True) as m:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            m.execute("SELECT value FROM secrets")
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            m.execute("CREATE TEMPORARY TABLE t (id int)")


def test_slow_queries_says_when_the_extension_is_not_installed(
    root: Path, loaded: Postgres, passwords: dict[str, str]
) -> None:
    loaded.execute("DROP EXTENSION pg_stat_statements", db=PACKAGE)
    try:
        monitoring = f"{PACKAGE}_monitoring"
        result = _slow_queries(root, _url(loaded, monitoring, passwords[monitoring]))
    finally:
        loaded.execute("CREATE EXTENSION pg_stat_statements", db=PACKAGE)
    assert result.returncode != 0, result.output
    assert f"pg_stat_statements is not installed in database {PACKAGE}" in result.output
    assert "CREATE EXTENSION pg_stat_statements" in result.output


def test_slow_queries_says_when_the_server_does_not_load_it(
    root: Path, passwords: dict[str, str]
) -> None:
    with Postgres(max_connections=20) as postgres:  # no shared_preload_libraries
        _run_roles_sql(root, postgres, passwords)  # creating the extension still succeeds
        monitoring = f"{PACKAGE}_monitoring"
        result = _slow_queries(root, _url(postgres, monitoring, passwords[monitoring]))
    assert result.returncode != 0, result.output
    assert "pg_stat_statements is installed but the server does not load it" in result.output
    assert "shared_preload_libraries" in result.output


# -- PgBouncer's pools, as the exporter reads them ------------------------------------------


def _stats_user(root: Path) -> str:
    ini = configparser.ConfigParser(comment_prefixes=(";",), inline_comment_prefixes=None)
    ini.read(root / "deploy" / "pgbouncer" / "pgbouncer.ini")
    return ini["pgbouncer"]["stats_users"]


def _exporter_connection_strings(root: Path) -> dict[str, str]:
    """The exporter's connection string in docker-compose.yml and the Kubernetes pod, each
    checked to take the stats password from PGPASSWORD (lib/pq reads it), not the URL."""
    compose = yaml.safe_load((root / "docker-compose.yml").read_text())
    environment = compose["services"]["pgbouncer-exporter"]["environment"]
    assert PASSWORD_REFERENCE.fullmatch(environment["PGPASSWORD"]), environment
    found = {"compose": environment["PGBOUNCER_EXPORTER_CONNECTION_STRING"]}
    for document in yaml.safe_load_all((root / KUBERNETES_PGBOUNCER).read_text()):
        if document["kind"] != "Deployment":
            continue
        for container in document["spec"]["template"]["spec"]["containers"]:
            variables = {variable["name"]: variable for variable in container.get("env", [])}
            if "PGBOUNCER_EXPORTER_CONNECTION_STRING" in variables:
                secret = variables["PGPASSWORD"]["valueFrom"]["secretKeyRef"]
                assert secret["key"] == "PGBOUNCER_STATS_PASSWORD", secret
                found["kubernetes"] = variables["PGBOUNCER_EXPORTER_CONNECTION_STRING"]["value"]
    return found


def test_the_exporter_reads_pool_waits_as_the_stats_user(root: Path) -> None:
    stats_user = _stats_user(root)
    assert stats_user == f"{PACKAGE}_stats"
    stats_password = "pw-stats"
    strings = _exporter_connection_strings(root)
    assert set(strings) == {"compose", "kubernetes"}, strings
    expected_host = {"compose": "pgbouncer", "kubernetes": "127.0.0.1"}
    urls = {}
    for where, string in strings.items():
        # No password in the URL: PGPASSWORD carries it (_exporter_connection_strings).
        parts = urlsplit(string)
        assert (parts.username, parts.password) == (stats_user, None), (where, string)
        assert (parts.hostname, parts.port, parts.path) == (
            expected_host[where],
            6432,
            "/pgbouncer",
        )
        urls[where] = parts

    with (
        Postgres(max_connections=20) as postgres,
        PgBouncer(
            postgres,
            default_pool_size=1,
            users={stats_user: stats_password},
            settings={"stats_users": stats_user, "query_wait_timeout": 10},
        ) as pgbouncer,
    ):
        # The Compose string, pointed at the harness's PgBouncer.
        exporter_url = (
            urls["compose"]
            ._replace(netloc=f"{stats_user}:{stats_password}@{pgbouncer.host}:{pgbouncer.port}")
            .geturl()
        )
        holding = threading.Event()
        release = threading.Event()

        def hold_the_only_server_connection() -> None:
            with pgbouncer.connect() as conn:
                conn.execute("SELECT 1")  # in a transaction until commit
                holding.set()
                release.wait(10)

        def wait_for_a_server() -> None:
            with pgbouncer.connect() as conn:
                conn.execute("SELECT 1")

        holder = threading.Thread(target=hold_the_only_server_connection)
        waiter = threading.Thread(target=wait_for_a_server)
        holder.start()
        try:
            assert holding.wait(10), "no server connection was taken"
            waiter.start()
            pools = _show_pools_until_a_client_waits(exporter_url)
        finally:
            release.set()
            holder.join(10)
            if waiter.is_alive() or waiter.ident is not None:
                waiter.join(15)
        app_pool = next(p for p in pools if p["database"] == postgres.app_db)
        assert app_pool["cl_waiting"] >= 1 and app_pool["sv_active"] == 1, app_pool
        assert "sv_idle" in app_pool and "maxwait" in app_pool, app_pool

        with (
            psycopg.connect(
                exporter_url, autocommit=True, cursor_factory=psycopg.ClientCursor
            ) as c,
            pytest.raises(psycopg.Error, match="admin access needed"),
        ):
            c.execute("RELOAD")
        with pytest.raises(psycopg.OperationalError):  # no PostgreSQL role behind it
            psycopg.connect(pgbouncer.dsn(stats_user, "postgres"), connect_timeout=5).close()


def _show_pools_until_a_client_waits(url: str) -> list[dict[str, int | str]]:
    deadline = time.monotonic() + 10
    with psycopg.connect(
        url,
        autocommit=True,
        cursor_factory=psycopg.ClientCursor,
        row_factory=dict_row,
    ) as conn:
        while True:
            pools = conn.execute("SHOW POOLS").fetchall()
            if any(int(p["cl_waiting"]) >= 1 for p in pools) or time.monotonic() > deadline:
                return pools
            time.sleep(0.1)
