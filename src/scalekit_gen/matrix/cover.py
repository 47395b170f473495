"""Covering sets: few valid rows in which every t-tuple of axis values meets.

`cover(rows, strength)` picks, from the valid rows, rows until every t-tuple of values (of t
different axes) that some valid row holds is held by a chosen one: pairwise at strength 2,
every triple at 3. Only valid rows are ever chosen, so a tuple the catalog forbids is never
asked for, and a tuple that only some valid rows hold is still covered.

The greedy is deterministic (the same rows in, the same rows out): take the smallest tuple
still uncovered, and among the rows holding it the one covering most uncovered tuples (the
first on ties; when thousands hold it, an evenly spaced `CANDIDATES` of them are scored,
which keeps `--strength 3` over all 158,976 blueprints to seconds). `seeds` are rows already
checked elsewhere whose tuples count as covered.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import Any

from scalekit_gen.matrix.space import AXIS_KEYS, Row

Group = tuple[int, ...]  # axis indexes, ascending
Tuple = tuple[tuple[int, Any], ...]  # ((axis index, value), ...) in axis order
CANDIDATES = 256


def groups(keys: Sequence[str], strength: int) -> list[Group]:
    indexes = sorted(AXIS_KEYS.index(key) for key in keys)
    return list(itertools.combinations(indexes, min(strength, len(indexes))))


def tuples_of(row: Row, strength: int, keys: Sequence[str] = AXIS_KEYS) -> set[Tuple]:
    return {tuple((i, row[i]) for i in group) for group in groups(keys, strength)}


def coverable(rows: Iterable[Row], strength: int, keys: Sequence[str] = AXIS_KEYS) -> set[Tuple]:
    """Every t-tuple of values of `keys` that one of `rows` holds."""
    rows = list(rows)
    return {
        tuple(zip(group, values, strict=True))
        for group in groups(keys, strength)
        for values in {tuple(row[i] for i in group) for row in rows}
    }


def _sort_key(item: tuple[Group, Any]) -> tuple[Group, str]:
    return item[0], repr(item[1])


def cover(
    rows: Sequence[Row],
    strength: int = 2,
    keys: Sequence[str] = AXIS_KEYS,
    seeds: Iterable[Row] = (),
) -> list[Row]:
    """Rows of `rows` covering every tuple of `keys` that `rows` hold and `seeds` do not."""
    if strength < 1:
        raise ValueError("the strength of a covering set is at least 1")
    return cover_groups(rows, groups(keys, strength), seeds)


def cover_groups(
    rows: Sequence[Row], wanted: Sequence[Group], seeds: Iterable[Row] = ()
) -> list[Row]:
    """Rows of `rows` in which every value some row gives each group of axes appears."""
    if not rows or not wanted:
        return []
    # Rows alike on every axis of the groups cover the same values: keep the first of each.
    distinct: dict[Any, Row] = {}
    project = itemgetter(*sorted({i for group in wanted for i in group}))
    for row in rows:
        distinct.setdefault(project(row), row)
    candidates = list(distinct.values())
    # A group's values as one hashable (itemgetter: a tuple, or the value for one axis).
    getters = {group: itemgetter(*group) for group in wanted}
    uncovered = {group: set(map(get, candidates)) for group, get in getters.items()}
    for seed in seeds:
        for group, get in getters.items():
            uncovered[group].discard(get(seed))
    # The targets in a fixed order, walked once: each is skipped once some row covers it.
    targets = sorted(((g, v) for g, held in uncovered.items() for v in held), key=_sort_key)
    chosen: list[Row] = []
    for group, values in targets:
        if values not in uncovered[group]:
            continue
        get = getters[group]
        holding = [row for row in candidates if get(row) == values]
        step = max(1, len(holding) // CANDIDATES)
        best = max(
            holding[::step],
            key=lambda row: sum(getters[g](row) in held for g, held in uncovered.items()),
        )
        chosen.append(best)
        for g, held in uncovered.items():
            held.discard(getters[g](best))
    return chosen
