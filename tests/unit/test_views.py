"""The Rich views: what a person reads, checked as rendered text."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.console import Console
from rich.text import Text

from scalekit_gen.blueprint import AnswerLayer, build_blueprint
from scalekit_gen.catalog import Cost
from scalekit_gen.plan import build_plan
from scalekit_gen.presets import PresetInfo, list_presets
from scalekit_gen.views import (
    cost_markup,
    decisions_table,
    next_steps,
    presets_table,
    sizing_table,
)

MAKE_TARGETS = [
    "make install",
    "commit uv.lock, which make install wrote: the image and CI install only what it pins",
    "make lint",
    "make migrate",
    "make test",
    "make run",
]


def _plan(**values):
    return build_plan(build_blueprint([AnswerLayer("test", values)]))


def _text(renderable) -> str:
    console = Console(file=io.StringIO(), width=120, color_system=None)
    console.print(renderable)
    return console.file.getvalue()


def _first_column(text: str) -> list[str]:
    """The first cell of every row (continuation lines of wrapped cells are indented deeper)."""
    return re.findall(r"^  (\S+)", text, flags=re.MULTILINE)


def _row(text: str, key: str) -> str:
    (line,) = [line for line in text.splitlines() if re.match(rf"^  {re.escape(key)}\s", line)]
    return line


# --------------------------------------------------------------------------- decisions


@pytest.mark.parametrize(
    ("values", "skipped"),
    [({"queue": "none"}, {"broker"}), ({"queue": "celery"}, set())],
    ids=["queue=none", "queue=celery"],
)
def test_decisions_table_lists_applicable_decisions_in_order(values, skipped):
    plan = _plan(**values)
    rows = _first_column(_text(decisions_table(plan)))
    expected = [e["key"] for e in plan["decisions"] if e["key"] not in skipped]
    assert rows == ["decision", *expected]
    assert all(e["applies"] for e in plan["decisions"] if e["key"] not in skipped)


def test_decisions_table_shows_a_given_answers_source():
    text = _text(decisions_table(_plan(framework="django", queue="none"), with_why=False))
    assert "django (test)" in _row(text, "framework")
    assert "none (test)" in _row(text, "queue")


def test_decisions_table_hides_the_default_source():
    text = _text(decisions_table(_plan(framework="django"), with_why=False))
    assert "(default)" not in text
    assert "(" not in _row(text, "concurrency")
    assert re.search(r"\bsync\b", _row(text, "concurrency"))


def test_decisions_table_shows_display_and_cost():
    plan = _plan(target_users="25k")
    text = _text(decisions_table(plan, with_why=False))
    (entry,) = [e for e in plan["decisions"] if e["key"] == "target_users"]
    assert "25,000 (test)" in _row(text, "target_users")
    assert _row(text, "target_users").split()[-1] == entry["cost"]


def test_decisions_table_with_why_has_the_column():
    plan = _plan(framework="django")
    table = decisions_table(plan)
    assert [column.header for column in table.columns][-1] == "choose it when"
    text = _text(table)
    assert "choose it when" in text
    assert "a full web platform" in text  # django's choose_when


def test_decisions_table_without_why_drops_the_column():
    table = decisions_table(_plan(framework="django"), with_why=False)
    assert [column.header for column in table.columns] == ["decision", "choice (from)", "cost"]
    text = _text(table)
    assert "choose it when" not in text
    assert "a full web platform" not in text


def test_decisions_table_title():
    assert _text(decisions_table(_plan(), title="Your plan")).lstrip().startswith("Your plan")


# --------------------------------------------------------------------------- sizing

PGBOUNCER_ROWS = ["PgBouncer max_client_conn", "PgBouncer default_pool_size"]
WORKER_ROW = "worker replicas × concurrency"


def test_sizing_table_has_every_row_with_pgbouncer_and_a_queue():
    plan = _plan(pooling="pgbouncer-transaction", queue="celery")
    text, sizing = _text(sizing_table(plan)), plan["sizing"]
    for label in [*PGBOUNCER_ROWS, WORKER_ROW, "PostgreSQL max_connections"]:
        assert label in text
    assert f"{sizing['worker_replicas']} × {sizing['worker_concurrency']}" in text
    assert f"{sizing['pgbouncer_max_client_conn']}" in _row(text, "PgBouncer max_client_conn")


@pytest.mark.parametrize("queue", ["celery", "none"], ids=["queue=celery", "queue=none"])
def test_sizing_table_omits_pgbouncer_rows_without_pgbouncer(queue):
    text = _text(sizing_table(_plan(pooling="app-pool-only", queue=queue)))
    assert "PgBouncer" not in text
    assert "PostgreSQL max_connections" in text  # the server's limit still matters


@pytest.mark.parametrize(
    "pooling", ["pgbouncer-session", "app-pool-only"], ids=lambda p: f"pooling={p}"
)
def test_sizing_table_omits_worker_rows_without_a_queue(pooling):
    text = _text(sizing_table(_plan(pooling=pooling, queue="none")))
    assert "worker" not in text
    assert "DB pool per process" in text


def test_sizing_table_formats_numbers():
    plan = _plan(peak_rps="12k")
    sizing = plan["sizing"]
    text = _text(sizing_table(plan))
    assert f"{sizing['peak_rps']:,} / {sizing['design_rps']:,}" in text
    assert "12,000 / " in text


# --------------------------------------------------------------------------- costs


@pytest.mark.parametrize("cost", list(Cost), ids=str)
def test_every_catalog_cost_has_its_own_style(cost):
    markup = cost_markup(cost.value)
    assert not markup.startswith("[default]")
    assert Text.from_markup(markup).plain == cost.value


@pytest.mark.parametrize(
    ("cost", "style"),
    [("low", "green"), ("major", "red"), ("catastrophic", "bold red")],
)
def test_cost_markup_styles_known_costs(cost, style):
    assert cost_markup(cost) == f"[{style}]{cost}[/]"


def test_cost_markup_renders_unknown_costs_plainly():
    markup = cost_markup("priceless")
    assert markup == "[default]priceless[/]"
    assert Text.from_markup(markup).plain == "priceless"


# --------------------------------------------------------------------------- next steps


def test_next_steps_with_a_makefile(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    steps = next_steps(tmp_path / "shop", ["Makefile", "README.md"])
    assert steps[0] == "cd shop"
    assert steps[1:-1] == MAKE_TARGETS
    assert steps[-1].startswith("read docs/decisions/")


def test_next_steps_without_a_makefile(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    steps = next_steps(tmp_path / "shop", ["README.md", "src/Makefile.inc"])
    assert not [step for step in steps if step.startswith("make ")]
    assert steps[0] == "cd shop"
    assert len(steps) == 2


def test_next_steps_relative_below_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert next_steps(tmp_path / "apps" / "shop", [])[0] == f"cd {Path('apps', 'shop')}"


def test_next_steps_full_path_elsewhere(tmp_path, monkeypatch):
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    dest = tmp_path / "elsewhere" / "shop"
    assert next_steps(dest, [])[0] == f"cd {dest}"


def test_next_steps_full_path_when_the_working_directory_is_gone(tmp_path, monkeypatch):
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    dest = tmp_path / "shop"
    assert next_steps(dest, ["Makefile"])[0] == f"cd {dest}"


def test_next_steps_accepts_a_string_destination(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert next_steps(str(tmp_path / "shop"), iter(["Makefile"]))[:2] == ["cd shop", "make install"]


# --------------------------------------------------------------------------- presets


def test_presets_table_lists_the_shipped_presets():
    presets = list_presets()
    assert presets
    text = _text(presets_table(presets))
    for info in presets:
        assert info.name in text


def test_presets_table_lists_names_with_summaries_in_order():
    presets = [
        PresetInfo("zeta-stack", Path("zeta-stack.yml"), "the last one"),
        PresetInfo("alpha-stack", Path("alpha-stack.yml"), "the first one"),
    ]
    rows = [
        [cell.strip() for cell in line.strip("│").split("│")]
        for line in _text(presets_table(presets)).splitlines()
        if line.startswith("│")
    ]
    assert rows == [["zeta-stack", "the last one"], ["alpha-stack", "the first one"]]
