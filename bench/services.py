"""Generated services under load, side by side with their baselines, in one run.

    .venv/bin/python -m bench.services                    # all four, 5 s per point
    .venv/bin/python -m bench.services --services fastapi-async --seconds 10 --write-docs

For each service (fastapi-async, fastapi-sync, Django sync = django-platform, Django async =
django-platform with concurrency=async): renders the preset, `make install` (the shared uv
cache), `make migrate` (the migrations' role, straight to PostgreSQL), boots `make run` as the
generated README says (production settings, the sized WEB_CONCURRENCY), DATABASE_URL through
PgBouncer in transaction mode, seeds 30 items through the API; then drives wrk on loopback:

- generated: GET /healthz, a cached item read (GET /api/v1/catalog/items/<id>, served from
  Redis after the first), the uncached list read (GET …/items?limit=20, 20 rows) and a
  write (POST …/items: the services have no authentication yet, so an ordinary write; the
  write rate limiter runs, with a limit wrk never reaches), at 64 connections; the list read
  over the connection sweep (1, 16, 64, 256, 1024);
- bare (bench/apps.py): the same framework with one /healthz route, same server and process
  count: GET /healthz at 64 connections;
- core (bench/apps.py, FastAPI only): the framework plus SQLAlchemy Core doing the same read
  with the generated pool size: the list read over the sweep;
- limit (bench/apps.py): a hand-written endpoint doing the same 20-row read with the same
  driver through the same PgBouncer, same server and process count: the list read over the
  sweep.

Writes every point as JSON to bench/results/services-<UTC time>.json, prints the ratio tables
(bench/report.py) and, with --write-docs, puts them into docs/performance.md. wrk is installed
when missing (bench/wrk.py). Needs what the integration tests need (scripts/ensure-system-deps).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import apps, report, wrk
from scalekit_gen.harness import PgBouncer, Postgres, Redis
from scalekit_gen.harness.project import ProjectEnv, Server
from scalekit_gen.harness.services import free_port
from scalekit_gen.render import render_project
from scalekit_gen.sizing import web_processes_per_pod
from tests.integration.generated import INSTALL_TIMEOUT, blueprint

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DOCS = ROOT / "docs" / "performance.md"
DOCS_START = "<!-- bench.services: start -->"
DOCS_END = "<!-- bench.services: end -->"
MODULE = "catalog"
ITEMS = f"/api/v1/{MODULE}/items"
LIST_PATH = f"{ITEMS}?limit=20"
SEED_ITEMS = 30
#: `make run` collects static files first (Django); on a busy machine that takes a while.
START_TIMEOUT = 240.0
WARMUP_S = 2.0
SETTLE_TIMEOUT_S = 120.0
#: Writes per rate-limit window far above what wrk sends: the limiter runs (its Redis
#: round trip is part of a write's cost) and never answers 429.
UNREACHED_RATE_LIMIT = "100000000"
WRITE_BODY = json.dumps({"name": "bench item", "description": "written by wrk", "price_cents": 1})


@dataclass(frozen=True)
class Service:
    name: str
    preset: str
    framework: str
    concurrency: str
    answers: Mapping[str, str] = field(default_factory=dict)

    @property
    def processes(self) -> int:
        """The sized WEB_CONCURRENCY of a pod (scalekit_gen.sizing), as the README says."""
        return web_processes_per_pod(self.concurrency)


SERVICES = (
    Service("fastapi-async", "fastapi-async", "fastapi", "async"),
    Service("fastapi-sync", "fastapi-sync", "fastapi", "sync"),
    Service("django-sync", "django-platform", "django", "sync"),
    Service("django-async", "django-platform", "django", "async", {"concurrency": "async"}),
)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def rss_mib(pids: Sequence[int]) -> list[float]:
    """Resident memory of each live pid, MiB (/proc/<pid>/status VmRSS)."""
    sizes = []
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        if found:
            sizes.append(int(found.group(1)) / 1024)
    return sizes


def stat_cpu_seconds(stat: str, ticks_per_second: float) -> float:
    """utime + stime of one /proc/<pid>/stat line, in seconds. The command name (field 2)
    may hold spaces and parentheses: the fields are counted after its last ')'."""
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / ticks_per_second


def cpu_seconds(pids: Sequence[int]) -> float:
    """CPU time the live `pids` have used so far (a pid gone since counts 0)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            total += stat_cpu_seconds(Path(f"/proc/{pid}/stat").read_text(), ticks)
        except (OSError, ValueError, IndexError):
            continue
    return total


def server_pids(server: Server) -> list[int]:
    """The server's Python processes (make and sh left out): the master and its workers."""
    pids = []
    for pid in server.pids():
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"python" in cmdline[0]:  # uvicorn and gunicorn run as `python <script>`
            pids.append(pid)
    return pids


def gunicorn_threads(root: Path) -> int:
    """WEB_THREADS' default in the rendered gunicorn_conf.py (Django sync), else 1."""
    conf = next(root.glob("src/*/gunicorn_conf.py"), None)
    found = conf and re.search(r'WEB_THREADS", "(\d+)"', conf.read_text())
    return int(found.group(1)) if found else 1


class Bench:
    def __init__(self, args: argparse.Namespace, wrk_path: str) -> None:
        self.args = args
        self.wrk = wrk_path
        self.cores = os.cpu_count() or 1
        self.points: list[dict[str, Any]] = []
        self.memory: dict[str, dict[str, list[float]]] = {}

    def measure(
        self,
        server: Server,
        service: str,
        target: str,
        endpoint: str,
        path: str,
        conns: int,
        **kw: str,
    ) -> None:
        """One wrk point, and the CPU time the server's processes spent on it: CPU ms per
        request holds up on a shared machine far better than req/s does."""
        pids = server_pids(server)
        cpu_before = cpu_seconds(pids)
        result = wrk.run(
            self.wrk,
            server.base_url + path,
            connections=conns,
            seconds=self.args.seconds,
            cores=self.cores,
            timeout_s=self.args.wrk_timeout,
            **kw,
        )
        cpu = cpu_seconds(pids) - cpu_before
        cpu_ms = cpu * 1000 / result.requests if result.requests else None
        self.points.append(
            {
                "service": service,
                "target": target,
                "endpoint": endpoint,
                "connections": conns,
                "result": {**result.to_json(), "cpu_ms_per_request": cpu_ms},
            }
        )
        log(
            f"{service} {target} {endpoint} c{conns}: {result.rps:,.0f} req/s, "
            f"p50 {result.p50_ms:.1f} p99 {result.p99_ms:.1f} ms, {result.errors} errors, "
            f"CPU {cpu_ms or 0:.2f} ms/request"
        )

    def warm(self, url: str) -> None:
        """Imports, first connections, every worker: a short load that is not recorded."""
        wrk.run(self.wrk, url, connections=16, seconds=WARMUP_S, cores=self.cores)

    def run_service(self, svc: Service, penv: ProjectEnv, tmp: Path) -> None:
        root = render_project(
            blueprint(svc.preset, **svc.answers), tmp / svc.name.replace("-", "_"), git=False
        ).destination
        log(f"{svc.name}: rendered into {root}; make install, make migrate")
        penv.make(root, "install", timeout=INSTALL_TIMEOUT)
        penv.make(root, "migrate", timeout=300)
        for module, source in apps.sources(svc.framework, svc.concurrency).items():
            (root / f"{module}.py").write_text(source)

        memory = self.memory.setdefault(svc.name, {})
        with penv.server(root, start_timeout=START_TIMEOUT) as server:
            item_id = seed(server)
            base = server.base_url
            self.warm(base + LIST_PATH)
            self.measure(server, svc.name, "generated", "healthz", "/healthz", 64)
            self.measure(server, svc.name, "generated", "item", f"{ITEMS}/{item_id}", 64)
            # Before the list reads, so that the limit (measured later) reads the same table.
            self.measure(
                server, svc.name, "generated", "write", ITEMS, 64, method="POST", body=WRITE_BODY
            )
            for conns in self.args.sweep:
                self.measure(server, svc.name, "generated", "list", LIST_PATH, conns)
                self.points[-1]["settle_s"] = settle(server, LIST_PATH)
            memory["generated"] = rss_mib(server_pids(server))

        threads = gunicorn_threads(root)
        baselines = apps.sources(svc.framework, svc.concurrency)
        for target, module in (
            ("bare", apps.BARE_MODULE),
            ("core", apps.CORE_MODULE),
            ("limit", apps.LIMIT_MODULE),
        ):
            if module not in baselines:
                continue
            port = free_port()
            argv = apps.server_argv(
                svc.framework, svc.concurrency, module, port, svc.processes, threads
            )
            env = {**penv.env, "LIMIT_POOL_SIZE": str(self.args.limit_pool)}
            with Server(root, env, argv, port=port, start_timeout=START_TIMEOUT) as server:
                base = server.base_url
                if target == "bare":
                    self.warm(base + "/healthz")
                    self.measure(server, svc.name, "bare", "healthz", "/healthz", 64)
                else:
                    check(server, "/items", 200)
                    self.warm(base + "/items")
                    if target == "limit":
                        self.measure(server, svc.name, target, "healthz", "/healthz", 64)
                    for conns in self.args.sweep:
                        self.measure(server, svc.name, target, "list", "/items", conns)
                        self.points[-1]["settle_s"] = settle(server, "/items")
                memory[target] = rss_mib(server_pids(server))


def settle(server: Server, path: str) -> float:
    """Wait until `path` answers again: requests wrk gave up on may still be queued in the
    server (threads, pools), and the next point must not inherit them. The seconds waited."""
    started = time.monotonic()
    deadline = started + SETTLE_TIMEOUT_S
    while True:
        try:
            if server.get(path, timeout=SETTLE_TIMEOUT_S).status == 200:
                return time.monotonic() - started
        except AssertionError:  # the harness's ProjectRunError: no answer in time
            pass
        if time.monotonic() > deadline:
            server.fail(f"did not answer GET {path} within {SETTLE_TIMEOUT_S:g} s after a load")


def check(server: Server, path: str, status: int) -> Any:
    response = server.get(path)
    if response.status != status:
        server.fail(f"answered {response.status} to GET {path}: {str(response.body)[:300]}")
    return response.body


def seed(server: Server) -> str:
    """SEED_ITEMS items through the API; each endpoint checked once; an item's id."""
    for n in range(SEED_ITEMS):
        body = {"name": f"item {n}", "description": f"seeded item {n}", "price_cents": 100 + n}
        response = server.post(ITEMS, json=body)
        if response.status != 201:
            server.fail(f"answered {response.status} to POST {ITEMS}: {response.body}")
    items = check(server, LIST_PATH, 200)
    if not isinstance(items, list) or len(items) != 20:
        server.fail(f"GET {LIST_PATH} did not answer 20 items: {str(items)[:300]}")
    item_id = str(items[0]["id"])
    check(server, f"{ITEMS}/{item_id}", 200)
    check(server, "/healthz", 200)
    return item_id


@contextmanager
def infrastructure(args: argparse.Namespace) -> Iterator[tuple[Postgres, PgBouncer, Redis]]:
    with (
        Postgres(max_connections=100) as postgres,
        PgBouncer(
            postgres, default_pool_size=args.pgbouncer_pool, max_client_conn=2000
        ) as pgbouncer,
        Redis() as redis,
    ):
        yield postgres, pgbouncer, redis


def commit() -> str:
    result = subprocess.run(
        ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() or "unknown"


def write_docs(markdown: str, command: str, path: Path = DOCS) -> None:
    """Replace the generated section of docs/performance.md (append it the first time)."""
    text = path.read_text()
    section = f"{DOCS_START}\n```bash\n{command}\n```\n\n{markdown}\n{DOCS_END}"
    if DOCS_START in text:
        head, rest = text.split(DOCS_START, 1)
        text = head + section + rest.split(DOCS_END, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    path.write_text(text)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    names = [s.name for s in SERVICES]
    parser.add_argument("--services", default=",".join(names), help=f"any of {names}")
    parser.add_argument("--seconds", type=float, default=5.0, help="wrk's run per point")
    parser.add_argument("--sweep", default="1,16,64,256,1024", help="connections, list read")
    parser.add_argument("--wrk-timeout", type=float, default=2.0, help="wrk --timeout, s")
    parser.add_argument("--pgbouncer-pool", type=int, default=20, help="default_pool_size")
    parser.add_argument(
        "--limit-pool", type=int, default=6, help="the limit's connections per process"
    )
    parser.add_argument("--write-docs", action="store_true", help="update docs/performance.md")
    args = parser.parse_args(argv)
    args.services = [s.strip() for s in args.services.split(",") if s.strip()]
    unknown = set(args.services) - set(names)
    if unknown:
        parser.error(f"unknown services {sorted(unknown)}; known: {names}")
    args.sweep = [int(c) for c in args.sweep.split(",")]
    if 64 not in args.sweep:
        args.sweep.append(64)
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    command = " ".join([".venv/bin/python -m bench.services", *sys.argv[1:]])
    RESULTS.mkdir(parents=True, exist_ok=True)
    wrk_path = wrk.ensure(RESULTS / "wrk-install.log")
    bench = Bench(args, wrk_path)
    started = datetime.now(UTC)
    meta = {
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "cores": bench.cores,
        "loadavg": " ".join(f"{x:.1f}" for x in os.getloadavg()),
        "seconds": args.seconds,
        "wrk_timeout_s": args.wrk_timeout,
        "connections": 64,
        "sweep": args.sweep,
        "commit": commit(),
        "command": command,
        "processes": {s.name: s.processes for s in SERVICES if s.name in args.services},
        "pgbouncer_pool": args.pgbouncer_pool,
        "limit_pool": args.limit_pool,
    }
    out = RESULTS / f"services-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    with (
        tempfile.TemporaryDirectory(prefix="scalekit-bench-") as tmp,
        infrastructure(args) as (
            postgres,
            pgbouncer,
            redis,
        ),
    ):
        for svc in SERVICES:
            if svc.name not in args.services:
                continue
            extra = {"RATE_LIMIT_WRITES": UNREACHED_RATE_LIMIT}
            with ProjectEnv(
                postgres, pgbouncer, redis, web_concurrency=svc.processes, extra=extra
            ) as penv:
                try:
                    bench.run_service(svc, penv, Path(tmp))
                finally:
                    results = {"meta": meta, "points": bench.points, "memory": bench.memory}
                    out.write_text(json.dumps(results, indent=1) + "\n")
    markdown = report.render(results)
    print(markdown)
    log(f"results: {out}")
    if args.write_docs:
        write_docs(markdown, command)
        log(f"updated {DOCS}")


if __name__ == "__main__":
    main()
