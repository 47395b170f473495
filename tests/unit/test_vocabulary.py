"""The template vocabulary: every name a template reads, each from exactly one source."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest

from scalekit_gen.blueprint import AnswerLayer, build_blueprint
from scalekit_gen.plan import build_plan
from scalekit_gen.vocabulary import records, template_context

# Derived facts the context names differently; None: given as `slug` / `package` instead.
RENAMED = {"owners": "module_owners", "project_slug": None, "package_name": None}
EXTRA_NAMES = {"plan", "package", "slug", "sizing", "records", "fastapi_only", "django_only"}


def _plan(**values):
    return build_plan(build_blueprint([AnswerLayer("test", values)]))


def _case(**values):
    shown = (f"{k}='{v}'" if "," in v else f"{k}={v}" for k, v in values.items())
    return pytest.param(values, id=",".join(shown) or "defaults")


BLUEPRINTS = [
    _case(),
    _case(framework="django"),
    _case(queue="none"),
    _case(framework="fastapi", concurrency="sync", pooling="app-pool-only", queue="rq"),
    _case(framework="django", concurrency="async", queue="celery", broker="rabbitmq"),
    _case(observability="opentelemetry,prometheus", read_replicas="2", ci="gitlab"),
]


@pytest.fixture(params=BLUEPRINTS)
def plan(request):
    return _plan(**request.param)


def _derived_names(plan):
    return {RENAMED.get(name, name) for name in plan["derived"]} - {None}


def test_every_answer_is_there_with_the_plans_value(plan):
    context = template_context(plan)
    for key, value in plan["answers"].items():
        assert key in context
        assert context[key] == value, key


def test_raw_answers_are_there_coerced():
    context = template_context(_plan(observability="sentry, prometheus", read_replicas="2"))
    assert context["observability"] == ["prometheus", "sentry"]
    assert context["read_replicas"] == 2


def test_every_derived_fact_is_there_under_its_name(plan):
    context = template_context(plan)
    for name, value in plan["derived"].items():
        if name not in RENAMED:
            assert context[name] == value, name


def test_owners_fact_is_module_owners(plan):
    context = template_context(plan)
    assert context["module_owners"] == plan["derived"]["owners"]
    assert context["owners"] == plan["answers"]["owners"]  # the answer keeps its own name


def test_slug_and_package_come_from_the_project(plan):
    context = template_context(plan)
    assert context["slug"] == plan["project"]["slug"] == plan["derived"]["project_slug"]
    assert context["package"] == plan["project"]["package"] == plan["derived"]["package_name"]
    assert "project_slug" not in context
    assert "package_name" not in context


def test_plan_and_sizing_are_the_plans_own(plan):
    context = template_context(plan)
    assert context["plan"] is plan
    assert context["sizing"] == plan["sizing"]
    assert context["records"] == records(plan)


def test_no_name_is_defined_by_two_sources(plan):
    answers, derived = set(plan["answers"]), _derived_names(plan)
    assert not answers & derived
    assert not answers & EXTRA_NAMES
    assert not derived & EXTRA_NAMES


def test_context_holds_exactly_answers_derived_and_extra_names(plan):
    expected = set(plan["answers"]) | _derived_names(plan) | EXTRA_NAMES
    assert set(template_context(plan)) == expected


@pytest.mark.parametrize(
    ("framework", "fastapi_only", "django_only"),
    [("fastapi", ".", ""), ("django", "", ".")],
    ids=["framework=fastapi", "framework=django"],
)
def test_framework_folders_are_root_or_skipped(framework, fastapi_only, django_only):
    context = template_context(_plan(framework=framework))
    assert (context["fastapi_only"], context["django_only"]) == (fastapi_only, django_only)


def test_records_are_the_recorded_decisions_in_order(plan):
    recorded = [entry for entry in plan["decisions"] if entry["record"]]
    assert [r["key"] for r in records(plan)] == [entry["key"] for entry in recorded]


def test_record_is_the_plan_entry_plus_its_file_name(plan):
    recorded = [entry for entry in plan["decisions"] if entry["record"]]
    for entry, record in zip(recorded, records(plan), strict=True):
        assert record == {**entry, "file": PurePosixPath(entry["record"]).name}
        assert record["file"].endswith(".md")
        assert "/" not in record["file"]


def test_records_leave_the_plan_untouched():
    plan = _plan()
    records(plan)
    assert all("file" not in entry for entry in plan["decisions"])


@pytest.mark.parametrize(
    ("queue", "has_broker"),
    [("none", False), ("celery", True)],
    ids=["queue=none", "queue=celery"],
)
def test_broker_record_only_with_a_queue(queue, has_broker):
    keys = [record["key"] for record in records(_plan(queue=queue))]
    assert ("broker" in keys) is has_broker
    assert "queue" in keys


def test_project_name_has_no_record():
    assert "project_name" not in [record["key"] for record in records(_plan())]
