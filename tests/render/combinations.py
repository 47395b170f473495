"""Answer combinations derived from the catalog, never listed by hand.

- `single_value_candidates()`: the defaults with one answer changed, for every option of every
  choice and multi-choice decision, the bounds of every integer decision, and a few names,
  owners and project names (the free-form kinds have no options to enumerate).
- `pairwise_fill(seeds)`: a covering set for every pair of options of two choice decisions
  that some valid blueprint can hold, on top of the pairs the seeds already cover;
- `worker_fill(seeds)`: every valid combination of WORKER_KEYS the seeds do not hold.

Both are `scalekit matrix`'s covering sets (`scalekit_gen.matrix.cover`) over its valid
rows, restricted to those keys; `coverable_pairs` and `worker_combinations` are computed here
without them, through `build_blueprint`, so the tests can check the covering sets.

Both grow with the catalog: a new decision or option gets rendered without touching the tests.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from scalekit_gen.blueprint import AnswerLayer, Blueprint, build_blueprint
from scalekit_gen.catalog import DECISION_LIST, Kind
from scalekit_gen.errors import BlueprintError
from scalekit_gen.matrix.cover import cover
from scalekit_gen.matrix.space import answers_of, row_of, valid_rows

from .support import PROJECT_NAME

Pair = tuple[tuple[str, str], tuple[str, str]]

# Decisions whose options interact: choices with more than one option.
PAIRWISE_KEYS: tuple[str, ...] = tuple(
    d.key for d in DECISION_LIST if d.kind is Kind.CHOICE and len(d.values) > 1
)
# The job queue's code is rendered from templates/includes/<framework>/queue/<queue>/ and
# branches on the concurrency model and the broker: each valid combination of these renders a
# different worker, and pairs miss some (a lint error in FastAPI sync + dramatiq once shipped
# while every pair was covered). So all of them are rendered: about 20.
WORKER_KEYS = ("framework", "concurrency", "queue", "broker")
# Free-form kinds have no options to enumerate; these exercise what they can hold.
MODULES = ["billing", "accounts", "search"]
OWNERS = {"*": "@acme/platform", "billing": "@acme/payments", "accounts": "accounts@acme.example"}
PROJECT_NAMES = ['Café: "Shop" #2', "42"]


@dataclass(frozen=True)
class Combination:
    id: str
    values: Mapping[str, Any]  # given on top of the catalog defaults

    def layer(self) -> AnswerLayer:
        return AnswerLayer(f"combination {self.id}", {"project_name": PROJECT_NAME, **self.values})

    def build(self) -> Blueprint:
        return build_blueprint([self.layer()])


def _integer_values(low: int, high: int) -> list[int]:
    return sorted({low, min(low + 2, high), high})


def single_value_candidates() -> list[Combination]:
    out = [Combination("defaults", {})]
    for d in DECISION_LIST:
        if d.kind is Kind.CHOICE:
            out += [Combination(f"{d.key}={v}", {d.key: v}) for v in d.values]
        elif d.kind is Kind.MULTI:
            out += [Combination(f"{d.key}={v}", {d.key: [v]}) for v in d.values]
            out.append(Combination(f"{d.key}=none", {d.key: []}))
            out.append(Combination(f"{d.key}=all", {d.key: list(d.values)}))
        elif d.kind is Kind.INTEGER:
            assert d.minimum is not None and d.maximum is not None, d.key
            values = _integer_values(d.minimum, d.maximum)
            out += [Combination(f"{d.key}={v}", {d.key: v}) for v in values]
        elif d.kind is Kind.NAMES:
            out.append(Combination(f"{d.key}={','.join(MODULES)}", {d.key: MODULES}))
            assert d.maximum is not None, d.key
            most = [f"domain{n:02d}" for n in range(1, d.maximum + 1)]
            out.append(Combination(f"{d.key}=domain01..domain{d.maximum:02d}", {d.key: most}))
        elif d.kind is Kind.OWNERS:
            out.append(Combination(f"{d.key}=per-module", {"modules": MODULES, d.key: OWNERS}))
        elif d.kind is Kind.TEXT:
            out += [Combination(f"{d.key}={v}", {d.key: v}) for v in PROJECT_NAMES]
    return out


def classify(
    candidates: Iterable[Combination],
) -> tuple[list[tuple[Combination, Blueprint]], list[tuple[Combination, BlueprintError]]]:
    """Split into (accepted, deduplicated by their answers) and refused."""
    accepted: list[tuple[Combination, Blueprint]] = []
    refused: list[tuple[Combination, BlueprintError]] = []
    seen: set[str] = set()
    for combination in candidates:
        try:
            blueprint = combination.build()
        except BlueprintError as error:
            refused.append((combination, error))
            continue
        key = json.dumps(blueprint.copier_data, sort_keys=True)
        if key not in seen:
            seen.add(key)
            accepted.append((combination, blueprint))
    return accepted, refused


def pairs_in(answers: Mapping[str, Any]) -> set[Pair]:
    present = [k for k in PAIRWISE_KEYS if answers.get(k) is not None]
    return {((a, answers[a]), (b, answers[b])) for a, b in itertools.combinations(present, 2)}


def _try(values: Mapping[str, Any]) -> Blueprint | None:
    try:
        return Combination("probe", values).build()
    except BlueprintError:
        return None


def all_pairs() -> list[Pair]:
    """Every pair of options of two different choice decisions, valid or not."""
    from scalekit_gen.catalog import DECISIONS

    return [
        ((a, va), (b, vb))
        for a, b in itertools.combinations(PAIRWISE_KEYS, 2)
        for va in DECISIONS[a].values
        for vb in DECISIONS[b].values
    ]


def coverable_pairs() -> set[Pair]:
    """Pairs that a valid blueprint holds when exactly that pair is given (the oracle the
    covering set is tested against, computed without it)."""
    out = set()
    for pair in all_pairs():
        blueprint = _try(dict(pair))
        if blueprint is not None and pair in pairs_in(blueprint.answers):
            out.add(pair)
    return out


def pairwise_fill(seeds: Iterable[Blueprint]) -> list[Combination]:
    """Rows covering every pair of PAIRWISE_KEYS values the seeds do not cover."""
    rows = cover(valid_rows(), 2, PAIRWISE_KEYS, seeds=[row_of(b.answers) for b in seeds])
    return [
        Combination(
            f"pairwise-{number:02d}",
            {k: v for k, v in answers_of(row).items() if k in PAIRWISE_KEYS},
        )
        for number, row in enumerate(rows, start=1)
    ]


def held(answers: Mapping[str, Any], keys: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(answers.get(key) for key in keys)


def worker_combinations() -> set[tuple[Any, ...]]:
    """Every WORKER_KEYS combination a valid blueprint holds (None where a key is moot)."""
    from scalekit_gen.catalog import DECISIONS

    out = set()
    for values in itertools.product(*(DECISIONS[key].values for key in WORKER_KEYS)):
        blueprint = _try(dict(zip(WORKER_KEYS, values, strict=True)))
        if blueprint is not None:
            out.add(held(blueprint.answers, WORKER_KEYS))
    return out


def worker_fill(seeds: Iterable[Blueprint]) -> list[Combination]:
    """A row for each of `worker_combinations()` that no seed holds."""
    rows = cover(valid_rows(), len(WORKER_KEYS), WORKER_KEYS, [row_of(b.answers) for b in seeds])
    out = []
    for row in rows:
        given = {k: v for k, v in answers_of(row).items() if k in WORKER_KEYS}
        out.append(Combination(",".join(f"{k}={v}" for k, v in given.items()), given))
    return out
