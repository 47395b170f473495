"""Static checks of the template's source: its paths and the names its files read.

- A path part is a plain name (`{{ package }}`), a conditional file or folder on one flag
  (`{% if has_queue %}worker.py{% endif %}`), one `yield` over a list of the vocabulary, or
  the answers file Copier names — never a quote or an expression, which are hard to read and
  (quotes) make Jinja generate code that does not compile for some messages.
- Every name a file reads comes from the vocabulary (`scalekit_gen.vocabulary`), from Copier,
  from our extension's globals, from the folder's `yield`, or from the file itself.
- No file `set`s a vocabulary name: that would hide the answer from the rest of the file.
"""

from __future__ import annotations

import re
from pathlib import Path

import jinja2
import pytest
from jinja2 import meta, nodes

from scalekit_gen.blueprint import AnswerLayer, build_blueprint
from scalekit_gen.copier_ext import ScalekitExtension
from scalekit_gen.paths import template_dir
from scalekit_gen.plan import build_plan
from scalekit_gen.render import DEFAULTED_DATA, SOURCE_DATA
from scalekit_gen.vocabulary import template_context

ROOT = template_dir()
PROJECT = ROOT / "project"
TEMPLATES = sorted(p for p in ROOT.rglob("*.jinja") if p.is_file())
VOCABULARY = frozenset(
    template_context(build_plan(build_blueprint([AnswerLayer("test", {"project_name": "a"})])))
)
# Copier's own names, and the data scalekit hands Copier beside the answers.
COPIER_NAMES = frozenset({"_copier_conf", "_copier_answers", DEFAULTED_DATA, SOURCE_DATA})
EXTENSION_GLOBALS = frozenset(
    name
    for name in jinja2.Environment(extensions=[ScalekitExtension]).globals
    if name.startswith("scalekit_")
)
JINJA_GLOBALS = frozenset(jinja2.Environment().globals)

NAME = r"\{\{ (?P<name>\w+) \}\}"
CONDITIONAL = r"\{% if (?P<flag>\w+) %\}[\w.-]+\{% endif %\}"
YIELD = (
    r"\{% yield (?P<item>\w+) from (?P<items>\w+) %\}"
    r"\{\{ (?P=item)(?:\.\w+)? \}\}\{% endyield %\}"
)
ANSWERS_FILE = r"\{\{ _copier_conf\.answers_file \}\}"
PART = re.compile(rf"[\w.-]*|{NAME}|{CONDITIONAL}|{YIELD}|{ANSWERS_FILE}")


def _ids(paths: list[Path]) -> list[str]:
    return [p.relative_to(ROOT).as_posix() for p in paths]


# The filters Copier's own environment has (to_nice_yaml, …), so that the source compiles.
PARSER = jinja2.Environment(
    extensions=["jinja2.ext.do", "jinja2_ansible_filters.AnsibleCoreFiltersExtension"]
)


def _ast(path: Path) -> nodes.Template:
    return PARSER.parse(path.read_text("utf-8"))


def _parts(path: Path) -> list[str]:
    return list(path.relative_to(PROJECT).with_suffix("").parts)


def _names_in_path(path: Path) -> tuple[set[str], set[str]]:
    """(names the path reads, names its `yield`s give the files below it)."""
    read: set[str] = set()
    given: set[str] = set()
    for part in _parts(path):
        for match in re.finditer(rf"{NAME}|{CONDITIONAL}|{YIELD}", part):
            name, flag, item, items = match.group("name", "flag", "item", "items")
            read |= {n for n in (name, flag, items) if n}
            given |= {item} if item else set()
    return read, given


def _assigned_names(tree: nodes.Template) -> set[str]:
    names: set[str] = set()
    for assign in tree.find_all((nodes.Assign, nodes.AssignBlock)):
        names.update(name.name for name in assign.target.find_all(nodes.Name))
        if isinstance(assign.target, nodes.Name):
            names.add(assign.target.name)
    return names


PROJECT_FILES = sorted(p for p in PROJECT.rglob("*") if p.is_file())


@pytest.mark.parametrize("path", PROJECT_FILES, ids=_ids(PROJECT_FILES))
def test_every_path_part_is_plain(path: Path) -> None:
    odd = [part for part in _parts(path) if not PART.fullmatch(part)]
    assert not odd, f"{path}: path parts {odd} are not a plain name, flag or yield"
    read, _ = _names_in_path(path)
    unknown = read - VOCABULARY - COPIER_NAMES
    assert not unknown, f"{path}: reads {sorted(unknown)}, which the vocabulary does not hold"


# Names that an including file sets for the piece it includes (the include sees its locals).
INCLUDE_PARAMETERS = frozenset({"with_secrets", "module"})


@pytest.mark.parametrize("path", TEMPLATES, ids=_ids(TEMPLATES))
def test_every_name_a_file_reads_is_known(path: Path) -> None:
    tree = _ast(path)
    if any(tree.find_all(nodes.Macro)):
        return  # macro libraries read their arguments; their callers are checked here
    _, given = _names_in_path(path) if path.is_relative_to(PROJECT) else (set(), set())
    known = VOCABULARY | COPIER_NAMES | EXTENSION_GLOBALS | JINJA_GLOBALS | given
    if not path.is_relative_to(PROJECT):
        known |= INCLUDE_PARAMETERS
    # An `import` inside an `if` binds its name only there; Jinja's meta reports it anyway.
    imported = {i.target for i in tree.find_all(nodes.Import)}
    unknown = meta.find_undeclared_variables(tree) - known - imported
    assert not unknown, f"{path}: reads {sorted(unknown)}, which nothing provides"


@pytest.mark.parametrize("path", TEMPLATES, ids=_ids(TEMPLATES))
def test_no_template_assigns_a_vocabulary_name(path: Path) -> None:
    shadowed = _assigned_names(_ast(path)) & VOCABULARY
    assert not shadowed, f"{path}: `set` of {sorted(shadowed)} would hide the vocabulary's"


def test_the_checks_see_what_they_look_for() -> None:
    """Each check refuses its trap (so an empty result above means something)."""
    env = jinja2.Environment()
    assert _assigned_names(env.parse("{% set queue, x = 1, 2 %}{% set cache %}y{% endset %}")) >= {
        "queue",
        "cache",
    }
    for bad in ("{% if queue != 'none' %}a{% endif %}", "{{ plan.project.package }}", "a b'"):
        assert not PART.fullmatch(bad), bad
    for good in ("{{ package }}", "{% if has_queue %}worker.py{% endif %}", ".env"):
        assert PART.fullmatch(good), good
    module_dir = PROJECT / "{% yield module from modules %}{{ module }}{% endyield %}" / "x.py"
    assert _names_in_path(module_dir) == ({"modules"}, {"module"})
    assert {"plan", "package", "has_queue", "records", "fastapi_only"} <= VOCABULARY
