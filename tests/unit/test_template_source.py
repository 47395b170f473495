"""Static checks of the template's Jinja source, for two traps that only show at render time.

- A `{% set %}` of a decision's name (`{% set queue = ... %}`) replaces the answer in the
  render context, so `scalekit_plan()` and Copier's own validation then see the template's
  value instead of the user's answer.
- An inline `a if b` without `else`, in a file whose path holds a quote (the conditional file
  names do), makes Jinja generate Python that does not compile: its undefined-value message
  quotes the template's name unescaped.
"""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest
from jinja2 import nodes

from scalekit_gen.catalog import DECISIONS
from scalekit_gen.paths import template_dir

TEMPLATES = sorted(p for p in template_dir().rglob("*.jinja") if p.is_file())


def _ast(path: Path) -> nodes.Template:
    return jinja2.Environment(extensions=["jinja2.ext.do"]).parse(path.read_text("utf-8"))


def _assigned_names(tree: nodes.Template) -> set[str]:
    names: set[str] = set()
    for assign in tree.find_all((nodes.Assign, nodes.AssignBlock)):
        names.update(name.name for name in assign.target.find_all(nodes.Name))
        if isinstance(assign.target, nodes.Name):
            names.add(assign.target.name)
    return names


def _ids(paths: list[Path]) -> list[str]:
    return [p.relative_to(template_dir()).as_posix() for p in paths]


@pytest.mark.parametrize("path", TEMPLATES, ids=_ids(TEMPLATES))
def test_no_template_assigns_a_decision_name(path: Path) -> None:
    shadowed = _assigned_names(_ast(path)) & DECISIONS.keys()
    assert not shadowed, f"{path}: `set` of {sorted(shadowed)} would hide the answers"


QUOTED = [p for p in TEMPLATES if "'" in p.relative_to(template_dir()).as_posix()]


@pytest.mark.parametrize("path", QUOTED, ids=_ids(QUOTED))
def test_inline_ifs_have_an_else_in_quoted_paths(path: Path) -> None:
    lines = [expr.lineno for expr in _ast(path).find_all(nodes.CondExpr) if expr.expr2 is None]
    assert not lines, f"{path}: inline `if` without `else` on line(s) {lines}"


def test_the_checks_see_the_traps() -> None:
    """Both checks find what they look for (so an empty result above means something)."""
    env = jinja2.Environment()
    assert _assigned_names(env.parse("{% set queue, x = 1, 2 %}{% set cache %}y{% endset %}")) >= {
        "queue",
        "cache",
    }
    tree = env.parse("{{ 'a' if b }}{{ 'a' if b else 'c' }}")
    assert [e.expr2 is None for e in tree.find_all(nodes.CondExpr)] == [True, False]
    assert QUOTED, "the conditional file names hold quotes; none found"
