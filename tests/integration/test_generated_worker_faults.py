"""A worker SIGKILLed mid-job, on real services from the harness: once a fresh worker runs,
the job runs again within its queue's redelivery bound, and its effect happens once.

For each framework in each concurrency model (FRAMEWORK_CASES, with their presets' queues:
taskiq for FastAPI async, celery for the other three):

1. The web server creates an item; its publish job waits on the broker (no worker runs yet).
2. The test locks the item's row (SELECT ... FOR UPDATE, as the superuser, straight to
   PostgreSQL) and starts the worker. The job's conditional UPDATE waits on that lock: the
   job has taken its message from the broker and is mid-run when the test sees it waiting.
3. Every process of the worker gets SIGKILL at once: nothing in it acknowledges, rejects or
   puts back the message. The test then releases the row; the killed run's transaction,
   whose client is gone, never commits, so the item stays unpublished.
4. A fresh worker starts. The broker hands the job out again once the redelivery bound has
   passed (celery on Redis: the visibility timeout, then kombu's next restore sweep; taskiq:
   the stream's idle timeout, then the worker's next claim), and the job publishes the item.
   An audit trigger records every change of published_at: exactly one, however many times
   the job ran.

The worker runs with a short JOB_TIME_LIMIT_S and short retry waits, from which the queue
derives its redelivery bound (WORKER_ENV); the project's defaults give the windows its README
states. Each case renders and installs its own project (about a minute on two cores).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from scalekit_gen.harness.project import ProjectEnv, Worker
from scalekit_gen.render import render_project
from tests.integration.generated import (
    FRAMEWORK_CASE_IDS,
    FRAMEWORK_CASES,
    INSTALL_TIMEOUT,
    blueprint,
    case_id,
)

pytestmark = pytest.mark.integration

MODULE = "catalog"
#: The worker's settings here: a job may run 4 s, its one retry waits 0.5 s. From these the
#: queue derives how long a healthy worker may hold a job, after which it hands the job out
#: again: celery, the retry wait + a wait for a free process + the run (0.5 + 4 + 4 s, so a
#: 9-s visibility timeout); taskiq, the run with a quarter more and two Redis commands of at
#: most 5 s each (4 x 1.25 + 10 = 15 s; retries wait in Redis, not in the worker).
WORKER_ENV = {
    "JOB_TIME_LIMIT_S": "4",
    "JOB_MAX_RETRIES": "1",
    "JOB_RETRY_BACKOFF_S": "0.5",
    "JOB_RETRY_BACKOFF_MAX_S": "0.5",
}
#: The longest the job may take to publish the item once the fresh worker is ready: the 9 or
#: 15 s above from the killed worker's delivery, then the queue's next look for such messages
#: (celery: every 10 s; taskiq: after each 2-s blocking read), then the job, on a busy machine.
REDELIVERED_WITHIN_S = 30.0
#: How long the first worker has to take the job and reach the locked row.
BLOCKED_WITHIN_S = 60.0
#: How long the killed run is given to commit, were it able to (it must not).
SETTLE_S = 1.0


def _audit_publishes(admin: psycopg.Connection[Any]) -> None:
    """Record every change of an item's published_at in `publish_audit` (a trigger; the
    function runs as its owner, the superuser, so the app's role needs no grant)."""
    table = f"{MODULE}_items"
    admin.execute(
        "CREATE TABLE publish_audit (item_id uuid NOT NULL, published_at timestamptz, "
        "at timestamptz NOT NULL DEFAULT clock_timestamp())"
    )
    admin.execute(
        "CREATE FUNCTION publish_audit() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$"
        " BEGIN INSERT INTO publish_audit (item_id, published_at)"
        " VALUES (NEW.id, NEW.published_at); RETURN NEW; END $$"
    )
    admin.execute(
        f"CREATE TRIGGER publish_audit AFTER UPDATE OF published_at ON {table} FOR EACH ROW "
        "WHEN (OLD.published_at IS DISTINCT FROM NEW.published_at) "
        "EXECUTE FUNCTION publish_audit()"
    )


def _published_at(admin: psycopg.Connection[Any], item_id: str) -> Any:
    row = admin.execute(
        f"SELECT published_at FROM {MODULE}_items WHERE id = %s", [item_id]
    ).fetchone()
    assert row is not None, f"item {item_id} is gone"
    return row[0]


def _audited(admin: psycopg.Connection[Any], item_id: str) -> int:
    """How many committed changes of the item's published_at the trigger recorded."""
    query = "SELECT count(*) FROM publish_audit WHERE item_id = %s"
    row = admin.execute(query, [item_id]).fetchone()
    assert row is not None
    return int(row[0])


@contextmanager
def _row_locked(
    admin_connect: Callable[[], psycopg.Connection[Any]], item_id: str
) -> Iterator[int]:
    """Hold the item's row lock (yields the holding backend's pid) until the block ends."""
    with admin_connect() as holder, holder.transaction():
        holder.execute(f"SELECT 1 FROM {MODULE}_items WHERE id = %s FOR UPDATE", [item_id])
        yield holder.info.backend_pid


def _waiting_on(admin: psycopg.Connection[Any], holder_pid: int) -> bool:
    """Whether a backend waits for a lock `holder_pid` holds (the job's UPDATE)."""
    row = admin.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
        [holder_pid],
    ).fetchone()
    return row is not None and row[0] > 0


def _start_worker(env: ProjectEnv, root: Path) -> Worker:
    """`make worker`, ready once a worker process has opened its job context (it logs so)."""
    return env.worker(root, ready_log=r'"event":\s*"job context open"', start_timeout=90).start()


def _job_done_lines(worker: Worker) -> list[str]:
    job = re.escape(f"{MODULE}.item_publish")
    return [
        line
        for line in worker.output.splitlines()
        if re.search(r'"event":\s*"job done"', line) and re.search(rf'"{job}"', line)
    ]


@pytest.mark.parametrize(("preset", "answers"), FRAMEWORK_CASES, ids=FRAMEWORK_CASE_IDS)
def test_a_job_whose_worker_is_killed_runs_again_and_takes_effect_once(
    preset: str,
    answers: dict[str, str],
    tmp_path: Path,
    project_env_factory: Callable[..., ProjectEnv],
) -> None:
    # Open writes (auth: none): what is under test here is not who may write;
    # test_generated_project.py drives the credentials.
    project = blueprint(preset, modules=MODULE, auth="none", **answers)
    root = render_project(project, tmp_path / "shop", git=False).destination
    env = project_env_factory(web_concurrency=1, extra=WORKER_ENV)
    env.make(root, "install", timeout=INSTALL_TIMEOUT)
    env.make(root, "migrate")
    postgres = env.postgres

    def admin_connect() -> psycopg.Connection[Any]:
        return postgres.admin_connect(env.database)

    with admin_connect() as admin:
        _audit_publishes(admin)
        with env.server(root) as server:  # the job waits on the broker: no worker yet
            created = server.post(f"/api/v1/{MODULE}/items", {"name": "killed", "price_cents": 1})
        assert created.status == 201, created
        item_id = created.body["id"]

        with _row_locked(admin_connect, item_id) as holder_pid:
            first = _start_worker(env, root)
            try:
                first.wait_until(
                    lambda: _waiting_on(admin, holder_pid),
                    BLOCKED_WITHIN_S,
                    "its job waiting on the locked row",
                )
            finally:
                first.kill()
            killed_at = time.monotonic()
        time.sleep(SETTLE_S)
        assert _published_at(admin, item_id) is None, "the killed run's UPDATE committed"
        assert _audited(admin, item_id) == 0
        assert not _job_done_lines(first), first.log_tail()

        with _start_worker(env, root) as second:
            ready_after = time.monotonic() - killed_at
            second.wait_until(
                lambda: _published_at(admin, item_id) is not None,
                REDELIVERED_WITHIN_S,
                "the killed worker's job published (redelivered)",
            )
            published_after = time.monotonic() - killed_at
            second.wait_until(lambda: _job_done_lines(second), 10.0, "the job's 'job done' log")
            time.sleep(SETTLE_S)  # a second run, were there one, has had time to show
            runs = len(_job_done_lines(second))
        assert _audited(admin, item_id) == 1, "published_at changed more than once"
        assert runs == 1, second.log_tail()
    print(  # shown with -s: the window the README states
        f"{case_id(preset, answers)} ({project['queue']}): fresh worker ready "
        f"{ready_after:.1f}s after the kill, job redelivered and done {published_after:.1f}s "
        "after the kill"
    )
