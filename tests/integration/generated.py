"""What the integration tests of generated projects share: how a test's blueprint is made, the
`make loadtest` gate as they drive it on this machine, and the migration lock's key."""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Mapping
from pathlib import Path

from scalekit_gen.blueprint import AnswerLayer, Blueprint, build_blueprint
from scalekit_gen.presets import load_preset
from tests.harness.project import run_make

INSTALL_TIMEOUT = 900  # a cold uv cache downloads every pinned wheel
#: (preset, answers): one case per framework and concurrency model.
FRAMEWORK_CASES: tuple[tuple[str, dict[str, str]], ...] = (
    ("fastapi-async", {}),
    ("fastapi-sync", {}),
    ("django-platform", {}),
    ("django-platform", {"concurrency": "async"}),
)
LOADTEST_ENV = {
    "LOADTEST_USERS": "64",
    "LOADTEST_SPAWN_RATE": "32",
    "LOADTEST_DURATION": "20s",
    # The project's default budget is 500 ms. This machine runs PostgreSQL, PgBouncer, Redis,
    # the server, its worker, Locust and often other tests on two cores, so the budget here
    # only catches a server that stalls; zero failures is the strict part of the gate.
    "LOADTEST_P95_MS": "1500",
}


def case_id(preset: str, answers: Mapping[str, object]) -> str:
    """A test id that says what was rendered: `preset=fastapi-async,queue=celery`."""
    return ",".join([f"preset={preset}", *(f"{key}={value}" for key, value in answers.items())])


#: `case_id` of each of FRAMEWORK_CASES, in order: the ids of tests parametrised over them.
FRAMEWORK_CASE_IDS = [case_id(preset, answers) for preset, answers in FRAMEWORK_CASES]


def blueprint(preset: str, **answers: object) -> Blueprint:
    """The preset, named Shop, with `answers` on top."""
    layers = [*load_preset(preset), AnswerLayer("test", {"project_name": "Shop", **answers})]
    return build_blueprint(layers)


def aggregated_stats(root: Path) -> dict[str, str]:
    """The `Aggregated` row of Locust's loadtests/out/load_stats.csv."""
    stats = root / "loadtests" / "out" / "load_stats.csv"
    assert stats.is_file(), f"`make loadtest` wrote no {stats}"
    with stats.open(newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["Name"] == "Aggregated"]
    assert len(rows) == 1, f"no single Aggregated row in {stats}"
    return rows[0]


def assert_loadtest_passes(root: Path, env: Mapping[str, str]) -> None:
    """`make loadtest` (64 users, 20 s) against the running server passes its gate with no
    failed request, and leaves its CSV and HTML reports."""
    result = run_make(root, "loadtest", {**env, **LOADTEST_ENV}, timeout=180)
    assert result.returncode == 0
    assert "loadtest gate: pass" in result.output, result.tail()
    total = aggregated_stats(root)
    assert int(total["Request Count"]) > 0, total
    assert int(total["Failure Count"]) == 0, result.tail()
    assert (root / "loadtests" / "out" / "load.html").is_file()
    print(  # shown with -s: the numbers behind the gate
        f"{root.name}: {total['Request Count']} requests, {total['Requests/s']} req/s, "
        f"p50 {total['50%']} ms, p95 {total['95%']} ms, max {total['Max Response Time']} ms"
    )


def migration_lock_key(package: str) -> int:
    """The advisory lock key `make migrate` takes first in a project named `package`: the
    contract of its core/db_limits.py (MIGRATION_LOCK_KEY), restated so a test can hold it."""
    digest = hashlib.blake2b(f"{package}: migrations".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)
