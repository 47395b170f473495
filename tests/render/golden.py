"""Golden digests of rendered trees: what each covered combination renders, file by file.

`tests/render/golden/digests.json` maps a combination id (every shipped preset and every
combination the render battery covers) to {relative path: sha256 prefix} of its rendered
files. The test that reads it fails on any difference and lists, per combination, the files
added, removed or changed — so a change meant to restructure the template proves that it
renders the same projects, and a change meant to alter them shows exactly where it did.

Renders here are deterministic: secrets come from a counter instead of `secrets`, and the
template's own location (recorded in `.copier-answers.yml`) is replaced by a placeholder.

Accept the current renders as the new golden digests (after reading the difference!):
    .venv/bin/python -m tests.render.golden
"""

from __future__ import annotations

import hashlib
import itertools
import json
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from scalekit_gen import copier_ext
from scalekit_gen.blueprint import AnswerLayer, Blueprint, build_blueprint
from scalekit_gen.paths import template_dir
from scalekit_gen.presets import list_presets, load_preset
from scalekit_gen.render import render_project

from .combinations import classify, pairwise_fill, single_value_candidates
from .support import PROJECT_NAME

GOLDEN = Path(__file__).parent / "golden" / "digests.json"
DIGEST_CHARS = 16
TEMPLATE_PLACEHOLDER = b"<template>"

Digests = dict[str, str]


def golden_blueprints() -> dict[str, Blueprint]:
    """Every shipped preset and every combination the render battery covers, by id."""
    out: dict[str, Blueprint] = {}
    for preset in list_presets():
        name_layer = AnswerLayer("golden", {"project_name": PROJECT_NAME})
        out[f"preset={preset.name}"] = build_blueprint([*load_preset(preset.name), name_layer])
    accepted, _ = classify(single_value_candidates())
    for combination, blueprint in accepted:
        out[combination.id] = blueprint
    for combination in pairwise_fill(blueprint for _, blueprint in accepted):
        out[combination.id] = combination.build()
    return out


@contextmanager
def deterministic_secrets() -> Iterator[None]:
    """Secrets from a counter, so two renders of the same answers are byte-identical."""
    counter = itertools.count(1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            copier_ext, "scalekit_secret", lambda nbytes=48: f"secret-{next(counter)}-{nbytes}"
        )
        yield


def tree_digests(root: Path) -> Digests:
    template = str(template_dir()).encode()
    out: Digests = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        content = path.read_bytes().replace(template, TEMPLATE_PLACEHOLDER)
        out[path.relative_to(root).as_posix()] = hashlib.sha256(content).hexdigest()[:DIGEST_CHARS]
    return out


def render_digests(blueprint: Blueprint, workdir: Path) -> Digests:
    dest = workdir / "project"
    with deterministic_secrets():
        render_project(blueprint, dest, git=False)
    return tree_digests(dest)


def differences(expected: Digests, actual: Digests) -> list[str]:
    """One line per file that was added, removed or changed."""
    lines = [f"  removed: {p}" for p in sorted(expected.keys() - actual.keys())]
    lines += [f"  added:   {p}" for p in sorted(actual.keys() - expected.keys())]
    lines += [
        f"  changed: {p}"
        for p in sorted(expected.keys() & actual.keys())
        if expected[p] != actual[p]
    ]
    return lines


def load() -> dict[str, Digests]:
    return json.loads(GOLDEN.read_text("utf-8")) if GOLDEN.exists() else {}


def main() -> int:
    digests: dict[str, Digests] = {}
    for key, blueprint in golden_blueprints().items():
        with tempfile.TemporaryDirectory() as workdir:
            digests[key] = render_digests(blueprint, Path(workdir))
        print(f"rendered {key}: {len(digests[key])} files", file=sys.stderr)
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n", "utf-8")
    print(f"wrote {GOLDEN}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
