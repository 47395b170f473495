"""The baselines a generated service is measured against, written into its project dir and run
with its own virtualenv (the same framework, server, driver and versions), same process count:

- **bare**: the framework with one route, GET /healthz answering {"status": "ok"} like the
  generated one, and nothing else: no middleware, logging or metrics of ours. What the
  framework itself costs.
- **core** (FastAPI only): the bare framework plus SQLAlchemy Core, the generated list read as
  one route on an engine with the generated pool (4 + 2; no pre-ping; SQLAlchemy's own
  implicit transaction, rolled back when the connection goes back), rows returned as dicts:
  what FastAPI and SQLAlchemy's engine cost before anything of ours (the session, ORM
  entities, schemas, middleware).
- **limit**: no framework, a hand-written endpoint (raw ASGI, or raw WSGI for Django sync)
  doing the generated list read, the 20 newest live rows of `catalog_items` with every column
  ItemRead shows, with the same driver through the same PgBouncer, connections kept (a pool,
  or one per thread), serialised to JSON. What the server and driver leave for a framework.

`server_argv` builds each server's command line the way the generated `make run` does.
"""

from __future__ import annotations

from collections.abc import Sequence

BARE_MODULE = "bench_bare"
LIMIT_MODULE = "bench_limit"
CORE_MODULE = "bench_core"

#: The generated list read (repository.list_items / selectors.item_list), written out.
LIST_SQL = (
    "SELECT id, name, description, price_cents, published_at, created_at, updated_at "
    "FROM catalog_items WHERE deleted_at IS NULL ORDER BY created_at DESC, id LIMIT 20"
)
COLUMNS = ("id", "name", "description", "price_cents", "published_at", "created_at", "updated_at")

_RAW_ASGI = """
HEALTH = b'{"status":"ok"}'
JSON_HEADERS = [(b"content-type", b"application/json")]


async def _send(send, status, body):
    await send({"type": "http.response.start", "status": status, "headers": JSON_HEADERS})
    await send({"type": "http.response.body", "body": body})


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await startup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["path"] == "/healthz":
        await _send(send, 200, HEALTH)
    elif scope["path"] == "/items":
        await _send(send, 200, await read())
    else:
        await _send(send, 404, b"{}")
"""

LIMIT_ASYNCPG = f'''"""The limit: raw ASGI + asyncpg (a pool, statement cache off) + orjson."""
import os

import asyncpg
import orjson

SQL = {LIST_SQL!r}
COLUMNS = {COLUMNS!r}
pool = None


async def startup():
    global pool
    size = int(os.environ.get("LIMIT_POOL_SIZE", "6"))
    pool = await asyncpg.create_pool(
        os.environ["DATABASE_URL"], min_size=size, max_size=size, statement_cache_size=0
    )


async def read():
    async with pool.acquire() as conn:
        rows = await conn.fetch(SQL)
    # asyncpg's own UUID type is no uuid.UUID to orjson: str() it, as pydantic would.
    return orjson.dumps([dict(zip(COLUMNS, row, strict=True)) for row in rows], default=str)
{_RAW_ASGI}'''

LIMIT_PSYCOPG_ASYNC = f'''\
"""The limit: raw ASGI + psycopg async (psycopg_pool, unprepared) + json."""
import json
import os

from psycopg_pool import AsyncConnectionPool

SQL = {LIST_SQL!r}
COLUMNS = {COLUMNS!r}
pool = None


async def startup():
    global pool
    size = int(os.environ.get("LIMIT_POOL_SIZE", "6"))
    pool = AsyncConnectionPool(
        os.environ["DATABASE_URL"], min_size=size, max_size=size,
        kwargs={{"prepare_threshold": None}}, open=False,
    )
    await pool.open(wait=True)


async def read():
    async with pool.connection() as conn:
        cur = await conn.execute(SQL)
        rows = await cur.fetchall()
    return json.dumps([dict(zip(COLUMNS, row, strict=True)) for row in rows], default=str).encode()
{_RAW_ASGI}'''

LIMIT_PSYCOPG_THREADS_ASGI = f'''\
"""The limit: raw ASGI + psycopg sync in a thread pool, a kept connection per
thread (unprepared) + orjson."""
import asyncio
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import orjson
import psycopg

SQL = {LIST_SQL!r}
COLUMNS = {COLUMNS!r}
local = threading.local()
executor = ThreadPoolExecutor(max_workers=int(os.environ.get("LIMIT_POOL_SIZE", "6")))


def _read():
    conn = getattr(local, "conn", None)
    if conn is None:
        conn = local.conn = psycopg.connect(
            os.environ["DATABASE_URL"], prepare_threshold=None, autocommit=True
        )
    rows = conn.execute(SQL).fetchall()
    return orjson.dumps([dict(zip(COLUMNS, row, strict=True)) for row in rows])


async def startup():
    pass


async def read():
    return await asyncio.get_running_loop().run_in_executor(executor, _read)
{_RAW_ASGI}'''

LIMIT_PSYCOPG_WSGI = f'''\
"""The limit: raw WSGI + psycopg sync, a kept connection per thread (unprepared)
+ json."""
import json
import os
import threading

import psycopg

SQL = {LIST_SQL!r}
COLUMNS = {COLUMNS!r}
local = threading.local()


def _read():
    conn = getattr(local, "conn", None)
    if conn is None:
        conn = local.conn = psycopg.connect(
            os.environ["DATABASE_URL"], prepare_threshold=None, autocommit=True
        )
    rows = conn.execute(SQL).fetchall()
    return json.dumps([dict(zip(COLUMNS, row, strict=True)) for row in rows], default=str).encode()


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/healthz":
        status, body = "200 OK", b'{{"status":"ok"}}'
    elif path == "/items":
        status, body = "200 OK", _read()
    else:
        status, body = "404 Not Found", b"{{}}"
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    start_response(status, headers)
    return [body]
'''

BARE_FASTAPI = '''"""Bare FastAPI: one route answering what the generated /healthz answers."""
from fastapi import FastAPI

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
'''

_BARE_DJANGO = '''\
"""Bare Django: one view answering what the generated /healthz does; no middleware."""
from django.conf import settings
from django.http import JsonResponse
from django.urls import path

settings.configure(
    DEBUG=False,
    SECRET_KEY="bench-only-not-secret",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
)

{view}

urlpatterns = [path("healthz", healthz)]

{app}
'''

BARE_DJANGO_SYNC = _BARE_DJANGO.format(
    view='def healthz(request):\n    return JsonResponse({"status": "ok"})',
    app="from django.core.wsgi import get_wsgi_application\n\napp = get_wsgi_application()",
)
BARE_DJANGO_ASYNC = _BARE_DJANGO.format(
    view='async def healthz(request):\n    return JsonResponse({"status": "ok"})',
    app="from django.core.asgi import get_asgi_application\n\napp = get_asgi_application()",
)


_CORE_FASTAPI = '''\
"""FastAPI + SQLAlchemy Core: the list read as one route, the generated pool size."""
import os

from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url

SQL = text({sql!r})
URL = make_url(os.environ["DATABASE_URL"]).set(drivername="postgresql+{driver}")
{engine}

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {{"status": "ok"}}


@app.get("/items")
{route}
'''

CORE_FASTAPI_ASYNC = _CORE_FASTAPI.format(
    sql=LIST_SQL,
    driver="asyncpg",
    engine=(
        "from sqlalchemy.ext.asyncio import create_async_engine\n\n"
        "engine = create_async_engine(\n"
        '    URL, pool_size=4, max_overflow=2, connect_args={"statement_cache_size": 0}\n'
        ")"
    ),
    route=(
        "async def items() -> list[dict[str, object]]:\n"
        "    async with engine.connect() as conn:\n"
        "        rows = (await conn.execute(SQL)).mappings().all()\n"
        "    return [dict(row) for row in rows]"
    ),
)
CORE_FASTAPI_SYNC = _CORE_FASTAPI.format(
    sql=LIST_SQL,
    driver="psycopg",
    engine=(
        "from sqlalchemy import create_engine\n\n"
        "engine = create_engine(\n"
        '    URL, pool_size=4, max_overflow=2, connect_args={"prepare_threshold": None}\n'
        ")"
    ),
    route=(
        "def items() -> list[dict[str, object]]:\n"
        "    with engine.connect() as conn:\n"
        "        rows = conn.execute(SQL).mappings().all()\n"
        "    return [dict(row) for row in rows]"
    ),
)


def uvicorn_argv(app: str, port: int, processes: int) -> list[str]:
    """As the generated FastAPI `make run` (its flags that touch the hot path)."""
    return [
        ".venv/bin/uvicorn", app, "--host", "127.0.0.1", f"--port={port}",
        f"--workers={processes}", "--timeout-keep-alive=5", "--no-access-log", "--no-proxy-headers",
    ]  # fmt: skip


def gunicorn_argv(app: str, port: int, processes: int, worker: str, threads: int) -> list[str]:
    """As the generated Django gunicorn_conf (worker class, threads, keep-alive)."""
    argv = [
        ".venv/bin/gunicorn", app, f"--bind=127.0.0.1:{port}", f"--workers={processes}",
        f"--worker-class={worker}", "--keep-alive=5", "--log-level=warning",
    ]  # fmt: skip
    if worker == "gthread":
        argv.append(f"--threads={threads}")
    return argv


def sources(framework: str, concurrency: str) -> dict[str, str]:
    """{module name: source} of the baselines for one kind of service: the bare app, the
    limit and, for FastAPI, the framework with SQLAlchemy Core."""
    if framework == "fastapi":
        limit = LIMIT_ASYNCPG if concurrency == "async" else LIMIT_PSYCOPG_THREADS_ASGI
        core = CORE_FASTAPI_ASYNC if concurrency == "async" else CORE_FASTAPI_SYNC
        return {BARE_MODULE: BARE_FASTAPI, CORE_MODULE: core, LIMIT_MODULE: limit}
    if concurrency == "async":
        return {BARE_MODULE: BARE_DJANGO_ASYNC, LIMIT_MODULE: LIMIT_PSYCOPG_ASYNC}
    return {BARE_MODULE: BARE_DJANGO_SYNC, LIMIT_MODULE: LIMIT_PSYCOPG_WSGI}


def server_argv(
    framework: str, concurrency: str, module: str, port: int, processes: int, threads: int
) -> Sequence[str]:
    app = f"{module}:app"
    if framework == "fastapi":
        return uvicorn_argv(app, port, processes)
    worker = "uvicorn_worker.UvicornWorker" if concurrency == "async" else "gthread"
    return gunicorn_argv(app, port, processes, worker, threads)
