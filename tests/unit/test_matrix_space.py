"""The matrix's space: the valid rows are exactly the blueprints `build_blueprint` accepts,
and the filters, shards and covering sets do what they say."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from scalekit_gen.blueprint import AnswerLayer, build_blueprint
from scalekit_gen.catalog import DECISIONS, Kind, naming
from scalekit_gen.errors import BlueprintError, MatrixError
from scalekit_gen.matrix import cover, selection, space
from scalekit_gen.matrix.space import AXES, AXIS_KEYS, row_of

VALID = space.valid_rows()


def _accepted_rows(fixed: dict[str, Any]) -> set[tuple[Any, ...]]:
    """Through `build_blueprint` alone: the rows of every accepted answer set in the raw
    product of the axes' values (every broker given even without a queue), `fixed` held."""
    free = [axis for axis in AXES if axis.key not in fixed]
    out = set()
    for values in itertools.product(*(axis.values for axis in free)):
        given = {**fixed, **dict(zip((axis.key for axis in free), values, strict=True))}
        try:
            blueprint = build_blueprint([AnswerLayer("oracle", given)])
        except BlueprintError:
            continue
        out.add(row_of(blueprint.answers))
    return out


@pytest.mark.parametrize(
    "fixed",
    [
        {"cache": "memcached", "ci": "gitlab", "deploy": "compose"},
        {"cache": "none", "ci": "none", "deploy": "compose+kubernetes", "load_tests": "locust"},
        {"observability": ("sentry",), "pooling": "app-pool-only", "read_replicas": 2},
    ],
    ids=lambda fixed: ",".join(f"{k}={v}" for k, v in fixed.items()),
)
def test_valid_rows_are_exactly_the_accepted_blueprints(fixed: dict[str, Any]) -> None:
    index = {key: AXIS_KEYS.index(key) for key in fixed}
    enumerated = {row for row in VALID if all(row[index[k]] == v for k, v in fixed.items())}
    assert enumerated == _accepted_rows(fixed)


def test_every_valid_row_builds_and_is_its_own_row() -> None:
    for row in VALID[::97]:  # a spread sample; the oracle above is exhaustive on slices
        assert row_of(space.blueprint_of(row).answers) == row


def test_the_count_is_the_product_of_the_options_less_what_the_rules_refuse() -> None:
    # Independent of the enumeration: the worker combinations the rules allow, times every
    # value of every other axis.
    positions = [AXIS_KEYS.index(key) for key in space.WORKER_AXES]
    workers = {
        tuple(row[i] for i in positions)
        for row in _accepted_rows(
            {a.key: a.values[0] for a in AXES if a.key not in space.WORKER_AXES}
        )
    }
    others = 1
    for axis in AXES:
        if axis.key not in space.WORKER_AXES:
            others *= len(axis.values)
    assert len(VALID) == len(workers) * others
    multi = [d for d in DECISIONS.values() if d.kind is Kind.MULTI]
    assert all(len(AXES[AXIS_KEYS.index(d.key)].values) == 2 ** len(d.values) for d in multi)


def test_a_decision_that_does_not_apply_is_one_row() -> None:
    queue, broker = AXIS_KEYS.index("queue"), AXIS_KEYS.index("broker")
    assert {row[broker] for row in VALID if row[queue] == "none"} == {None}
    assert {row[broker] for row in VALID if row[queue] == "celery"} == {"redis", "rabbitmq"}


def test_only_and_exclude() -> None:
    rows = space.select(VALID, only=["queue=rq", "queue=celery", "cache=none"])
    queue, cache = AXIS_KEYS.index("queue"), AXIS_KEYS.index("cache")
    assert rows and {row[queue] for row in rows} == {"rq", "celery"}
    assert {row[cache] for row in rows} == {"none"}
    kept = space.select(VALID, exclude=["observability=none", "broker=n/a"])
    observability = AXIS_KEYS.index("observability")
    assert all(row[observability] != () and row[queue] != "none" for row in kept)
    assert len(space.select(VALID, only=["observability=prometheus+sentry"])) * 8 == len(VALID)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("queue", "write key=value"),
        ("colour=red", "not a matrix axis"),
        ("queue=kafka", "choose one of celery, dramatiq, rq, taskiq, none"),
        ("framework=n/a", "not a value"),  # always applies
    ],
)
def test_bad_conditions_say_what_to_write(text: str, says: str) -> None:
    with pytest.raises(MatrixError, match=says):
        space.select(VALID, only=[text])


def test_shards_are_disjoint_and_cover_the_selection() -> None:
    rows = list(VALID[:1000])
    parts = [space.shard(rows, i, 3) for i in (1, 2, 3)]
    assert sorted(itertools.chain(*parts)) == sorted(rows)
    assert sum(map(len, parts)) == len(rows)
    for text in ("0/3", "4/3", "1-3", "a/b", "1/0"):
        with pytest.raises(MatrixError, match="write I/N"):
            space.parse_shard(text)


@pytest.mark.parametrize("strength", [1, 2, 3])
def test_covering_sets_hold_every_tuple_some_valid_row_holds(strength: int) -> None:
    rows = space.select(VALID, only=["framework=django", "ci=github"])
    chosen = cover.cover(rows, strength)
    assert set(chosen) <= set(rows)  # only valid rows
    assert cover.coverable(chosen, strength) == cover.coverable(rows, strength)
    assert cover.cover(rows, strength) == chosen  # deterministic
    assert len(chosen) < len(rows) / 10


def test_a_covering_set_of_full_strength_is_every_distinct_row() -> None:
    keys = ("framework", "concurrency", "queue", "broker")
    chosen = cover.cover(VALID, len(keys), keys)
    worker = [tuple(row[AXIS_KEYS.index(k)] for k in keys) for row in chosen]
    assert len(set(worker)) == len(worker)
    assert set(worker) == {tuple(row[AXIS_KEYS.index(k)] for k in keys) for row in VALID}


def test_seeds_count_as_covered() -> None:
    rows = space.select(VALID, only=["deploy=compose", "ci=gitlab"])
    everything = cover.cover(rows, 2)
    assert cover.cover(rows, 2, seeds=everything) == []
    rest = cover.cover(rows, 2, seeds=everything[:10])
    assert cover.coverable(everything[:10] + rest, 2) == cover.coverable(rows, 2)


def test_selection_order_filters_then_covers_then_shards() -> None:
    whole = selection.choose(only=["framework=fastapi"])
    assert whole.blueprints == len(VALID)
    assert whole.selected == len(space.select(VALID, only=["framework=fastapi"]))
    halves = [selection.choose(only=["framework=fastapi"], shard=f"{i}/2") for i in (1, 2)]
    assert sorted(halves[0].rows + halves[1].rows) == sorted(whole.rows)
    assert "shard 1/2" in halves[0].how
    assert len(selection.choose(only=["queue=rq"], everything=True).rows) == len(
        space.select(VALID, only=["queue=rq"])
    )
    with pytest.raises(MatrixError, match="no valid blueprint matches"):
        selection.choose(only=["queue=taskiq", "concurrency=sync"])
    with pytest.raises(MatrixError, match="--strength 0"):
        selection.choose(strength=0)
    with pytest.raises(MatrixError, match="--all"):
        selection.choose(everything=True, strength=2)


def test_the_matrix_names_are_the_longest_the_catalog_accepts() -> None:
    name = space.LONGEST_NAMES["project_name"]
    modules = space.LONGEST_NAMES["modules"]
    assert naming.project_name_problem(name) is None
    slug = naming.slugify(name)
    assert len(slug) == naming.MAX_SLUG_LENGTH
    assert naming.project_name_problem(name + "x") is not None  # one more is refused
    # A leading digit makes the package `svc_<slug>`, longer than any other slug's package.
    assert naming.package_name(slug) == f"svc_{slug.replace('-', '_')}"
    assert len(modules) >= 2  # what lists or crosses modules needs a second one
    for module in modules:
        assert naming.module_name_problem(module) is None
        assert len(module) == naming.MAX_MODULE_NAME_LENGTH
        assert naming.module_name_problem(module + "x") is not None
    blueprint = space.blueprint_of(VALID[0], space.LONGEST_NAMES)
    assert blueprint.answers["project_name"] == name
    assert list(blueprint.answers["modules"]) == modules
