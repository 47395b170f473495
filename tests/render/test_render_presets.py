"""Every shipped preset renders offline into a project that passes the battery."""

from __future__ import annotations

import pytest

from scalekit_gen.blueprint import AnswerLayer, build_blueprint, coerce, plain
from scalekit_gen.catalog import DECISIONS
from scalekit_gen.presets import PresetInfo, list_presets, load_preset

from .battery import check_rendered_project
from .support import PROJECT_NAME, RenderFn

PRESETS = list_presets()


def test_presets_are_shipped() -> None:
    assert PRESETS, "no shipped presets found"
    assert len({p.name for p in PRESETS}) == len(PRESETS)


@pytest.mark.parametrize("preset", PRESETS, ids=[f"preset={p.name}" for p in PRESETS])
def test_preset_renders_offline(
    preset: PresetInfo, render: RenderFn, no_network: list[str]
) -> None:
    layers = load_preset(preset.name)
    blueprint = build_blueprint(
        [*layers, AnswerLayer("render test", {"project_name": PROJECT_NAME})]
    )
    root, result = render(blueprint)

    project = check_rendered_project(root, blueprint)
    assert list(result.files) == project.files
    assert not result.git_commit
    assert no_network == []
    # The preset's own answers are what was rendered, not the catalog defaults.
    for layer in layers:
        for key, value in layer.values.items():
            assert blueprint.answers[key] == coerce(DECISIONS[key], value), key
            assert project.plan["answers"][key] == plain(blueprint.answers[key]), key
