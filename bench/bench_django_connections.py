"""Django behind PgBouncer in transaction mode: what keeping client connections to PgBouncer buys.

- `--concurrency sync` (gunicorn gthread): CONN_MAX_AGE=0 (log in to PgBouncer on every
  request) against the default 60 (each thread keeps its client connection);
- `--concurrency async` (uvicorn workers): DB_POOL_SIZE=0 (no pool: every request logs in to
  PgBouncer) against the default psycopg pool in each process.

Renders the django-platform preset (with `--concurrency`) into a temp dir, starts private
PostgreSQL, PgBouncer (transaction mode, scram-sha-256) and Redis (scalekit_gen.harness),
runs `make install` and `make migrate`, seeds items through the API, then for
each round boots `make run` once per setting, in an interleaved order, and measures on
GET /api/v1/<module>/items?limit=20 (a database read; list pages are not cached):

- sequential latency: one client, one request at a time, on a keep-alive connection;
- throughput: `--clients` threads, each on its own keep-alive connection, for `--seconds`.

Latencies are pooled over the rounds (median, p90); req/s is the median of the rounds. The
ratios are against the baseline (no connection kept) measured in the same rounds. Needs what
the integration tests need (scripts/ensure-system-deps; a warm uv cache makes `make install` quick).

    .venv/bin/python bench/bench_django_connections.py --rounds 5
    .venv/bin/python bench/bench_django_connections.py --rounds 5 --concurrency async
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the test harness lives in tests/, beside src/

from scalekit_gen.harness import PgBouncer, Postgres, Redis  # noqa: E402
from scalekit_gen.harness.project import ProjectEnv, Server  # noqa: E402
from scalekit_gen.render import render_project  # noqa: E402
from tests.integration.generated import INSTALL_TIMEOUT, blueprint  # noqa: E402

PRESET = "django-platform"
#: Per concurrency: the environment variable, and its value in the baseline (no connection
#: kept) and in the project's default (None: left unset).
KNOBS = {"sync": ("DB_CONN_MAX_AGE", "0", "60"), "async": ("DB_POOL_SIZE", "0", None)}
REQUEST_TIMEOUT = 30.0
#: `make run` runs collectstatic, then gunicorn: on a busy machine that can take a while.
START_TIMEOUT = 180.0


class Client:
    """One keep-alive HTTP/1.1 connection to the server, reopened after any failure."""

    def __init__(self, server: Server) -> None:
        self.host, self.port = server.host, server.port
        self.conn: http.client.HTTPConnection | None = None

    def get(self, path: str) -> bool:
        """GET `path`; whether it answered 200 with a JSON list."""
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, REQUEST_TIMEOUT)
            self.conn.request("GET", path)
            response = self.conn.getresponse()
            body = response.read()
            if response.getheader("Connection", "").lower() == "close":
                self.close()
            return response.status == 200 and isinstance(json.loads(body), list)
        except (OSError, http.client.HTTPException, ValueError):
            self.close()
            return False

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


@dataclass
class Samples:
    latencies: list[float] = field(default_factory=list)  # seconds, sequential
    sequential_errors: int = 0
    throughput: list[float] = field(default_factory=list)  # req/s, one per round
    load_errors: int = 0
    clients_held: list[int] = field(default_factory=list)  # PgBouncer clients after load


def sequential(server: Server, path: str, requests: int, samples: Samples) -> None:
    client = Client(server)
    try:
        for _ in range(requests):
            started = time.perf_counter()
            ok = client.get(path)
            elapsed = time.perf_counter() - started
            if ok:
                samples.latencies.append(elapsed)
            else:
                samples.sequential_errors += 1
    finally:
        client.close()


def load(server: Server, path: str, clients: int, seconds: float) -> tuple[float, int]:
    """`clients` threads, released together, each GETting `path` in a loop for `seconds`;
    (successful requests per second, failed requests)."""
    lock = threading.Lock()
    counts = {"ok": 0, "error": 0}
    start = threading.Barrier(clients + 1)

    def run() -> None:
        client = Client(server)
        ok = error = 0
        start.wait()
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            if client.get(path):
                ok += 1
            else:
                error += 1
        client.close()
        with lock:
            counts["ok"] += ok
            counts["error"] += error

    threads = [threading.Thread(target=run, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join(seconds + REQUEST_TIMEOUT + 10)
    elapsed = time.perf_counter() - started
    return counts["ok"] / elapsed, counts["error"]


def app_clients(pgbouncer: PgBouncer, database: str) -> int:
    """Client connections PgBouncer holds for the project's database."""
    return sum(1 for row in pgbouncer.show("CLIENTS") if row.get("database") == database)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def setting_env(knob: str, value: str | None) -> dict[str, str]:
    return {} if value is None else {knob: value}


def setting_label(knob: str, value: str | None) -> str:
    return f"{knob}={value}" if value is not None else f"{knob} unset (the default)"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--concurrency", choices=sorted(KNOBS), default="sync")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=200, help="sequential GETs per run")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client threads")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of the load phase")
    parser.add_argument("--items", type=int, default=50, help="items seeded through the API")
    parser.add_argument("--workers", type=int, default=2, help="WEB_CONCURRENCY (processes)")
    parser.add_argument("--pool-size", type=int, default=4, help="PgBouncer default_pool_size")
    args = parser.parse_args()

    knob, *values = KNOBS[args.concurrency]
    baseline = setting_label(knob, values[0])
    settings = {setting_label(knob, value): setting_env(knob, value) for value in values}
    samples = {label: Samples() for label in settings}
    with (
        tempfile.TemporaryDirectory(prefix="scalekit-bench-") as tmp,
        Postgres(max_connections=50) as postgres,
        PgBouncer(postgres, default_pool_size=args.pool_size, max_client_conn=200) as pgbouncer,
        Redis() as redis,
        ProjectEnv(postgres, pgbouncer, redis, web_concurrency=args.workers) as penv,
    ):
        project = blueprint(PRESET, concurrency=args.concurrency)
        module = project["modules"][0]
        items = f"/api/v1/{module}/items"
        path = f"{items}?limit=20"
        root = render_project(project, Path(tmp) / "shop", git=False).destination
        project_python = subprocess.run(
            [penv.env["UV_PYTHON"], "-c", "import platform; print(platform.python_version())"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        print(f"rendered {PRESET} into {root}; make install …", file=sys.stderr, flush=True)
        penv.make(root, "install", timeout=INSTALL_TIMEOUT)
        penv.make(root, "migrate")
        with penv.server(root, start_timeout=START_TIMEOUT) as server:
            for n in range(args.items):
                body = {"name": f"item {n}", "price_cents": 100 + n}
                status = server.post(items, json=body).status
                if status != 201:
                    server.fail(f"answered {status} to POST {items}")

        for round_number in range(args.rounds):
            order = list(settings)
            if round_number % 2:
                order.reverse()  # interleave so drift in machine load hits both settings
            for label in order:
                print(
                    f"round {round_number + 1}/{args.rounds}: {label}", file=sys.stderr, flush=True
                )
                env = {**penv.env, **settings[label]}
                with Server(root, env, start_timeout=START_TIMEOUT) as server:
                    # Warm up: imports, the first connections, every thread once.
                    sequential(server, path, 20, Samples())
                    load(server, path, args.clients, 1.0)
                    sequential(server, path, args.requests, samples[label])
                    rate, errors = load(server, path, args.clients, args.seconds)
                    samples[label].throughput.append(rate)
                    samples[label].load_errors += errors
                    samples[label].clients_held.append(app_clients(pgbouncer, penv.database))

    server_kind = (
        "gunicorn gthread" if args.concurrency == "sync" else "gunicorn uvicorn workers (ASGI)"
    )
    print(
        f"rounds: {args.rounds}, {args.requests} sequential GETs and {args.seconds:g} s of "
        f"{args.clients} concurrent clients per round and setting; {server_kind}, "
        f"{args.workers} processes; PgBouncer pool {args.pool_size} (transaction mode); "
        f"project on Python {project_python}\n"
    )
    print_table(samples, baseline, args.clients)


def print_table(samples: dict[str, Samples], baseline: str, clients: int) -> None:
    base = samples[baseline]
    base_median = statistics.median(base.latencies)
    base_rate = statistics.median(base.throughput)
    print(
        f"| setting | median ms | p90 ms | vs baseline | req/s ({clients} clients) "
        "| vs baseline | errors | PgBouncer clients held |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for label, got in samples.items():
        if not got.latencies:
            print(f"| {label} | – | – | – | – | – | all failed | – |")
            continue
        median = statistics.median(got.latencies)
        p90 = percentile(got.latencies, 0.9)
        rate = statistics.median(got.throughput)
        errors = got.sequential_errors + got.load_errors
        held = f"{min(got.clients_held)}–{max(got.clients_held)}"
        shown = f"{label} (baseline)" if label == baseline else label
        print(
            f"| {shown} | {median * 1000:.1f} | {p90 * 1000:.1f} | ×{median / base_median:.2f} "
            f"| {rate:.0f} | ×{rate / base_rate:.2f} | {errors} | {held} |"
        )


if __name__ == "__main__":
    main()
