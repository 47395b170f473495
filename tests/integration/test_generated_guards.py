"""The seeds' guards in a generated project fail its own tests when what they guard breaks.

Each guard is a test in the project (issue 16): the N+1 guard (tests/<module>/
test_query_counts.py), the index check (tests/test_indexes.py), the migration linter
(tests/test_migration_safety.py), the slow-query report (tests/test_slow_queries.py), the
pool metrics' wiring (tests/test_pool_metrics.py), the feature flags (tests/test_flags.py)
and the outbound client (tests/test_outbound.py). A guard that passes whatever the code does
guards nothing, so each is run here on one render (fastapi-async), on real services: first
as generated (it passes), then with the mistake it exists for made in the project's code (it
fails, naming the mistake), then restored.

The mistakes, as a team would make them:
- an N+1: the repository stops eager-loading the items' tags and the relation loads lazily;
- a query on a column with no index: the column declared next to its query, no migration;
- a migration that drops a column the running release still reads;
- a report that lists the cheapest statements first;
- a feature flag's cached copy that never expires (a flip would need a restart);
- an outbound POST retried (it may have been done already);
- PgBouncer's stats user renamed in pgbouncer.ini and not where the exporter logs in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from scalekit_gen.harness.project import MakeResult, ProjectEnv, run_make
from scalekit_gen.render import render_project
from tests.integration.generated import INSTALL_TIMEOUT, blueprint

pytestmark = pytest.mark.integration

MODULE = "catalog"


@dataclass(frozen=True)
class Edit:
    path: str  # in the project; {package} is the package's name
    old: str
    new: str


@dataclass(frozen=True)
class Mistake:
    test: str  # the project's test file that must catch it
    edits: tuple[Edit, ...]
    expected: str  # in the failing run's output: what the guard says


DROP_COLUMN_REVISION = '''"""Drop the items' description (what the running release still reads)."""

from alembic import op

revision: str = "0099"
down_revision: str | None = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_column("catalog_items", "description")


def downgrade() -> None:
    raise NotImplementedError
'''

MISTAKES = {
    "n-plus-one": Mistake(
        test=f"tests/{MODULE}/test_query_counts.py",
        edits=(
            Edit(
                f"src/{{package}}/{MODULE}/repository.py",
                ".options(selectinload(Item.tags))",
                "",
            ),
            Edit(
                f"src/{{package}}/{MODULE}/models.py",
                'relationship(ItemTag, lazy="raise"',
                'relationship(ItemTag, lazy="select"',
            ),
        ),
        expected="test_listing_items_sends_as_many_statements_for_20_as_for_2",
    ),
    "unindexed-filter-column": Mistake(
        test="tests/test_indexes.py",
        edits=(
            Edit(
                f"src/{{package}}/{MODULE}/repository.py",
                '"catalog_items.name",\n',
                '"catalog_items.name",\n    "catalog_items.price_cents",\n',
            ),
        ),
        expected="no index leads with catalog_items.price_cents",
    ),
    "drop-column-migration": Mistake(
        test="tests/test_migration_safety.py",
        edits=(Edit("migrations/versions/0099_drop_description.py", "", DROP_COLUMN_REVISION),),
        expected="alembic/0099: ban-drop-column",
    ),
    "slow-queries-cheapest-first": Mistake(
        test="tests/test_slow_queries.py",
        edits=(
            Edit(
                "deploy/postgres/slow_queries.sql",
                "ORDER BY s.total_exec_time DESC",
                "ORDER BY s.total_exec_time ASC",
            ),
        ),
        expected="test_the_report_lists_the_costliest_statement_first",
    ),
    "flag-copy-never-expires": Mistake(
        test="tests/test_flags.py",
        edits=(
            Edit(
                "src/{package}/flags/service.py",
                "ON if value else OFF, px=self.cache_ms)",
                "ON if value else OFF)",
            ),
        ),
        expected="the flip did not arrive within the cache time",
    ),
    "post-retried": Mistake(
        test="tests/test_outbound.py",
        edits=(
            Edit(
                "src/{package}/core/outbound.py",
                "self.policy.retries if method in IDEMPOTENT_METHODS else 0",
                "self.policy.retries",
            ),
        ),
        expected="test_a_503_is_retried_for_idempotent_methods_only_and_a_bounded_number_of_times",
    ),
    "stats-user-renamed-in-one-place": Mistake(
        test="tests/test_pool_metrics.py",
        edits=(
            Edit("deploy/pgbouncer/pgbouncer.ini", "stats_users = shop_stats", "stats_users = ops"),
        ),
        expected="test_the_compose_exporter_reads_the_pools_as_pgbouncers_stats_user",
    ),
}


@dataclass(frozen=True)
class Project:
    root: Path
    package: str
    env: ProjectEnv

    def pytest(self, *tests: str) -> MakeResult:
        options = " ".join(["-p no:cacheprovider -rA", *tests])
        return run_make(
            self.root, "test", {**self.env.env, "PYTEST_ADDOPTS": options}, timeout=600, check=False
        )


@pytest.fixture
def project(tmp_path: Path, project_env_factory: Callable[..., ProjectEnv]) -> Iterator[Project]:
    answers = blueprint("fastapi-async")
    root = render_project(answers, tmp_path / "project", git=False).destination
    env = project_env_factory(cache=answers.derived()["uses_memcached"])
    env.make(root, "install", timeout=INSTALL_TIMEOUT)
    yield Project(root, answers.package_name, env)


def _apply(project: Project, edit: Edit) -> None:
    path = project.root / edit.path.format(package=project.package)
    if not edit.old:
        assert not path.exists(), path
        path.write_text(edit.new.format(head="0001"))
        return
    text = path.read_text()
    assert text.count(edit.old) == 1, f"{edit.old!r} not once in {path}: update the mistake"
    path.write_text(text.replace(edit.old, edit.new))


def test_each_guard_passes_as_generated_and_fails_on_its_mistake(project: Project) -> None:
    tests = [mistake.test for mistake in MISTAKES.values()]
    clean = project.pytest(*tests)
    assert clean.returncode == 0, clean.tail(80)
    for test in tests:
        assert f"PASSED {test}" in clean.output, clean.tail(80)

    for name, mistake in MISTAKES.items():
        originals = {
            path: path.read_text() if path.exists() else None
            for path in (
                project.root / e.path.format(package=project.package) for e in mistake.edits
            )
        }
        try:
            for edit in mistake.edits:
                _apply(project, edit)
            broken = project.pytest(mistake.test)
        finally:
            for path, text in originals.items():
                if text is None:
                    path.unlink(missing_ok=True)
                else:
                    path.write_text(text)
        assert broken.returncode != 0, f"{name}: {mistake.test} passed\n{broken.tail(40)}"
        assert mistake.expected in broken.output, f"{name}\n{broken.tail(60)}"
