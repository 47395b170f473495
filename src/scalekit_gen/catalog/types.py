"""The shapes the catalog is written in: decisions, their options, what an option needs and costs.

Plain frozen data with the few checks that keep a decision whole; the decisions themselves are
in `decisions` and the queries across them in `rules`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

Answers = Mapping[str, Any]


class Cost(StrEnum):
    """How expensive a decision is to reverse once code and data depend on it."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    MAJOR = "major"
    CATASTROPHIC = "catastrophic"

    @property
    def rank(self) -> int:
        return list(Cost).index(self)


class Kind(StrEnum):
    """The shape of an answer, which decides how it is parsed, prompted and stored."""

    TEXT = "text"
    CHOICE = "choice"
    MULTI = "multi"
    INTEGER = "integer"
    NAMES = "names"  # a list of Python identifiers (domain modules)
    OWNERS = "owners"  # a mapping module -> code owner handle, "*" for the fallback


@dataclass(frozen=True)
class Reversal:
    cost: Cost
    reason: str


# Stands in for the reversal of an option written without one, until its decision gives it the
# decision's `option_reversal`; a Decision refuses to be built with an option still holding it.
_FROM_DECISION = Reversal(Cost.LOW, "(the decision's option_reversal)")


@dataclass(frozen=True)
class Need:
    """What choosing an option needs of another decision: `other` must be one of `allowed`.

    Written on the option that has the need; `rules` turns each into a Requirement.
    """

    other: str
    allowed: tuple[str, ...]
    why: str


@dataclass(frozen=True)
class Option:
    value: str
    choose_when: str
    reversal: Reversal = _FROM_DECISION  # left out: the decision's option_reversal
    requires: tuple[Need, ...] = ()


@dataclass(frozen=True)
class Consequence:
    """What a combination of choices forces in the generated project; shown in the plan."""

    when: Mapping[str, tuple[str, ...]]
    note: str
    # The decisions whose records show it; every decision in `when` unless narrowed (a note
    # that depends on the framework but is about the cache belongs in the cache's record).
    shown_in: tuple[str, ...] = ()

    def holds_for(self, answers: Answers) -> bool:
        return all(answers.get(key) in values for key, values in self.when.items())

    def shown_in_record_of(self, key: str) -> bool:
        return key in (self.shown_in or tuple(self.when))


@dataclass(frozen=True)
class Decision:
    key: str
    title: str
    question: str
    context: str  # why the decision matters; opens the decision record
    kind: Kind
    default: Any | Callable[[Answers], Any]
    options: tuple[Option, ...] = ()
    # Given to every option that states no reversal of its own, so a shared text is written once.
    option_reversal: Reversal | None = None
    reversal: Reversal | None = None  # for decisions without options (modules, scale, ...)
    default_note: str = ""  # says how a computed default is chosen
    applies: Callable[[Answers], bool] | None = None
    applies_note: str = ""
    refused: Mapping[str, str] = field(default_factory=dict)  # tempting values we never take
    minimum: int | None = None
    maximum: int | None = None
    recorded: bool = True  # gets a record in the project's docs/decisions
    # Written with the decision; `rules.CONSEQUENCES` lists them decision by decision, the
    # order in which the plan and the decision records print them.
    consequences: tuple[Consequence, ...] = ()

    def __post_init__(self) -> None:
        shared = self.option_reversal
        if shared is not None:
            options = tuple(
                replace(option, reversal=shared) if option.reversal is _FROM_DECISION else option
                for option in self.options
            )
            object.__setattr__(self, "options", options)  # frozen: set once, while building
        unpriced = [option.value for option in self.options if option.reversal is _FROM_DECISION]
        if unpriced:
            raise ValueError(f"{self.key}: {unpriced} have no reversal and no option_reversal")

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(option.value for option in self.options)

    def option(self, value: str) -> Option:
        for option in self.options:
            if option.value == value:
                return option
        raise KeyError(f"{self.key} has no option {value!r}")

    def applies_to(self, answers: Answers) -> bool:
        return self.applies is None or self.applies(answers)

    def default_for(self, answers: Answers) -> Any:
        """The default given the answers to earlier decisions."""
        return self.default(answers) if callable(self.default) else self.default

    @property
    def has_computed_default(self) -> bool:
        return callable(self.default)
