"""The plan: a blueprint as a stable, machine-readable document.

`scalekit plan --format json|yaml` prints it, the table view reads it, and the template renders
the decision records and `docs/capacity.md` from it — one description of a decision everywhere.
Keys only get added within a schema version; renaming or removing one bumps `scalekit_plan`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from scalekit_gen.blueprint import Blueprint, plain
from scalekit_gen.catalog import CONSEQUENCES, DECISION_LIST, RECORD_NUMBERS, Cost, Decision, Kind
from scalekit_gen.sizing import DEFAULT_ASSUMPTIONS, FORMULAS

SCHEMA_VERSION = 1


def record_path(decision: Decision) -> str:
    """Where a decision's record lands in the generated project, ADR style."""
    number = RECORD_NUMBERS[decision.key]
    return f"docs/decisions/{number:04d}-{decision.key.replace('_', '-')}.md"


def display(value: Any) -> str:
    """An answer as a person reads it."""
    if value is None:
        return "n/a"
    if isinstance(value, Mapping):
        return ", ".join(
            f"{'everything else' if module == '*' else module}: {owner}"
            for module, owner in value.items()
        )
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value) or "none"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _chosen_options(decision: Decision, value: Any) -> list[Any]:
    if not decision.options or value is None:
        return []
    values = value if decision.kind is Kind.MULTI else [value]
    return [decision.option(v) for v in values]


def reversal_of(decision: Decision, value: Any) -> tuple[str, str]:
    chosen = _chosen_options(decision, value)
    if chosen:
        worst = max(chosen, key=lambda option: option.reversal.cost.rank)
        return worst.reversal.cost.value, worst.reversal.reason
    if decision.reversal is not None:
        return decision.reversal.cost.value, decision.reversal.reason
    return Cost.LOW.value, ""


def _display(blueprint: Blueprint, decision: Decision, value: Any) -> str:
    if value is None:
        return f"n/a ({decision.applies_note})"
    if decision.key == "peak_rps" and value == 0:
        return f"estimated: {blueprint.sizing.peak_rps:,}"
    return display(value)


def decision_entry(blueprint: Blueprint, decision: Decision) -> dict[str, Any]:
    value = blueprint.answers[decision.key]
    chosen = _chosen_options(decision, value)
    cost, cost_reason = reversal_of(decision, value)
    chosen_values = {option.value for option in chosen}
    return {
        "key": decision.key,
        "record": record_path(decision) if decision.recorded and value is not None else None,
        "title": decision.title,
        "question": decision.question,
        "context": decision.context,
        "applies": value is not None,
        "applies_note": decision.applies_note,
        "value": plain(value),
        "display": _display(blueprint, decision, value),
        "source": blueprint.sources[decision.key],
        "why": "; ".join(option.choose_when for option in chosen),
        "cost": cost,
        "cost_reason": cost_reason,
        "alternatives": [
            {
                "value": option.value,
                "choose_when": option.choose_when,
                "cost": option.reversal.cost.value,
            }
            for option in decision.options
            if option.value not in chosen_values
        ],
        "consequences": [
            c.note
            for c in CONSEQUENCES
            if c.shown_in_record_of(decision.key) and c.holds_for(blueprint.answers)
        ],
    }


def build_plan(blueprint: Blueprint) -> dict[str, Any]:
    return {
        "scalekit_plan": SCHEMA_VERSION,
        "project": {
            "name": blueprint.answers["project_name"],
            "slug": blueprint.project_slug,
            "package": blueprint.package_name,
        },
        "answers": {key: plain(value) for key, value in blueprint.answers.items()},
        "decisions": [decision_entry(blueprint, decision) for decision in DECISION_LIST],
        "consequences": list(blueprint.consequences),
        "derived": blueprint.derived(),
        "sizing": blueprint.sizing.as_dict(),
        "assumptions": asdict(DEFAULT_ASSUMPTIONS),
        "formulas": [{"what": what, "formula": formula} for what, formula in FORMULAS],
        "warnings": list(blueprint.sizing.warnings),
    }
