"""What each part of a generated FastAPI service costs on its hot path, one part off at a time.

    .venv/bin/python -m bench.ablate                        # fastapi-async, 5 s per point
    .venv/bin/python -m bench.ablate --service fastapi-sync

Renders, installs, migrates and seeds the service as bench.services does, then boots it once
per variant through a wrapper module (`bench_ablate.py`, written into the project) that
switches parts off by monkeypatching before the app is built, and measures /healthz and the
20-row list read at 64 connections with wrk. The baseline (nothing off) runs first and last:
the spread between those two runs is the noise floor of the machine at the time.

Parts (ABLATE, comma-separated):
- `preping`: the pool's pre-ping (`pool_pre_ping=False`);
- `autocommit`: no BEGIN/COMMIT round trips (`isolation_level="AUTOCOMMIT"`);
- `orm`: the list read as Core rows instead of ORM entities (same columns, same SQL);
- `session`: the list read on a Core connection from the engine instead of through the
  request's session (no ORM execution path, no unit of work; the same query and schemas);
- `response_model`: FastAPI's second validation of the returned ItemRead list;
- `requestlog`: the per-request log line (structlog through stdlib logging, JSON);
- any middleware class name (`RequestLimitsMiddleware`, `PrometheusMiddleware`, …): not added;
- `gc`: the cyclic garbage collector (`gc.disable()`: what its collections cost, not a fix);
- `telemetry`: FastAPI's native OpenTelemetry hook, which looks up the global providers on
  every request (`FastAPI(telemetry=...)`);
- `gc_freeze` (an addition, not a part off): `gc.freeze()` once the app is built;
- `NAME=value`: a setting of the service's environment instead (`DB_POOL_SIZE=16`).

`--only` runs the baseline and the given variants (`--only preping --only DB_POOL_SIZE=16`),
each a comma-separated list of parts.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import services, wrk
from bench.services import LIST_PATH, RESULTS, Bench, log
from scalekit_gen.harness.project import ProjectEnv, Server
from scalekit_gen.harness.services import free_port
from scalekit_gen.render import render_project
from tests.integration.generated import INSTALL_TIMEOUT, blueprint

PACKAGE = "shop"  # blueprint() names the project Shop
MIDDLEWARES = (
    "RequestLimitsMiddleware",
    "PrometheusMiddleware",
    "RequestIdMiddleware",
    "SecurityHeadersMiddleware",
    "TrustedHostMiddleware",
    "ProxyHeadersMiddleware",
)
VARIANTS: tuple[tuple[str, ...], ...] = (
    (),
    ("preping",),
    ("autocommit",),
    ("orm",),
    ("response_model",),
    ("requestlog",),
    *((m,) for m in MIDDLEWARES),
    MIDDLEWARES,
    ("preping", "autocommit", "orm", "response_model", *MIDDLEWARES),
    (),
)

WRAPPER = '''"""The generated app with parts off (bench/ablate.py; ABLATE, comma-separated)."""
import gc
import os

import fastapi
from fastapi.routing import APIRoute
from sqlalchemy import select
from starlette.routing import request_response

import {pkg}.core.db as db
import {pkg}.core.logging as request_logging
from {pkg}.catalog import repository, service
from {pkg}.catalog.models import Item
from {pkg}.main import create_app as _create_app

ABLATE = set(filter(None, os.environ.get("ABLATE", "").split(",")))
ASYNC = hasattr(db, "create_async_engine")
_engine = db.create_async_engine if ASYNC else db.create_engine


def _engine_without(*args, **kwargs):
    if "preping" in ABLATE:
        kwargs["pool_pre_ping"] = False
    if "autocommit" in ABLATE:
        kwargs["isolation_level"] = "AUTOCOMMIT"
    return _engine(*args, **kwargs)


if ASYNC:
    db.create_async_engine = _engine_without
else:
    db.create_engine = _engine_without

_add_middleware = fastapi.FastAPI.add_middleware


def _add_middleware_unless_ablated(self, cls, *args, **kwargs):
    if cls.__name__ not in ABLATE:
        _add_middleware(self, cls, *args, **kwargs)


fastapi.FastAPI.add_middleware = _add_middleware_unless_ablated


class _Quiet:
    def info(self, *args, **kwargs):
        pass


if "requestlog" in ABLATE:
    request_logging.log = _Quiet()


def _rows_query(name, limit, offset):
    query = (
        select(*Item.__table__.c)
        .where(Item.deleted_at.is_(None))
        .order_by(Item.created_at.desc(), Item.id)
        .limit(limit)
        .offset(offset)
    )
    return query if name is None else query.where(Item.name == name)


if "orm" in ABLATE and ASYNC:
    async def _list_rows(session, *, name, limit, offset):
        return (await session.execute(_rows_query(name, limit, offset))).all()

    repository.list_items = _list_rows
elif "orm" in ABLATE:
    def _list_rows(session, *, name, limit, offset):
        return session.execute(_rows_query(name, limit, offset)).all()

    repository.list_items = _list_rows


if "session" in ABLATE and ASYNC:
    async def _item_list_core(*, session, name=None, limit=50, offset=0):
        async with session.bind.connect() as conn:
            rows = (await conn.execute(_rows_query(name, limit, offset))).all()
        return [service.ItemRead.model_validate(row) for row in rows]

    service.item_list = _item_list_core
elif "session" in ABLATE:
    def _item_list_core(*, session, name=None, limit=50, offset=0):
        with session.bind.connect() as conn:
            rows = conn.execute(_rows_query(name, limit, offset)).all()
        return [service.ItemRead.model_validate(row) for row in rows]

    service.item_list = _item_list_core


def create_app():
    app = _create_app()
    if "gc_freeze" in ABLATE:  # not a part switched off: a candidate fix, measured alike
        gc.collect()
        gc.freeze()
    if "gc" in ABLATE:  # the cyclic collector off: what all its collections cost
        gc.disable()
    if "telemetry" in ABLATE:  # FastAPI's native OpenTelemetry hook (a check per request)
        app._telemetry.update(tracing=False, metrics=False, logs=False)
    if "response_model" in ABLATE:
        for route in app.router.routes:
            if isinstance(route, APIRoute) and route.response_field is not None:
                route.response_field = None
                route.secure_cloned_response_field = None
                route.app = request_response(route.get_route_handler())
    return app
'''


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--service", choices=["fastapi-async", "fastapi-sync"], default="fastapi-async"
    )
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--only", action="append", default=[], help="variants to run")
    args = parser.parse_args()
    bench_args = services.parse_args(["--seconds", str(args.seconds), "--sweep", "64"])
    svc = next(s for s in services.SERVICES if s.name == args.service)
    bench = Bench(bench_args, wrk.ensure(RESULTS / "wrk-install.log"))
    started = datetime.now(UTC)
    out = RESULTS / f"ablate-{svc.name}-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    rows: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory(prefix="scalekit-ablate-") as tmp,
        services.infrastructure(bench_args) as (postgres, pgbouncer, redis),
        ProjectEnv(
            postgres,
            pgbouncer,
            redis,
            web_concurrency=svc.processes,
            extra={"RATE_LIMIT_WRITES": services.UNREACHED_RATE_LIMIT},
        ) as penv,
    ):
        root = render_project(blueprint(svc.preset), Path(tmp) / "shop", git=False).destination
        log(f"{svc.name}: rendered into {root}; make install, make migrate")
        penv.make(root, "install", timeout=INSTALL_TIMEOUT)
        penv.make(root, "migrate", timeout=300)
        (root / "bench_ablate.py").write_text(WRAPPER.format(pkg=PACKAGE))
        variants = VARIANTS
        if args.only:
            variants = ((), *(tuple(v.split(",")) for v in args.only), ())
        for variant in variants:
            port = free_port()
            argv = [
                "sh", "-c",
                f"export PROMETHEUS_MULTIPROC_DIR=$(mktemp -d); exec .venv/bin/uvicorn "
                f"bench_ablate:create_app --factory --host 127.0.0.1 --port {port} "
                f"--workers {svc.processes} --timeout-keep-alive 5 --no-access-log "
                "--no-proxy-headers",
            ]  # fmt: skip
            # NAME=value parts are settings of the service, the others parts to switch off.
            settings = dict(part.split("=", 1) for part in variant if "=" in part)
            off = [part for part in variant if "=" not in part]
            env = {**penv.env, **settings, "ABLATE": ",".join(off)}
            with Server(root, env, argv, port=port, start_timeout=120) as server:
                if not rows:
                    services.seed(server)
                else:
                    services.check(server, LIST_PATH, 200)
                bench.warm(server.base_url + LIST_PATH)
                label = "-" + ",-".join(variant) if variant else "(nothing off)"
                before = len(bench.points)
                bench.measure(server, label, "generated", "healthz", "/healthz", 64)
                bench.measure(server, label, "generated", "list", LIST_PATH, 64)
                health, listed = (p["result"] for p in bench.points[before:])
                rows.append({"off": list(variant), "healthz": health, "list": listed})
            out.write_text(json.dumps({"service": svc.name, "rows": rows}, indent=1) + "\n")
    print(table(rows))
    log(f"results: {out}")


def table(rows: list[dict[str, Any]]) -> str:
    """Each variant against the mean of the baseline runs (first and last): req/s, and the
    server's CPU ms per request, which a shared machine disturbs far less."""
    base = [r for r in rows if not r["off"]]

    def mean(endpoint: str, key: str) -> float:
        return sum(float(r[endpoint][key]) for r in base) / len(base)

    lines = [
        "| off | /healthz req/s | CPU ms/req | ÷ baseline | list req/s | CPU ms/req "
        "| ÷ baseline | list p99 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        cells = [", ".join(r["off"]) or "nothing (baseline)"]
        for endpoint in ("healthz", "list"):
            got = r[endpoint]
            cpu = float(got["cpu_ms_per_request"] or 0)
            cells += [
                f"{got['rps']:,.0f}",
                f"{cpu:.2f}",
                f"×{cpu / mean(endpoint, 'cpu_ms_per_request'):.2f}",
            ]
        cells.append(f"{r['list']['p99_ms']:.0f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
