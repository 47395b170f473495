"""The rule engine: which answers break which rules, what fits instead and what follows.

The rules and consequences are written beside their decisions (`decisions`); the flat lists
here are derived from them in catalog order, decision by decision and option by option, so
there is one place to write a rule and one order to read them in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scalekit_gen.catalog.decisions import DECISION_LIST, DECISIONS
from scalekit_gen.catalog.types import Answers, Consequence, Kind


@dataclass(frozen=True)
class Requirement:
    """Choosing `value` for `key` requires `other` to be one of `allowed`.

    Every rule between two decisions has this shape, so every refusal message names both
    choices and the two ways out.
    """

    key: str
    value: str
    other: str
    allowed: tuple[str, ...]
    why: str

    def violated_by(self, answers: Answers) -> bool:
        if answers.get(self.key) != self.value or self.other not in answers:
            return False
        other_value = answers[self.other]
        return other_value is not None and other_value not in self.allowed

    def message(self, answers: Answers) -> str:
        wanted = " or ".join(f"{self.other}: {value}" for value in self.allowed)
        alternatives = [v for v in allowed_values(self.key, answers) if v != self.value]
        fix = f"set {self.other}: {self.allowed[0]}"
        if alternatives:
            fix += f", or choose {self.key}: {' / '.join(alternatives)}"
        return (
            f"{self.key}: {self.value} needs {wanted}, but {self.other} is "
            f"{answers[self.other]} — {self.why}. Fix: {fix}"
        )


REQUIREMENTS: tuple[Requirement, ...] = tuple(
    Requirement(decision.key, option.value, need.other, need.allowed, need.why)
    for decision in DECISION_LIST
    for option in decision.options
    for need in option.requires
)

CONSEQUENCES: tuple[Consequence, ...] = tuple(
    consequence for decision in DECISION_LIST for consequence in decision.consequences
)


def _applicable_only(answers: Answers) -> dict[str, Any]:
    """Answers with the decisions that do not apply (broker without a queue) blanked."""
    trial = dict(answers)
    for decision in DECISION_LIST:
        if decision.key in trial and not decision.applies_to(trial):
            trial[decision.key] = None
    return trial


def _conflicts(key: str, value: Any, answers: Answers) -> list[Requirement]:
    trial = _applicable_only({**answers, key: value})
    return [
        rule for rule in REQUIREMENTS if key in (rule.key, rule.other) and rule.violated_by(trial)
    ]


def conflicts(key: str, value: Any, answers: Answers) -> list[str]:
    """Messages for every rule that `key: value` would break, given the other answers."""
    trial = {**answers, key: value}
    return [rule.message(trial) for rule in _conflicts(key, value, answers)]


def rule_violations(answers: Answers) -> list[tuple[Requirement, str]]:
    """Every broken rule among complete answers, with its message."""
    return [(rule, rule.message(answers)) for rule in REQUIREMENTS if rule.violated_by(answers)]


def consequences_for(answers: Answers) -> list[str]:
    return [c.note for c in CONSEQUENCES if c.holds_for(answers)]


def fitting_default(key: str, answers: Answers) -> Any:
    """The default for `key`, or the first option that breaks no rule with `answers`.

    `--set queue=rq --yes` should get concurrency: sync (the only fit), not a refusal of a
    default the user never chose.
    """
    decision = DECISIONS[key]
    default = decision.default_for(answers)
    if decision.kind is not Kind.CHOICE or not _conflicts(key, default, answers):
        return default
    fitting = allowed_values(key, answers)
    return fitting[0] if fitting else default


def allowed_values(key: str, answers: Answers) -> tuple[str, ...]:
    """The options of `key` that break no rule given the other answers."""
    return tuple(v for v in DECISIONS[key].values if not _conflicts(key, v, answers))
