"""Every preset and every combination the battery covers renders exactly its golden digests.

A difference is not necessarily a bug: it is a change to what users get. Read it, and when it
is meant, accept it with `.venv/bin/python -m tests.render.golden` and say why in the commit.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .golden import differences, golden_blueprints, load, render_digests

GOLDEN = load()
BLUEPRINTS = golden_blueprints()


def test_every_covered_combination_has_golden_digests() -> None:
    assert sorted(GOLDEN) == sorted(BLUEPRINTS), (
        "the covered combinations changed; regenerate: .venv/bin/python -m tests.render.golden"
    )


@pytest.mark.parametrize("key", sorted(BLUEPRINTS))
def test_render_matches_its_golden_digests(key: str, tmp_path: Path) -> None:
    found = differences(GOLDEN.get(key, {}), render_digests(BLUEPRINTS[key], tmp_path))
    assert not found, (
        f"{key} renders differently from its golden digests:\n"
        + "\n".join(found)
        + "\nif that is meant: .venv/bin/python -m tests.render.golden"
    )
