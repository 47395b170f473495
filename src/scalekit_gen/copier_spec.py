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

from scalekit_gen.catalog import DECISION_LIST, DECISIONS, Decision, Kind
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

# Copier cannot loop over a list to create directories, so each domain module gets a slot:
# a stub directory named `{{ scalekit_module(N) }}` that renders to the N-th module's name
# (or to nothing, and is skipped). Every stub includes one shared body, so a module's files
# are written once, in templates/includes/<framework>/module*/, with `module` set.
MODULE_SLOTS = DECISIONS["modules"].maximum or 0
SLOT_MARKER = "{{ scalekit_module("
MODULE_TREES: dict[str, str] = {
    # shared bodies            -> where each module's copy lands in the project
    "includes/fastapi/module": (
        "project/src/{% if framework == 'fastapi' %}{{ scalekit_plan().project.package }}"
        "{% endif %}"
    ),
    "includes/fastapi/module_tests": "project/{% if framework == 'fastapi' %}tests{% endif %}",
    "includes/django/module": (
        "project/src/{% if framework == 'django' %}{{ scalekit_plan().project.package }}{% endif %}"
    ),
    "includes/django/module_tests": "project/{% if framework == 'django' %}tests{% endif %}",
}
# Module files that exist only under a condition (a Jinja expression): the stub's name renders
# empty, and Copier skips it, when the condition is false.
_HAS_QUEUE = "scalekit_plan().answers.queue != 'none'"
BODY_CONDITIONS: dict[str, str] = {
    "includes/fastapi/module/tasks.py.jinja": _HAS_QUEUE,
    "includes/fastapi/module_tests/test_jobs.py.jinja": _HAS_QUEUE,
    "includes/django/module/tasks.py.jinja": _HAS_QUEUE,
    "includes/django/module_tests/test_jobs.py.jinja": _HAS_QUEUE,
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


def module_stubs(root: Path) -> dict[Path, str]:
    """One stub per module slot and per file of each shared module body."""
    stubs: dict[Path, str] = {}
    for body_dir, target in MODULE_TREES.items():
        bodies = sorted(p for p in (root / body_dir).rglob("*.jinja") if p.is_file())
        for slot in range(MODULE_SLOTS):
            slot_dir = Path(target) / f"{SLOT_MARKER}{slot}) }}}}"
            for body in bodies:
                include = body.relative_to(root).as_posix()
                stubs[slot_dir / _stub_name(body.relative_to(root / body_dir), include)] = (
                    f"{{%- set module = scalekit_module({slot}) -%}}\n"
                    f'{{%- include "{include}" -%}}\n'
                )
    return stubs


def _stub_name(relative: Path, include: str) -> Path:
    condition = BODY_CONDITIONS.get(include)
    if condition is None:
        return relative
    return relative.with_name(f"{{% if {condition} %}}{relative.stem}{{% endif %}}.jinja")


def expected_files(root: Path | None = None) -> dict[Path, str]:
    root = root or template_dir()
    files = {Path("copier.yml"): copier_yml()}
    for decision in DECISION_LIST:
        if decision.recorded:
            files[RECORD_DIR / record_stub_name(decision)] = record_stub(decision)
    return {**files, **module_stubs(root)}


def _generated_here(root: Path) -> list[Path]:
    records = list((root / RECORD_DIR).glob("*.jinja"))
    slots = [p for p in (root / "project").rglob("*") if p.is_file() and SLOT_MARKER in str(p)]
    return records + slots


def stale(root: Path) -> list[Path]:
    """Generated files under `root` that differ from what the catalog says."""
    expected = expected_files(root)
    wrong = [
        root / relative
        for relative, text in expected.items()
        if not (root / relative).is_file() or (root / relative).read_text(encoding="utf-8") != text
    ]
    extra = [p for p in _generated_here(root) if p.relative_to(root) not in expected]
    return wrong + extra


def write(root: Path) -> list[Path]:
    """Bring the generated files under `root` up to date; returns what changed."""
    expected = expected_files(root)
    changed = stale(root)
    for path in changed:
        relative = path.relative_to(root)
        if relative not in expected:
            path.unlink()
            _remove_empty_parents(path.parent, root)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(expected[relative], encoding="utf-8")
    return changed


def _remove_empty_parents(directory: Path, root: Path) -> None:
    while directory != root and directory.is_dir() and not any(directory.iterdir()):
        directory.rmdir()
        directory = directory.parent


def main(argv: list[str]) -> int:
    root = template_dir()
    if "--check" in argv:
        drifted = stale(root)
        for path in drifted:
            print(f"out of date: {path}", file=sys.stderr)
        if drifted:
            print("run: python -m scalekit_gen.copier_spec", file=sys.stderr)
        return 1 if drifted else 0
    for path in write(root):
        print(f"updated {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
