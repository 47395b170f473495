"""The space of blueprints the matrix proves: axes, valid rows, filters and shards.

A row gives a value to every axis: each choice decision of the catalog, the observability
subset (one value per subset, `none` for the empty one) and read replicas as 0 or
`SOME_REPLICAS`. The free-form decisions have no options to enumerate: the project name and
the modules are the longest the catalog accepts when the matrix renders (`LONGEST_NAMES`),
owners, target users and peak RPS keep their defaults (docs/matrix.md says what that leaves
uncovered). A decision that does not apply to a row (the broker without a queue) holds None
there, so `queue=none` is one row, not one per broker.

A row is valid exactly when `build_blueprint` accepts its answers: the enumeration asks the
catalog's own rules (`rule_violations` on the completed answers, as `build_blueprint` does),
never a test.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from scalekit_gen.blueprint import AnswerLayer, Blueprint, build_blueprint, complete
from scalekit_gen.catalog import DECISION_LIST, DECISIONS, Kind, rule_violations
from scalekit_gen.errors import MatrixError

REPLICAS = "read_replicas"
# The "some replicas" representative: two, so every list of replica URLs has a separator.
SOME_REPLICAS = 2
NONE_LABEL = "none"  # the empty observability subset
NOT_APPLICABLE = "n/a"
SOURCE = "scalekit matrix"
# The decisions the catalog's rules tie together (every rule is among these); the docs'
# count is the valid combinations of these times every value of every other axis.
WORKER_AXES = ("framework", "concurrency", "queue", "broker")


@dataclass(frozen=True)
class Axis:
    key: str
    values: tuple[Any, ...]  # as the catalog parses them (a tuple for a multi-choice)

    def label(self, value: Any) -> str:
        if value is None:
            return NOT_APPLICABLE
        if isinstance(value, tuple):
            return "+".join(value) or NONE_LABEL
        return str(value)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.label(value) for value in self.values)

    def value_of(self, label: str) -> Any:
        for value in self.values:
            if self.label(value) == label:
                return value
        raise KeyError(label)


def _subsets(options: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    return tuple(
        subset
        for size in range(len(options) + 1)
        for subset in itertools.combinations(options, size)
    )


def axes() -> tuple[Axis, ...]:
    """One axis per decision with options to enumerate, in catalog (asking) order."""
    out = []
    for decision in DECISION_LIST:
        if decision.kind is Kind.CHOICE:
            out.append(Axis(decision.key, decision.values))
        elif decision.kind is Kind.MULTI:
            out.append(Axis(decision.key, _subsets(decision.values)))
        elif decision.key == REPLICAS:
            out.append(Axis(decision.key, (0, SOME_REPLICAS)))
    return tuple(out)


AXES = axes()
AXIS_KEYS = tuple(axis.key for axis in AXES)
_INDEX = {key: index for index, key in enumerate(AXIS_KEYS)}

Row = tuple[Any, ...]  # one value per axis of AXES, None where the decision does not apply


def answers_of(row: Row) -> dict[str, Any]:
    """The answers a row gives (decisions that do not apply left out)."""
    return {key: value for key, value in zip(AXIS_KEYS, row, strict=True) if value is not None}


def row_id(row: Row) -> str:
    return ",".join(
        f"{axis.key}={axis.label(value)}" for axis, value in zip(AXES, row, strict=True)
    )


def row_of(answers: Mapping[str, Any]) -> Row:
    """The row a blueprint's answers fall in (read replicas bucketed as 0 or some)."""
    out = []
    for axis in AXES:
        value = answers.get(axis.key)
        if axis.key == REPLICAS and value:
            value = SOME_REPLICAS
        elif isinstance(value, list):
            value = tuple(value)
        out.append(value)
    return tuple(out)


# The names a rendered row gets: the longest the catalog accepts (catalog/naming.py), so a
# template line that fits them fits every project. A slug of MAX_SLUG_LENGTH that starts with
# a digit makes the longest package (`svc_9_…`, 4 longer); two modules of
# MAX_MODULE_NAME_LENGTH, because what lists or crosses modules (the worker, the API registry,
# tests importing another module) needs a second. tests/unit/test_matrix_space.py checks
# that each is at its limit. Ordinary names are what the render tests use.
LONGEST_NAMES: dict[str, Any] = {
    "project_name": "9-acme-payments-reconciliation-settlement-service-eu",
    "modules": ["payments_reconciliation_batch", "customer_notification_setting"],
}


def blueprint_of(row: Row, names: Mapping[str, Any] | None = None) -> Blueprint:
    """The row's blueprint, named by `names` (project_name, modules; "matrix" if none)."""
    given = {"project_name": "matrix", **(names or {}), **answers_of(row)}
    return build_blueprint([AnswerLayer(SOURCE, given)])


def _rows(prefix: dict[str, Any], index: int) -> Iterator[Row]:
    """Every assignment of the axes from `index` on, None where a decision does not apply."""
    if index == len(AXES):
        yield tuple(prefix.get(key) for key in AXIS_KEYS)
        return
    axis = AXES[index]
    if not DECISIONS[axis.key].applies_to(prefix):
        yield from _rows(prefix, index + 1)
        return
    for value in axis.values:
        prefix[axis.key] = value
        yield from _rows(prefix, index + 1)
    del prefix[axis.key]


def is_valid(row: Row) -> bool:
    """What `build_blueprint` decides for the row's answers, by the catalog's own rules."""
    answers, _ = complete(answers_of(row))
    return not rule_violations(answers)


def all_rows() -> Iterator[Row]:
    """Every row, valid or not (decisions that do not apply held at None)."""
    return _rows({}, 0)


@cache
def valid_rows() -> tuple[Row, ...]:
    """Every valid row, in catalog order (the first axis varies slowest)."""
    return tuple(row for row in all_rows() if is_valid(row))


# --------------------------------------------------------------------------- filters


class FilterError(MatrixError):
    """A `--only`/`--exclude`/`--shard` the space cannot take; the message says the fix."""


@dataclass(frozen=True)
class Condition:
    key: str
    value: Any

    def holds(self, row: Row) -> bool:
        return bool(row[_INDEX[self.key]] == self.value)


def parse_condition(text: str) -> Condition:
    key, sep, label = (part.strip() for part in text.partition("="))
    if not sep:
        raise FilterError(f"{text!r}: write key=value, e.g. queue=celery")
    if key not in _INDEX:
        raise FilterError(f"{key!r} is not a matrix axis — choose one of {', '.join(AXIS_KEYS)}")
    axis = AXES[_INDEX[key]]
    labels = axis.labels
    if DECISIONS[key].applies is not None:
        labels = (*labels, NOT_APPLICABLE)
    if label not in labels:
        choices = ", ".join(labels)
        raise FilterError(f"{key}={label}: {label!r} is not a value — choose one of {choices}")
    return Condition(key, None if label == NOT_APPLICABLE else axis.value_of(label))


def select(rows: Iterable[Row], only: Sequence[str] = (), exclude: Sequence[str] = ()) -> list[Row]:
    """Rows matching every `--only` key (any of its values) and none of the `--exclude`s."""
    wanted: dict[str, list[Condition]] = {}
    for text in only:
        condition = parse_condition(text)
        wanted.setdefault(condition.key, []).append(condition)
    unwanted = [parse_condition(text) for text in exclude]
    return [
        row
        for row in rows
        if all(any(c.holds(row) for c in group) for group in wanted.values())
        and not any(c.holds(row) for c in unwanted)
    ]


def parse_shard(text: str) -> tuple[int, int]:
    """`I/N` (1-based) -> (I, N)."""
    index, sep, count = text.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        i, n = 0, 0
    if not sep or n < 1 or not 1 <= i <= n:
        raise FilterError(f"--shard {text!r}: write I/N with 1 <= I <= N, e.g. 2/4")
    return i, n


def shard(rows: Sequence[Row], index: int, count: int) -> list[Row]:
    """Every count-th row from the index-th: shards 1..N are disjoint and cover all rows."""
    return list(rows[index - 1 :: count])
