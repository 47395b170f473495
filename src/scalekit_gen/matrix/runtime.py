"""`scalekit matrix --runtime`: each chosen blueprint rendered, installed and run on real
services, as a platform team's CI runs a generated service.

For each row, in `STEPS` order (the first failing step ends the row and names it):

- `render`: `render_project` with the matrix's longest names (`space.LONGEST_NAMES`), as
  `--static` renders;
- `install`: `make install` (uv, one shared cache for the run: `project.uv_cache_dir()`);
- `lint`: `make lint`, the whole-project checks no single file shows: mypy strict and the
  import-linter contracts over the installed project, and for Django `manage.py check
  --deploy` on the production settings and models without a migration;
- `migrate`: `make migrate` (DATABASE_MIGRATIONS_URL, the migrations' own role on PostgreSQL,
  as the contract says; the application's role reaches it through PgBouncer);
- `test`: `make test`, the project's own suite, on the same services;
- `credential`: what the auth option's writes need (`smoke.provision_credential`);
- `boot`: `make run` (the production server, /healthz polled) and, with a queue, `make worker`;
- `http`: /healthz and /readyz answer 200, a write without the credential is refused (when
  there is auth), a write with it is created and read back, in every module;
- `job`: with a queue, a request's job runs on the real worker (`smoke.job_round_trip`);
- `loadtest`: a short `make loadtest` (Locust, `LOADTEST_ENV`) passes its gate, no failures.

The services (`Services`) are private, on free loopback ports, shared by the rows of one run
and started when the first row needs them: PostgreSQL, Redis, PgBouncer in the row's pool mode
(transaction or session; `app-pool-only` connects to PostgreSQL directly), memcached when the
cache uses it, RabbitMQ when the broker is RabbitMQ (a vhost per row). Each row gets its own
database, roles and Redis databases (`ProjectEnv`). A passing row's render is deleted; a
failing one stays (without its .venv) beside the answers that render it again.
"""

from __future__ import annotations

import secrets
import shlex
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import ExitStack, contextmanager
from pathlib import Path

from scalekit_gen.blueprint import Blueprint
from scalekit_gen.harness import Memcached, PgBouncer, Postgres, RabbitMQ, Redis, stack
from scalekit_gen.harness.project import ProjectEnv, Server
from scalekit_gen.harness.smoke import (
    INSTALL_TIMEOUT,
    LOADTEST_ENV,
    expect,
    job_round_trip,
    loadtest_gate,
    provision_credential,
    start_worker,
    write_headers,
)
from scalekit_gen.matrix.checks import Problem
from scalekit_gen.matrix.run import Outcome, write_answers
from scalekit_gen.matrix.space import AXES, LONGEST_NAMES, Row, blueprint_of
from scalekit_gen.render import render_project

STEPS = (
    "render",
    "install",
    "lint",
    "migrate",
    "test",
    "credential",
    "boot",
    "http",
    "job",
    "loadtest",
)
TEST_TIMEOUT = 900
#: A short gate: enough users and time to show a server that errors or stalls under
#: concurrency, not a benchmark (bench/ measures).
RUNTIME_LOADTEST_ENV = {
    **LOADTEST_ENV,
    "LOADTEST_USERS": "16",
    "LOADTEST_SPAWN_RATE": "16",
    "LOADTEST_DURATION": "10s",
}
APP_POOL_ONLY = "app-pool-only"
POOL_MODES = {"pgbouncer-transaction": "transaction", "pgbouncer-session": "session"}
#: A failing step's message is kept whole up to this size; past it, its start (the command
#: and the first failure, `project.ProjectRunError`) and its end (the output's tail).
MESSAGE_CHARS = 40_000

StepHeard = Callable[[int, str], None]  # (row number, step starting)


class Services:
    """The run's private servers, each started once, when a row first needs it; stopped
    together on exit. Thread-safe: rows run in threads (`run_runtime(jobs=…)`)."""

    def __init__(self) -> None:
        self._stack = ExitStack()
        self._lock = threading.Lock()
        self._postgres: Postgres | None = None
        self._redis: Redis | None = None
        self._pgbouncers: dict[str, PgBouncer] = {}
        self._memcached: Memcached | None = None
        self._rabbitmq: RabbitMQ | None = None

    def __enter__(self) -> Services:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def postgres(self) -> Postgres:
        with self._lock:
            if self._postgres is None:
                self._postgres = self._stack.enter_context(stack.postgres())
            return self._postgres

    def pgbouncer(self, pool_mode: str) -> PgBouncer:
        pg = self.postgres()
        with self._lock:
            if pool_mode not in self._pgbouncers:
                started = self._stack.enter_context(stack.pgbouncer(pg, pool_mode))
                self._pgbouncers[pool_mode] = started
            return self._pgbouncers[pool_mode]

    def redis(self) -> Redis:
        with self._lock:
            if self._redis is None:
                self._redis = self._stack.enter_context(Redis())
            return self._redis

    def memcached(self) -> Memcached:
        with self._lock:
            if self._memcached is None:
                self._memcached = self._stack.enter_context(Memcached())
            return self._memcached

    def rabbitmq(self) -> RabbitMQ:
        with self._lock:
            if self._rabbitmq is None:
                self._rabbitmq = self._stack.enter_context(RabbitMQ())
            return self._rabbitmq


@contextmanager
def project_env(project: Blueprint, services: Services) -> Iterator[ProjectEnv]:
    """The row's database, roles, Redis databases (and memcached, RabbitMQ vhost) on
    `services`, with the contract's environment for its pooling option."""
    derived = project.derived()
    pooling = project["pooling"]
    extra: dict[str, str | None] = {}
    vhost = None
    rabbitmq = None
    if derived["uses_rabbitmq"]:
        rabbitmq = services.rabbitmq()
        vhost = f"row-{secrets.token_hex(5)}"
        rabbitmq.add_vhost(vhost)
        extra["BROKER_URL"] = rabbitmq.url(vhost)
    env = ProjectEnv(
        services.postgres(),
        services.pgbouncer(POOL_MODES.get(pooling, "transaction")),
        services.redis(),
        services.memcached() if derived["uses_memcached"] else None,
        replicas=project["read_replicas"],
        extra=extra,
    )
    try:
        with env:
            if pooling == APP_POOL_ONLY:
                # No pooler: the application connects to PostgreSQL itself.
                direct = env.postgres.url(env.role, env.database)
                env.env["DATABASE_URL"] = direct
                if project["read_replicas"]:
                    env.env["DATABASE_REPLICA_URLS"] = ",".join([direct] * project["read_replicas"])
            yield env
    finally:
        if rabbitmq is not None and vhost is not None:
            rabbitmq.delete_vhost(vhost)


def http_smoke(server: Server, project: Blueprint, headers: dict[str, str]) -> None:
    """/healthz and /readyz; in every module a write refused without the credential (when
    the project has auth), then created with it and read back."""
    expect(server.get("/healthz").status == 200, "GET /healthz did not answer 200")
    ready = server.get("/readyz")
    expect(ready.status == 200, f"GET /readyz: {ready.status} {ready.body}")
    for module in project["modules"]:
        items = f"/api/v1/{module}/items"
        body = {"name": "smoke", "price_cents": 100}
        if project.derived()["has_auth"]:
            refused = server.post(items, json=body)
            expect(refused.status == 401, f"POST {items} without a credential: {refused.status}")
        created = server.post(items, json=body, headers=headers)
        expect(created.status == 201, f"POST {items}: {created.status} {created.body}")
        read = server.get(f"{items}/{created.body['id']}")
        expect(read.status == 200, f"GET {items}/<id>: {read.status} {read.body}")
        expect(read.body["name"] == "smoke", f"GET {items}/<id> read back {read.body}")


class _Steps:
    """Runs named steps in order; the first failure is kept and ends the row."""

    def __init__(self, number: int, heard: StepHeard) -> None:
        self.number = number
        self.heard = heard
        self.timings: list[tuple[str, float]] = []
        self.problem: Problem | None = None

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        self.heard(self.number, name)
        started = time.monotonic()
        try:
            yield
        except Exception as error:
            text = clip(str(error).strip() or type(error).__name__, MESSAGE_CHARS)
            self.problem = Problem(name, "", f"{type(error).__name__}: {text}")
            raise _StepFailed from error
        finally:
            self.timings.append((name, time.monotonic() - started))


def clip(text: str, limit: int) -> str:
    """`text`, or its first and last `limit // 2` characters around an ellipsis."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n…\n{text[-half:]}"


class _StepFailed(Exception):
    pass


def run_row(
    number: int,
    row: Row,
    workdir: Path,
    services: Services,
    *,
    template: Path | None = None,
    heard: StepHeard = lambda number, step: None,
) -> Outcome:
    """Render row `number` into `workdir/<number>` and run it on `services` (module doc)."""
    started = time.monotonic()
    dest = workdir / f"{number:05d}"
    steps = _Steps(number, heard)
    try:
        with steps.step("render"):
            project = blueprint_of(row, LONGEST_NAMES)
            root = render_project(project, dest, git=False, template=template).destination
        with project_env(project, services) as env:
            _run_project(steps, project, root, env)
    except _StepFailed:
        pass
    except Exception as error:  # the services failing to start: a problem of the run's
        steps.problem = Problem("services", "", f"{type(error).__name__}: {error}")
    problems = (steps.problem,) if steps.problem else ()
    kept = answers = None
    if problems:
        kept = dest if dest.exists() else None
        if kept is not None:
            shutil.rmtree(kept / ".venv", ignore_errors=True)  # `make install` remakes it
        answers = workdir / f"{number:05d}.answers.yml"
        write_answers(answers, row)
    else:
        shutil.rmtree(dest, ignore_errors=True)
    return Outcome(
        number,
        row,
        problems,
        time.monotonic() - started,
        kept,
        answers,
        template,
        rerun=rerun_command(row, template),
        timings=tuple(steps.timings),
    )


def _run_project(steps: _Steps, project: Blueprint, root: Path, env: ProjectEnv) -> None:
    with steps.step("install"):
        env.make(root, "install", timeout=INSTALL_TIMEOUT)
    with steps.step("lint"):
        env.make(root, "lint")
    with steps.step("migrate"):
        env.make(root, "migrate")
    with steps.step("test"):
        env.make(root, "test", timeout=TEST_TIMEOUT)
    with steps.step("credential"):
        credential = provision_credential(project, root, env.env)
    has_queue = project.derived()["has_queue"]
    with ExitStack() as running:
        with steps.step("boot"):
            server = running.enter_context(env.server(root))
            worker = running.enter_context(start_worker(env, root, has_queue))
        with steps.step("http"):
            headers = write_headers(server, credential)
            http_smoke(server, project, headers)
        if worker is not None:
            with steps.step("job"):
                for module in project["modules"]:
                    job_round_trip(server, worker, module, headers)
        with steps.step("loadtest"):
            loadtest_gate(root, {**env.env, **credential}, RUNTIME_LOADTEST_ENV)


def rerun_command(row: Row, template: Path | None) -> str:
    """`scalekit matrix --runtime` on exactly this row (every axis pinned by --only)."""
    only = " ".join(
        f"--only {shlex.quote(f'{axis.key}={axis.label(value)}')}"
        for axis, value in zip(AXES, row, strict=True)
    )
    tail = f" --template {shlex.quote(str(template))}" if template is not None else ""
    return f"scalekit matrix --runtime --all {only}{tail}"


def run_runtime(
    rows: Sequence[Row],
    workdir: Path,
    *,
    jobs: int = 1,
    template: Path | None = None,
    on_outcome: Callable[[Outcome], None] = lambda outcome: None,
    on_step: StepHeard = lambda number, step: None,
) -> list[Outcome]:
    """Run every row (`jobs` at once) on one set of services; `on_outcome` hears each as it
    finishes, `on_step` each step as it starts. Outcomes in row order."""
    workdir.mkdir(parents=True, exist_ok=True)
    outcomes: list[Outcome] = []
    numbered = list(enumerate(rows, start=1))
    with Services() as services, ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        pending: set[Future[Outcome]] = set()
        todo = iter(numbered)

        def submit() -> None:
            following = next(todo, None)
            if following is not None:
                number, row = following
                pending.add(
                    pool.submit(
                        run_row, number, row, workdir, services, template=template, heard=on_step
                    )
                )

        for _ in range(max(1, jobs)):
            submit()
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    outcome = future.result()
                    on_outcome(outcome)
                    outcomes.append(outcome)
                    submit()
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return sorted(outcomes, key=lambda outcome: outcome.number)


def describe_timings(outcome: Outcome) -> str:
    """`install 62 s, test 41 s, …`: where a row's time went."""
    return ", ".join(f"{name} {seconds:.0f} s" for name, seconds in outcome.timings)
