"""The Jinja extension the template loads (`_jinja_extensions` in copier.yml).

It lets `copier.yml` and the template files ask the catalog and the blueprint instead of
repeating their logic in Jinja: computed defaults, which questions apply, validation messages,
and the whole plan (decisions, derived names, sizing) for rendering. Because of it, plain
`copier copy --trust` validates and renders exactly as `scalekit new` does.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import Environment, Undefined, pass_context
from jinja2.ext import Extension
from jinja2.runtime import Context

from scalekit_gen.blueprint import AnswerLayer, build_blueprint, coerce
from scalekit_gen.catalog import DECISIONS, conflicts, fitting_default
from scalekit_gen.errors import ScalekitError
from scalekit_gen.plan import build_plan

SOURCE = "copier answers"


def _answers(context: Context) -> dict[str, Any]:
    """The catalog answers present in a Copier rendering context (earlier questions only)."""
    found: dict[str, Any] = {}
    for key in DECISIONS:
        value = context.get(key)
        if value is not None and not isinstance(value, Undefined):
            found[key] = value
    return found


def _coerced(context: Context) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, raw in _answers(context).items():
        try:
            out[key] = coerce(DECISIONS[key], raw)
        except ValueError:
            continue  # reported by that question's own validator
    return out


@pass_context
def scalekit_default(context: Context, key: str) -> Any:
    value = fitting_default(key, _coerced(context))
    return json.dumps(value) if isinstance(value, Mapping) else value


@pass_context
def scalekit_applies(context: Context, key: str) -> bool:
    return DECISIONS[key].applies_to(_coerced(context))


@pass_context
def scalekit_validate(context: Context, key: str) -> str:
    """Empty when the answer to `key` is fine; otherwise the message Copier shows."""
    raw = context.get(key)
    if raw is None or isinstance(raw, Undefined):
        return ""
    try:
        value = coerce(DECISIONS[key], raw)
    except ValueError as error:
        return str(error)
    answered = {k: v for k, v in _coerced(context).items() if k != key}
    return "; ".join(conflicts(key, value, answered))


@lru_cache(maxsize=32)
def _plan_for(answers_json: str) -> dict[str, Any]:
    layer = AnswerLayer(SOURCE, json.loads(answers_json))
    return build_plan(build_blueprint([layer]))


@pass_context
def scalekit_plan(context: Context) -> dict[str, Any]:
    """The full plan for the answers being rendered (cached: every file asks for it)."""
    try:
        # Not sort_keys: the order of owners is part of the answer.
        return _plan_for(json.dumps(_answers(context), default=list))
    except ScalekitError as error:
        raise ValueError(str(error)) from None


@pass_context
def scalekit_module(context: Context, slot: int) -> str:
    """The name of the module in `slot`, or "" (Copier skips a path that renders empty)."""
    modules = scalekit_plan(context)["answers"]["modules"]
    return str(modules[slot]) if slot < len(modules) else ""


def scalekit_secret(nbytes: int = 48) -> str:
    """A fresh secret on every call: no two renders share one."""
    return secrets.token_urlsafe(nbytes)


class ScalekitExtension(Extension):
    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.globals.update(
            scalekit_default=scalekit_default,
            scalekit_applies=scalekit_applies,
            scalekit_validate=scalekit_validate,
            scalekit_plan=scalekit_plan,
            scalekit_module=scalekit_module,
            scalekit_secret=scalekit_secret,
        )
