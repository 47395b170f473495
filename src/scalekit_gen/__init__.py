"""scalekit: week-one backend decisions in, a project that runs on day one out.

The public API a platform team scripts against; everything else is an implementation detail.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "AnswerLayer",
    "Blueprint",
    "ScalekitError",
    "build_blueprint",
    "build_plan",
    "load_preset",
    "render_project",
]

if TYPE_CHECKING:
    from scalekit_gen.blueprint import AnswerLayer, Blueprint, build_blueprint
    from scalekit_gen.errors import ScalekitError
    from scalekit_gen.plan import build_plan
    from scalekit_gen.presets import load_preset
    from scalekit_gen.render import render_project

_LOCATIONS = {
    "AnswerLayer": "blueprint",
    "Blueprint": "blueprint",
    "build_blueprint": "blueprint",
    "ScalekitError": "errors",
    "build_plan": "plan",
    "load_preset": "presets",
    "render_project": "render",
}


def __getattr__(name: str) -> Any:
    # Lazy: `scalekit --help` must not pay for importing Copier.
    if name in _LOCATIONS:
        from importlib import import_module

        return getattr(import_module(f"scalekit_gen.{_LOCATIONS[name]}"), name)
    raise AttributeError(f"module 'scalekit_gen' has no attribute {name!r}")
