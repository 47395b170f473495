"""Generate the catalog-derived parts of the template: `copier.yml` and the decision-record
stubs. The template must hold them (plain `copier copy`/`update` reads only the template),
so they are generated from the catalog and a test fails when the checked-in copies drift.

Regenerate with: python -m scalekit_gen.copier_spec
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

from scalekit_gen.catalog import DECISION_LIST, Decision, Kind
from scalekit_gen.paths import template_dir
from scalekit_gen.plan import record_path

HEADER = (
    "# GENERATED from src/scalekit_gen/catalog.py by `python -m scalekit_gen.copier_spec`.\n"
    "# Do not edit by hand: tests/unit/test_copier_spec.py fails when this file drifts.\n"
    "# Plain Copier works too (the scalekit-gen package must be installed next to it):\n"
    "#   copier copy --trust path/to/templates my-service\n"
)

SETTINGS: dict[str, Any] = {
    "_min_copier_version": "9.4.0",
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

RECORD_DIR = Path("project/docs/decisions")


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
        return ", ".join(decision.default_for({}))  # a YAML answer Copier parses into a list
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


def record_stub_name(decision: Decision) -> str:
    name = Path(record_path(decision)).name
    if decision.applies is None:
        return f"{name}.jinja"
    # Copier skips a file whose name renders empty: no record for a decision that does not apply.
    return f"{{% if scalekit_applies('{decision.key}') %}}{name}{{% endif %}}.jinja"


def record_stub(decision: Decision) -> str:
    return (
        f"{{%- set record_key = '{decision.key}' -%}}\n"
        '{%- include "includes/decision-record.md.jinja" -%}\n'
    )


def expected_files() -> dict[Path, str]:
    files = {Path("copier.yml"): copier_yml()}
    for decision in DECISION_LIST:
        if decision.recorded:
            files[RECORD_DIR / record_stub_name(decision)] = record_stub(decision)
    return files


def write(root: Path) -> list[Path]:
    """Write the generated files under `root`; remove stale record stubs. Returns what changed."""
    changed: list[Path] = []
    expected = expected_files()
    for stale in (root / RECORD_DIR).glob("*.jinja"):
        if stale.relative_to(root) not in expected:
            stale.unlink()
            changed.append(stale)
    for relative, text in expected.items():
        path = root / relative
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


if __name__ == "__main__":
    for path in write(template_dir()):
        print(f"updated {path}", file=sys.stderr)
