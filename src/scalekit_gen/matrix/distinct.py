"""The static proof of every combination: check every distinct rendering of every file.

A template file's rendering (its path and its text) is a function of the context variables
its path, its text and the templates it includes read. Each variable is a function of some
of the matrix's axes (the answers, and the facts `vocabulary` derives from them; the
free-form decisions are held fixed). So a file has at most as many distinct renderings as
there are distinct values of its axes among the valid rows, and a set of rows in which every
such value of every file appears renders every distinct rendering of every file at least
once. `proof_rows` chooses those rows (the covering greedy of `cover`, over each file's own
axes instead of every pair), and checking them checks every rendering any valid blueprint
can contain.

- `template_variables`: the variables each file reads, from Jinja's AST (`jinja2.meta`),
  through its includes; a dynamic include (`"includes/" ~ queue ~ "/..."`) counts every
  template its constant prefix can name.
- `variable_axes`: which axes each variable depends on, measured: for rows of a pairwise set,
  every neighbour that differs in one axis (and the decisions that apply because of it) is
  compared variable by variable. A variable equal across every such change in an axis does
  not depend on it. `docs/matrix.md` says what this measurement can miss.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, meta, nodes

from scalekit_gen.blueprint import plain
from scalekit_gen.catalog import DECISIONS
from scalekit_gen.matrix import cover, space
from scalekit_gen.matrix.space import AXES, AXIS_KEYS, Row
from scalekit_gen.plan import build_plan
from scalekit_gen.vocabulary import template_context

SUFFIX = ".jinja"
ANSIBLE_FILTERS = "jinja2_ansible_filters.AnsibleCoreFiltersExtension"  # Copier loads it
PROJECT = "project"
ANSWERS_FILE = ".copier-answers.yml"  # copier.yml's _answers_file
# Copier's `{% yield x from xs %}…{% endyield %}` (a path part per item) reads like a loop.
_YIELD = re.compile(r"{%-?\s*yield\s+(\w+)\s+from\s+(.+?)\s*-?%}(.*?){%-?\s*endyield\s*-?%}")


def _as_loop(text: str) -> str:
    return _YIELD.sub(r"{% for \1 in \2 %}\3{% endfor %}", text)


@dataclass(frozen=True)
class TemplateFile:
    path: str  # relative to the template's project folder, unrendered
    variables: frozenset[str]  # read by its path, its text and what it includes


def _name_pattern(node: nodes.Node) -> re.Pattern[str] | None:
    """A dynamic include's name as a pattern: its constant parts literal, each variable part
    one path segment ("includes/" ~ framework ~ "/readme.md.jinja": includes/*/readme...)."""
    parts: list[str] = []

    def walk(part: nodes.Node) -> bool:
        if isinstance(part, nodes.Concat):
            return all(walk(item) for item in part.nodes)
        if isinstance(part, nodes.Add):
            return walk(part.left) and walk(part.right)
        if isinstance(part, nodes.Const):
            parts.append(re.escape(str(part.value)))
            return True
        if isinstance(part, nodes.Name | nodes.Getattr | nodes.Filter):
            parts.append(r"[^/]+")
            return True
        return False

    return re.compile("".join(parts)) if walk(node) and parts else None


# Context names whose attributes templates read one by one (`plan.assumptions`): a template
# reading only some attributes depends only on those.
STRUCTURED = ("plan", "sizing")


def _reads(ast: nodes.Template) -> frozenset[str]:
    """The undeclared names a template reads, `plan.x` for an attribute of a STRUCTURED one
    when the template reads it only attribute by attribute."""
    names = set(meta.find_undeclared_variables(ast))
    for name in STRUCTURED:
        if name not in names:
            continue
        loads = [n for n in ast.find_all(nodes.Name) if n.name == name and n.ctx == "load"]
        attributes = [
            f"{name}.{node.attr}"
            for node in ast.find_all(nodes.Getattr)
            if isinstance(node.node, nodes.Name) and node.node.name == name
        ]
        if len(attributes) == len(loads):
            names.discard(name)
            names |= set(attributes)
    return frozenset(names)


class _Reader:
    def __init__(self, root: Path) -> None:
        self.root = root
        # The filters Copier's environment has (a filter unknown to the parser is an error).
        self.env = Environment(extensions=[ANSIBLE_FILTERS])
        self.templates = sorted(
            path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file()
        )

    @cache  # noqa: B019 (one reader per analysis)
    def _own(self, name: str) -> tuple[frozenset[str], tuple[str, ...]]:
        """The names a template reads itself, and the templates it includes or imports."""
        ast = self.env.parse((self.root / name).read_text("utf-8"))
        found = _reads(ast)
        referenced: list[str] = []
        for node in ast.find_all((nodes.Include, nodes.Import, nodes.FromImport)):
            assert isinstance(node, nodes.Include | nodes.Import | nodes.FromImport)
            target = node.template
            if isinstance(target, nodes.Const) and isinstance(target.value, str):
                referenced.append(target.value)
                continue
            pattern = _name_pattern(target)
            if pattern is None:
                raise ValueError(f"{name}: an include or import whose name cannot be matched")
            referenced += [t for t in self.templates if pattern.fullmatch(t)]
        return found, tuple(referenced)

    def variables(self, name: str) -> frozenset[str]:
        """What a template reads, itself and through everything it includes (cycles too)."""
        found: set[str] = set()
        seen: set[str] = set()
        todo = [name]
        while todo:
            current = todo.pop()
            if current in seen:
                continue
            seen.add(current)
            own, referenced = self._own(current)
            found |= own
            todo += referenced
        return frozenset(found)

    @property
    def bound(self) -> frozenset[str]:
        """Names some template binds itself (set, import, for, macro, with, path yield)."""
        names: set[str] = set()
        for name in self.templates:
            if name.endswith(SUFFIX):
                ast = self.env.parse((self.root / name).read_text("utf-8"))
                for node in ast.find_all((nodes.Assign, nodes.For, nodes.With, nodes.AssignBlock)):
                    names |= {
                        n.name for n in node.find_all(nodes.Name) if n.ctx in ("store", "param")
                    }
                for node in ast.find_all((nodes.Import, nodes.FromImport, nodes.Macro)):
                    if isinstance(node, nodes.Import):
                        names.add(node.target)
                    elif isinstance(node, nodes.FromImport):
                        names |= {n if isinstance(n, str) else n[1] for n in node.names}
                    elif isinstance(node, nodes.Macro):
                        names.add(node.name)
                        names |= {arg.name for arg in node.args}
            names |= {m.group(1) for m in _YIELD.finditer(name)}
        return frozenset(names)

    def branches(self, name: str) -> set[frozenset[str]]:
        """The names each branch of a template depends on: for every `{% if %}` (and
        `elif`, `else`) and `x if c else y`, the names its test reads and the tests of the
        branches around it, through includes (`plan.x` for an attribute of a STRUCTURED
        one). A branch is taken or not as these names decide; what a template only prints
        changes values in its text, never which parts of it are there."""
        found: set[frozenset[str]] = set()
        seen: set[tuple[str, frozenset[str]]] = set()

        def tested(test: nodes.Node) -> set[str]:
            # find_all walks below a node: the test itself may be the name.
            parts = [test, *test.find_all((nodes.Getattr, nodes.Name))]
            attributes = {
                (part.node.name, part.attr)
                for part in parts
                if isinstance(part, nodes.Getattr)
                and isinstance(part.node, nodes.Name)
                and part.node.name in STRUCTURED
            }
            names = {f"{name}.{attribute}" for name, attribute in attributes}
            by_attribute = {name for name, _ in attributes}
            return names | {
                part.name
                for part in parts
                if isinstance(part, nodes.Name) and part.name not in by_attribute
            }

        def visit(node: nodes.Node, around: frozenset[str]) -> None:
            if isinstance(node, nodes.If | nodes.CondExpr) and node.test is not None:
                inside = around | tested(node.test)
                found.add(inside)
                visit(node.test, around)
                branches = (
                    [node.expr1, node.expr2]
                    if isinstance(node, nodes.CondExpr)
                    else [*node.body, *node.elif_, *node.else_]
                )
                for child in branches:
                    if child is not None:
                        visit(child, inside)
                return
            if isinstance(node, nodes.Include | nodes.Import | nodes.FromImport):
                template(node, around)
            for child in node.iter_child_nodes():
                visit(child, around)

        def template(node: nodes.Node, around: frozenset[str]) -> None:
            assert isinstance(node, nodes.Include | nodes.Import | nodes.FromImport)
            target = node.template
            if isinstance(target, nodes.Const) and isinstance(target.value, str):
                names = [target.value]
            else:
                pattern = _name_pattern(target)
                names = [t for t in self.templates if pattern and pattern.fullmatch(t)]
            # Which template a dynamic name includes is a branch on the names it reads.
            chosen_by = around | tested(target) if names[1:] else around
            if chosen_by != around:
                found.add(chosen_by)
            for included in names:
                walk(included, chosen_by)

        def walk(current: str, around: frozenset[str]) -> None:
            if (current, around) in seen:
                return
            seen.add((current, around))
            visit(self.env.parse((self.root / current).read_text("utf-8")), around)

        walk(name, frozenset())
        return found

    def path_variables(self, path: str) -> frozenset[str]:
        found: set[str] = set()
        for part in path.split("/"):
            found |= _reads(self.env.parse(_as_loop(part)))
        return frozenset(found)


def template_files(template: Path) -> tuple[list[TemplateFile], frozenset[str]]:
    """Every file of the template's project folder with the variables it reads, and the
    names templates bind themselves (their values come from variables read where bound)."""
    reader = _Reader(template)
    out = []
    for name in reader.templates:
        if not name.startswith(f"{PROJECT}/"):
            continue
        path = name.removeprefix(f"{PROJECT}/")
        variables = set(reader.path_variables(path))
        if name.endswith(SUFFIX):
            variables |= reader.variables(name)
        out.append(TemplateFile(path, frozenset(variables)))
    return out, reader.bound


# --------------------------------------------------------------------------- variables -> axes


def vocabulary_of(row: Row) -> dict[str, Any]:
    """The template context `copier_ext` gives every file of the row's render."""
    return template_context(build_plan(space.blueprint_of(row)))


def _fingerprint(value: Any) -> str:
    return json.dumps(plain(value), sort_keys=True, default=str)


def _fingerprints(vocabulary: Mapping[str, Any]) -> dict[str, str]:
    """Each context name's value as text, and each attribute of the STRUCTURED ones."""
    out = {name: _fingerprint(value) for name, value in vocabulary.items()}
    for name in STRUCTURED:
        for key, value in vocabulary[name].items():
            out[f"{name}.{key}"] = _fingerprint(value)
    return out


def _neighbours(rows: Sequence[Row], axis: int) -> tuple[list[int], dict[Any, list[Row]]]:
    """Valid rows grouped by every axis but `axis` and the decisions whose applying it
    decides (the broker, for the queue): within a group, rows differ only there. Returns
    the axes grouped by and the groups."""
    follows = {i for i in range(len(AXES)) if i != axis and _decides_applying(rows, axis, i)}
    kept = [i for i in range(len(AXES)) if i != axis and i not in follows]
    groups: dict[Any, list[Row]] = defaultdict(list)
    for row in rows:
        groups[tuple(row[i] for i in kept)].append(row)
    return kept, groups


def _decides_applying(rows: Sequence[Row], axis: int, other: int) -> bool:
    """Whether `axis`'s value alone decides if `other` applies (the queue, the broker)."""
    if DECISIONS[AXIS_KEYS[other]].applies is None:
        return False
    applying: dict[Any, set[bool]] = defaultdict(set)
    for row in rows:
        applying[row[axis]].add(row[other] is not None)
    return (
        all(len(seen) == 1 for seen in applying.values())
        and len(set().union(*applying.values())) > 1
    )


def variable_axes(sample: Iterable[Row], rows: Sequence[Row]) -> dict[str, frozenset[str]]:
    """For every context variable: the axes a change in which changed it, from `sample`."""
    depends: dict[str, set[str]] = defaultdict(set)
    vocabularies: dict[Row, dict[str, str]] = {}

    def fingerprints(row: Row) -> dict[str, str]:
        if row not in vocabularies:
            vocabularies[row] = _fingerprints(vocabulary_of(row))
        return vocabularies[row]

    sample = list(sample)
    for name in fingerprints(sample[0]):
        depends[name] = set()
    for axis, key in enumerate(AXIS_KEYS):
        kept, groups = _neighbours(rows, axis)
        for row in sample:
            here = fingerprints(row)
            for other in groups[tuple(row[i] for i in kept)]:
                if other == row:
                    continue
                there = fingerprints(other)
                for name, value in here.items():
                    if there.get(name) != value:
                        depends[name].add(key)
    return {name: frozenset(keys) for name, keys in depends.items()}


# --------------------------------------------------------------------------- the proof

# Copier's own names: its configuration (the same for every row) and the answers it records
# (every answer, so every axis).
COPIER_CONSTANT = frozenset({"_copier_conf"})
COPIER_ANSWERS = "_copier_answers"
# Render data and helpers scalekit passes: the decisions taken by default (none of the
# matrix's axes: every row gives them all), a fresh secret per call, and the package and
# version recorded in the answers file (the same for every blueprint of one scalekit).
RENDER_CONSTANT = frozenset({"scalekit_defaulted", "scalekit_secret", "scalekit_source"})


class UnknownVariableError(ValueError):
    """A template reads a name the proof cannot map to axes: the proof would be unsound."""


def file_axes(
    files: Iterable[TemplateFile], variables: Mapping[str, frozenset[str]], bound: frozenset[str]
) -> dict[str, tuple[str, ...]]:
    """Each file's axes, in axis order: the union of its variables' axes."""
    out = {}
    for file in files:
        axes: set[str] = set()
        for name in file.variables:
            if name in variables:
                axes |= variables[name]
            elif name == COPIER_ANSWERS:
                axes |= set(AXIS_KEYS)
            elif name in COPIER_CONSTANT | RENDER_CONSTANT | bound:
                continue
            else:
                raise UnknownVariableError(
                    f"{file.path} reads {name!r}, which is neither in the template context "
                    "nor bound by a template: add it to the vocabulary (or to the proof's "
                    "constants in matrix/distinct.py)"
                )
        out[file.path] = tuple(key for key in AXIS_KEYS if key in axes)
    return out


@dataclass(frozen=True)
class Proof:
    blueprints: int  # the valid rows proven
    axes: dict[str, tuple[str, ...]]  # file -> the axes its rendering depends on
    renderings: dict[str, int]  # file -> distinct values of its axes among the rows
    rows: list[Row]  # rows holding every one of them

    @property
    def distinct(self) -> int:
        return sum(self.renderings.values())


@dataclass(frozen=True)
class Analysis:
    files: list[TemplateFile]
    bound: frozenset[str]  # names templates bind themselves
    variables: dict[str, frozenset[str]]  # context variable -> the axes it depends on
    axes: dict[str, tuple[str, ...]]  # file -> the axes its rendering depends on


def analysis(template: Path) -> Analysis:
    """The template's files, what each reads, and the axes each depends on (about 20 s)."""
    files, bound = template_files(template)
    rows = space.valid_rows()
    variables = variable_axes(cover.cover(rows, 2), rows)
    return Analysis(files, bound, variables, file_axes(files, variables, bound))


def analyse(template: Path) -> dict[str, tuple[str, ...]]:
    """Each file of `template` with the axes its rendering depends on (about 20 s)."""
    return analysis(template).axes


def prove(rows: Sequence[Row], axes: Mapping[str, tuple[str, ...]]) -> Proof:
    """Rows whose renders hold every distinct rendering of every file (by `analyse`'s axes)
    that any of `rows` renders."""
    renderings = {
        path: len({tuple(row[AXIS_KEYS.index(k)] for k in keys) for row in rows})
        for path, keys in axes.items()
    }
    groups = {tuple(AXIS_KEYS.index(key) for key in keys) for keys in axes.values() if keys}
    return Proof(len(rows), dict(axes), renderings, cover.cover_groups(rows, sorted(groups)))


def rendered_paths(row: Row, templates: Iterable[str]) -> list[str]:
    """Where the row's render puts each of `templates` (files of the project folder), as
    Copier names them: a part rendering empty skips the file, `{% yield %}` makes one per
    item, `.jinja` is dropped."""
    env = Environment(extensions=[ANSIBLE_FILTERS])
    context = {**vocabulary_of(row), "_copier_conf": {"answers_file": ANSWERS_FILE}}
    out = []
    for template in templates:
        paths = [""]
        for part in template.split("/"):
            names: list[str] = []
            found = _YIELD.search(part)
            if found is None:
                names.append(env.from_string(part).render(context))
            else:
                items = env.compile_expression(found.group(2))(**context) or []
                body = part[: found.start()] + found.group(3) + part[found.end() :]
                names += [
                    env.from_string(body).render({**context, found.group(1): item})
                    for item in items
                ]
            paths = [f"{path}/{name}" if path else name for path in paths for name in names if name]
        for path in paths:
            name = path.removesuffix(SUFFIX).replace("./", "").lstrip("/")
            if name and not name.endswith("/"):  # a file name rendering empty: skipped
                out.append(name)
    return sorted(set(out))
