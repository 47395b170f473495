"""The week-one decision catalog: every question scalekit asks, as data.

Everything else reads this package: the wizard, `scalekit plan`, validation, the data handed to
Copier, the decision records written into each project and the template's `copier.yml`
(generated from it, see `copier_spec`). It is pure on purpose: no Typer, Rich, Copier or file
access, so it can be imported anywhere and tested without fixtures.

- `types`: the shapes (Decision, Option, Need, Reversal, Consequence, Cost, Kind);
- `decisions`: the decisions in asking order, each with its defaults, rules and consequences;
- `rules`: the rule engine and the flat rule and consequence lists derived from the decisions;
- `naming`: slug, package and module names.

The names below are the ones the rest of scalekit imports; import anything else from its module.
"""

from __future__ import annotations

from scalekit_gen.catalog.decisions import DECISION_LIST, DECISIONS, RECORD_NUMBERS
from scalekit_gen.catalog.naming import (
    RESERVED_MODULE_NAMES,
    module_name_problem,
    package_name,
    project_name_problem,
    slugify,
    text_from_os,
)
from scalekit_gen.catalog.rules import (
    CONSEQUENCES,
    REQUIREMENTS,
    Requirement,
    allowed_values,
    conflicts,
    consequences_for,
    fitting_default,
    rule_violations,
)
from scalekit_gen.catalog.types import Cost, Decision, Kind

__all__ = [
    "CONSEQUENCES",
    "DECISIONS",
    "DECISION_LIST",
    "RECORD_NUMBERS",
    "REQUIREMENTS",
    "RESERVED_MODULE_NAMES",
    "Cost",
    "Decision",
    "Kind",
    "Requirement",
    "allowed_values",
    "conflicts",
    "consequences_for",
    "fitting_default",
    "module_name_problem",
    "package_name",
    "project_name_problem",
    "rule_violations",
    "slugify",
    "text_from_os",
]
