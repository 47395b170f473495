"""Generate the template's `copier.yml` from the catalog: plain `copier copy`/`update` reads
only the template, so the questions must be there, and a test fails when they drift.

Regenerate with: python -m scalekit_gen.copier_spec
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

from scalekit_gen import generated_files
from scalekit_gen.catalog import DECISION_LIST, Decision, Kind
from scalekit_gen.paths import template_dir

HEADER = (
    "# GENERATED from src/scalekit_gen/catalog/ by `python -m scalekit_gen.copier_spec`.\n"
    "# Do not edit by hand: tests/unit/test_copier_spec.py fails when this file drifts.\n"
    "# Plain Copier works too (the scalekit-gen package must be installed next to it):\n"
    "#   copier copy --trust path/to/templates my-service\n"
)

SETTINGS: dict[str, Any] = {
    "_min_copier_version": "9.5.0",
    "_subdirectory": "project",
    "_templates_suffix": ".jinja",
    "_answers_file": ".copier-answers.yml",
    "_jinja_extensions": ["scalekit_gen.copier_ext.ScalekitExtension"],
    # A later `copier update` must never replace the project's own secrets.
    "_skip_if_exists": [".env"],
}

_TYPES = {
    Kind.TEXT: "str",
    Kind.CHOICE: "str",
    Kind.MULTI: "str",
    Kind.INTEGER: "int",
    Kind.NAMES: "yaml",
    Kind.OWNERS: "yaml",
}


def _question(decision: Decision) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": _TYPES[decision.kind], "help": decision.question}
    if decision.options:
        spec["choices"] = {
            f"{option.value} — {option.choose_when}": option.value for option in decision.options
        }
    if decision.kind is Kind.MULTI:
        spec["multiselect"] = True
    spec["default"] = _default(decision)
    if decision.applies is not None:
        spec["when"] = f"{{{{ scalekit_applies('{decision.key}') }}}}"
    spec["validator"] = f"{{{{ scalekit_validate('{decision.key}') }}}}"
    return spec


def _default(decision: Decision) -> Any:
    if decision.has_computed_default:
        return f"{{{{ scalekit_default('{decision.key}') }}}}"
    if decision.kind is Kind.NAMES:
        return f"[{', '.join(decision.default_for({}))}]"  # YAML text Copier parses to a list
    if isinstance(decision.default, tuple):
        return list(decision.default)
    return decision.default


def copier_config() -> dict[str, Any]:
    return {**SETTINGS, **{d.key: _question(d) for d in DECISION_LIST}}


def copier_yml() -> str:
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    buffer = io.StringIO()
    yaml.dump(copier_config(), buffer)
    return HEADER + buffer.getvalue()


def stale(root: Path) -> list[Path]:
    """`copier.yml` under `root`, when it differs from what the catalog says."""
    path = root / "copier.yml"
    current = path.read_text(encoding="utf-8") if path.is_file() else None
    return [] if current == copier_yml() else [path]


def write(root: Path) -> list[Path]:
    """Bring `copier.yml` under `root` up to date; returns what changed."""
    changed = stale(root)
    for path in changed:
        path.write_text(copier_yml(), encoding="utf-8")
    return changed


def main(argv: list[str]) -> int:
    return generated_files.main(
        argv, root=template_dir(), module="scalekit_gen.copier_spec", stale=stale, write=write
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
