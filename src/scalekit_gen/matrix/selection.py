"""Which rows a matrix run checks: every valid one, or a covering set, filtered and sharded.

The order is fixed: enumerate the valid rows, keep those `--only`/`--exclude` allow, choose
(all of them, or a covering set of the given strength over them), then take the shard. So
shards of one selection are disjoint and together are the whole selection, on any machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from scalekit_gen.errors import MatrixError
from scalekit_gen.matrix import cover, space
from scalekit_gen.matrix.space import Row

PAIRWISE = 2


@dataclass(frozen=True)
class Selection:
    blueprints: int  # every valid blueprint of the catalog
    selected: int  # those --only/--exclude allow
    rows: list[Row]  # what this run checks
    how: str  # e.g. "pairwise (strength 2), shard 1/2"


def choose(
    *,
    only: Sequence[str] = (),
    exclude: Sequence[str] = (),
    everything: bool = False,
    strength: int | None = None,
    shard: str | None = None,
) -> Selection:
    """`everything`: every selected row; otherwise a covering set (pairwise by default)."""
    if everything and strength is not None:
        raise MatrixError("--all checks every blueprint; leave out --pairwise/--strength")
    if strength is not None and not 1 <= strength <= len(space.AXES):
        raise MatrixError(f"--strength {strength}: choose 1 to {len(space.AXES)} (2 = pairwise)")
    part = space.parse_shard(shard) if shard else None
    valid = space.valid_rows()
    selected = space.select(valid, only, exclude)
    if not selected:
        raise MatrixError(
            "no valid blueprint matches --only/--exclude "
            f"({', '.join([*only, *(f'not {e}' for e in exclude)])}) — loosen them"
        )
    if everything:
        rows, how = selected, "every blueprint"
    else:
        t = strength or PAIRWISE
        rows = cover.cover(selected, t)
        how = "pairwise (strength 2)" if t == PAIRWISE else f"covering set of strength {t}"
    if part is not None:
        rows = space.shard(rows, *part)
        how += f", shard {part[0]}/{part[1]}"
    return Selection(len(valid), len(selected), rows, how)
