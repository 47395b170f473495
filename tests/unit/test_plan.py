"""The plan document: stable, JSON-serialisable, one entry per catalog decision."""

from __future__ import annotations

import json

import pytest

from scalekit_gen.blueprint import AnswerLayer, build_blueprint
from scalekit_gen.catalog import DECISION_LIST, DECISIONS, RECORD_NUMBERS
from scalekit_gen.paths import presets_dir
from scalekit_gen.plan import SCHEMA_VERSION, build_plan, display, record_path, reversal_of
from scalekit_gen.presets import load_preset

TOP_LEVEL_KEYS = [
    "scalekit_plan",
    "project",
    "answers",
    "decisions",
    "consequences",
    "derived",
    "sizing",
    "assumptions",
    "formulas",
    "warnings",
]
ENTRY_KEYS = [
    "key",
    "record",
    "title",
    "question",
    "context",
    "applies",
    "applies_note",
    "value",
    "display",
    "source",
    "why",
    "cost",
    "cost_reason",
    "alternatives",
    "consequences",
]
PRESETS = sorted(path.stem for path in presets_dir().glob("*.yml"))


def _plan(**values):
    return build_plan(build_blueprint([AnswerLayer("--set", values)]))


def _entry(plan, key):
    (entry,) = [d for d in plan["decisions"] if d["key"] == key]
    return entry


@pytest.fixture(scope="module")
def plan():
    return _plan(project_name="Acme Shop", modules="accounts,billing")


def test_schema_version(plan):
    assert plan["scalekit_plan"] == SCHEMA_VERSION == 1


def test_top_level_keys_in_a_stable_order(plan):
    assert list(plan) == TOP_LEVEL_KEYS


def test_decision_entry_keys_in_a_stable_order(plan):
    for entry in plan["decisions"]:
        assert list(entry) == ENTRY_KEYS


@pytest.mark.parametrize("preset", [None, *PRESETS], ids=lambda p: p or "defaults")
def test_plan_round_trips_through_json(preset):
    layers = load_preset(preset) if preset else []
    plan = build_plan(build_blueprint(layers))
    assert json.loads(json.dumps(plan)) == plan


def test_one_entry_per_catalog_decision_in_order(plan):
    assert [entry["key"] for entry in plan["decisions"]] == [d.key for d in DECISION_LIST]
    assert list(plan["answers"]) == [d.key for d in DECISION_LIST]


def test_project_names(plan):
    assert plan["project"] == {"name": "Acme Shop", "slug": "acme-shop", "package": "acme_shop"}


@pytest.mark.parametrize(
    ("key", "path"),
    [
        ("framework", "docs/decisions/0001-framework.md"),
        ("read_replicas", "docs/decisions/0004-read-replicas.md"),
        ("broker", "docs/decisions/0007-broker.md"),
        ("cache", "docs/decisions/0008-cache.md"),
        ("peak_rps", "docs/decisions/0016-peak-rps.md"),
    ],
)
def test_record_paths(plan, key, path):
    assert record_path(DECISIONS[key]) == path
    assert _entry(plan, key)["record"] == path


def test_every_recorded_decision_has_a_record(plan):
    for entry in plan["decisions"]:
        decision = DECISIONS[entry["key"]]
        if decision.recorded:
            number = RECORD_NUMBERS[decision.key]
            assert entry["record"].startswith(f"docs/decisions/{number:04d}-")
        else:
            assert entry["record"] is None
    assert _entry(plan, "project_name")["record"] is None


def test_inapplicable_decision_has_no_record_and_numbers_do_not_shift():
    plan = _plan(queue="none")
    broker = _entry(plan, "broker")
    assert broker["record"] is None
    assert broker["applies"] is False
    assert broker["value"] is None
    assert broker["display"] == f"n/a ({DECISIONS['broker'].applies_note})"
    assert broker["why"] == ""
    assert plan["answers"]["broker"] is None
    assert _entry(plan, "cache")["record"] == "docs/decisions/0008-cache.md"


def test_entry_for_a_choice(plan):
    queue = _entry(plan, "queue")
    assert queue["value"] == "taskiq"
    assert queue["source"] == "default"
    assert queue["applies"] is True
    option = DECISIONS["queue"].option("taskiq")
    assert queue["why"] == option.choose_when
    assert queue["cost"] == option.reversal.cost.value
    assert [alt["value"] for alt in queue["alternatives"]] == ["celery", "dramatiq", "rq", "none"]


def test_multi_entry_costs_the_worst_choice_and_lists_the_rest():
    entry = _entry(_plan(observability="sentry,opentelemetry"), "observability")
    assert entry["value"] == ["sentry", "opentelemetry"]
    assert entry["display"] == "sentry, opentelemetry"
    assert [alt["value"] for alt in entry["alternatives"]] == ["prometheus"]
    assert entry["why"].count(";") == 1


def test_entry_without_options_uses_the_decision_reversal(plan):
    modules = _entry(plan, "modules")
    assert modules["value"] == ["accounts", "billing"]
    assert modules["cost"] == DECISIONS["modules"].reversal.cost.value
    assert modules["alternatives"] == []


def test_estimated_peak_is_displayed(plan):
    assert _entry(plan, "peak_rps")["display"] == f"estimated: {plan['sizing']['peak_rps']:,}"
    assert _entry(_plan(peak_rps="1500"), "peak_rps")["display"] == "1,500"


def test_entry_consequences_belong_to_the_decision():
    plan = _plan(framework="django", pooling="pgbouncer-transaction")
    pooling = _entry(plan, "pooling")
    assert any("DISABLE_SERVER_SIDE_CURSORS" in note for note in pooling["consequences"])
    assert _entry(plan, "ci")["consequences"] == []
    for entry in plan["decisions"]:
        assert set(entry["consequences"]) <= set(plan["consequences"])


def test_sizing_formulas_and_assumptions(plan):
    assert plan["sizing"]["peak_rps"] == 200
    assert plan["formulas"] and all(set(f) == {"what", "formula"} for f in plan["formulas"])
    assert plan["assumptions"]["headroom"] == 2.0
    assert plan["warnings"] == plan["sizing"]["warnings"]
    assert plan["derived"]["codeowners_path"] == ".github/CODEOWNERS"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "n/a"),
        ({"*": "@a", "billing": "@b"}, "everything else: @a, billing: @b"),
        (("a", "b"), "a, b"),
        ([], "none"),
        (10000, "10,000"),
        (True, "True"),
        ("celery", "celery"),
    ],
    ids=["none", "mapping", "tuple", "empty-list", "int", "bool", "text"],
)
def test_display(value, text):
    assert display(value) == text


def test_reversal_of_unchosen_multi_falls_back_to_low():
    assert reversal_of(DECISIONS["observability"], ()) == ("low", "")


@pytest.mark.parametrize(
    ("framework", "note"),
    [
        ("fastapi", "Redis still runs: the rate limiter lives there."),
        ("django", "Redis still runs: the rate limiter and sessions live there."),
    ],
    ids=["framework=fastapi", "framework=django"],
)
def test_a_consequence_narrowed_to_one_record_is_shown_only_there(framework, note):
    answers = {"project_name": "shop", "framework": framework, "cache": "none"}
    plan = build_plan(build_blueprint([AnswerLayer("test", answers)]))
    entries = {entry["key"]: entry for entry in plan["decisions"]}
    assert note in entries["cache"]["consequences"]
    assert note not in entries["framework"]["consequences"]
    assert note in plan["consequences"]  # the README's list holds every consequence
