"""The static proof of every combination: each distinct rendering of each file, checked once.

A file's rendering is a function of the context variables it reads (`distinct`), and each
variable a function of some axes. So, over the selected rows:

1. every file gets a *key*: the values of the variables it reads (for a `.py` file also those
   the `[tool.ruff]` tables of pyproject.toml read: ruff checks it with that configuration);
   rows that agree on a file's axes agree on its key, so one row per distinct value of the
   file's axes (`_representatives`) finds every key any row has;
2. one row per distinct key of each file renders that file alone (`render_rows`), through
   Copier's own `Worker`: the answers asked exactly as `copier copy` asks them, the same
   Jinja environment with scalekit's extension, the same path rendering and exclusions;
   `tests/render/test_matrix_proof.py` shows the result byte-identical to a full render;
3. the renderings are laid out in *batches* (`_batches`): directories shaped like a project,
   each holding at most one rendering of each path (and the pyproject.toml whose ruff
   configuration a `.py` file is checked with), and `checks` runs its per-file checks on
   them, ruff and the byte-compile once over all batches.

The three files that print every answer (README.md, the decision records, the answers file)
would need a render per blueprint under (1); their key is only what they *test*
(`distinct._Reader.branch_variables`), and every value of every axis is printed at least
once: docs/matrix.md gives the argument.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import tomllib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any

from copier._main import Worker

from scalekit_gen import __version__
from scalekit_gen.blueprint import plain
from scalekit_gen.matrix import checks, cover, distinct, space
from scalekit_gen.matrix.checks import Problem, Project
from scalekit_gen.matrix.distinct import PROJECT, STRUCTURED, Analysis
from scalekit_gen.matrix.run import Outcome, write_answers
from scalekit_gen.matrix.space import AXIS_KEYS, Row, row_id
from scalekit_gen.render import DEFAULTED_DATA, SOURCE_DATA, TEMPLATE_SOURCE

PYPROJECT = "pyproject.toml"
RUFF_TABLE = "[tool.ruff"
# Checks of one file each, run on every batch in this process.
FILE_CHECKS = ("jinja-leftovers", "yaml", "ci-schema", "kubernetes-schema", "pgbouncer-ini")
# Checks that run a tool: once over every batch (ruff finds each batch's own configuration).
TOOL_CHECKS = ("python-compile", "ruff-check", "ruff-format")
# Whole-project checks, left to the covering set: `.env.example` against every file's reads.
NOT_PER_FILE = ("env-example",)
CHUNK = 40  # rows per task sent to a worker process

Progress = Callable[[str, int, int], None]  # (phase, done, total)


# --------------------------------------------------------------------------- rendering


class _FileRenderer(Worker):
    """Copier's `Worker`, rendering only the template files in `wanted` into memory.

    `run_copy` asks the questions as for a real copy; the render step is copier's own
    `_render_file` minus the writing: the same path rendering (`_render_path`, which skips a
    file whose path renders empty and makes one file per `yield` item), the same exclusions
    and the same Jinja environment and render context.
    """

    def _render_template(self) -> None:
        wanted: Sequence[str] = self.__dict__["wanted"]
        root = self.template.local_abspath
        copy_root = self.template_copy_root.relative_to(root)
        context = self._render_context()
        out: list[tuple[str, str, bytes]] = []
        for source in wanted:
            for dst, extra in self._render_path(Path(source).relative_to(copy_root)):
                if self.match_exclude(dst):
                    continue
                if source.endswith(self.template.templates_suffix):
                    template = self.jinja_env.get_template(source)
                    content = template.render(**context, **(extra or {})).encode()
                else:
                    content = (root / source).read_bytes()
                out.append((source, dst.as_posix(), content))
        self.__dict__["rendered"] = out


# One environment and parsed template per process: they are the same for every row.
_SHARED: dict[str, Any] = {}


def copier_data(row: Row) -> dict[str, Any]:
    """The data `render_project` gives Copier for the row's blueprint."""
    blueprint = space.blueprint_of(row)
    return {
        **blueprint.copier_data,
        DEFAULTED_DATA: list(blueprint.defaulted),
        SOURCE_DATA: {"_src_path": TEMPLATE_SOURCE, "_commit": __version__},
    }


def render_files(template: Path, row: Row, sources: Sequence[str]) -> list[tuple[str, str, bytes]]:
    """(source, rendered path, content) for each file the row's render makes of `sources`
    (template files relative to the template, e.g. `project/Makefile.jinja`)."""
    worker = _FileRenderer(
        src_path=str(template),
        dst_path=Path(os.devnull) / "never-written",
        data=copier_data(row),
        defaults=True,
        quiet=True,
        unsafe=True,
        overwrite=False,
        skip_tasks=True,
    )
    shared = _SHARED.get(str(template))
    if shared is not None:
        worker.__dict__["template"], worker.__dict__["jinja_env"] = shared
    worker.__dict__["wanted"] = list(sources)
    worker.run_copy()
    _SHARED.setdefault(str(template), (worker.template, worker.jinja_env))
    rendered: list[tuple[str, str, bytes]] = worker.__dict__["rendered"]
    return rendered


def _render_chunk(
    template: str, chunk: list[tuple[Row, list[str]]]
) -> list[tuple[Row, list[tuple[str, str, bytes]]]]:
    return [(row, render_files(Path(template), row, sources)) for row, sources in chunk]


# --------------------------------------------------------------------------- planning


def _project_source(path: str) -> str:
    return f"{PROJECT}/{path}"


def ruff_variables(template: Path, reader: Any) -> frozenset[str]:
    """What the `[tool.ruff…]` tables of the template's pyproject.toml files read, and what
    their paths read (which framework's file it is)."""
    found: set[str] = set()
    for file in sorted((template / PROJECT).rglob(f"{PYPROJECT}*")):
        relative = file.relative_to(template / PROJECT).as_posix()
        found |= reader.path_variables(relative)
        lines = file.read_text("utf-8").splitlines()
        start = next((i for i, line in enumerate(lines) if line.startswith(RUFF_TABLE)), None)
        if start is None:
            continue
        end = next(
            (
                i
                for i in range(start + 1, len(lines))
                if lines[i].startswith("[") and not lines[i].startswith(RUFF_TABLE)
            ),
            len(lines),
        )
        found |= distinct._reads(reader.env.parse("\n".join(lines[start:end])))
    return frozenset(found)


def _is_python(path: str) -> bool:
    return path.removesuffix(distinct.SUFFIX).endswith(".py")


@dataclass
class Plan:
    printing: list[str]  # files printing every answer: keyed by what they test
    key_variables: dict[str, tuple[str, ...]]  # file -> the variables its key is made of
    units: dict[str, dict[tuple[str, ...], Row]]  # file -> key -> the row that renders it
    rows: dict[Row, list[str]]  # row -> the files it renders (template sources)
    representatives: int  # rows whose variables were read

    @property
    def distinct(self) -> int:
        return sum(len(keys) for keys in self.units.values())


def _projector(group: tuple[int, ...]) -> Callable[[Row], Any]:
    """A row's values on the group's axes, as one hashable (itemgetter's, for speed)."""
    if not group:
        return lambda row: ()
    return itemgetter(*group)


def _representatives(
    rows: Sequence[Row], groups: Iterable[tuple[int, ...]]
) -> dict[tuple[int, ...], dict[Any, Row]]:
    """For each group of axes, one row per distinct value of it among `rows`, reusing rows
    chosen for earlier (larger) groups where they hold the value."""
    chosen: dict[Row, None] = {}
    out: dict[tuple[int, ...], dict[Any, Row]] = {}
    for group in sorted(set(groups), key=lambda g: (-len(g), g)):
        project = _projector(group)
        held = {project(row): row for row in reversed(chosen)}
        for row in rows:
            value = project(row)
            if value not in held:
                held[value] = row
                chosen[row] = None
        out[group] = held
    return out


def _fingerprint_chunk(rows: list[Row], names: list[str]) -> list[tuple[str, ...]]:
    out = []
    for row in rows:
        vocabulary = distinct.vocabulary_of(row)
        values = []
        for name in names:
            head, _, attribute = name.partition(".")
            value = vocabulary[head][attribute] if attribute else vocabulary[name]
            text = json.dumps(plain(value), sort_keys=True, default=str)
            values.append(hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest())
        out.append(tuple(values))
    return out


def plan(
    found: Analysis,
    template: Path,
    rows: Sequence[Row],
    *,
    jobs: int = 1,
    progress: Progress = lambda phase, done, total: None,
) -> Plan:
    """Which row renders which file: one per distinct key of each file among `rows`."""
    reader = distinct._Reader(template)
    # A file depending on every axis that varies prints every answer (an axis with one
    # value, like the database today, changes nothing).
    valid = space.valid_rows()
    varying = {key for i, key in enumerate(AXIS_KEYS) if len({row[i] for row in valid}) > 1}
    ruff = ruff_variables(template, reader)
    printing: dict[str, list[tuple[int, ...]]] = {}
    key_variables = {}
    for file in found.files:
        if set(found.axes[file.path]) >= varying:
            # Every branch taken and not taken: a row per value of each branch's axes.
            # Their paths are constant (the answers file) or one per decision record
            # (`yield`), each record's file a function of its record alone.
            printing[file.path] = [
                _axes_of(found, names) for names in reader.branches(_project_source(file.path))
            ]
            continue
        names = set(file.variables)
        if _is_python(file.path):
            names |= ruff
        known = {name for name in names if name in found.variables}
        # `plan` read whole where an attribute of it would do: the attributes are finer.
        key_variables[file.path] = tuple(sorted(known))
    group_of = {path: _axes_of(found, names) for path, names in key_variables.items()}
    printed = [group for groups in printing.values() for group in groups]
    representatives = _representatives(rows, [*group_of.values(), *printed])
    needed = sorted({row for group in group_of.values() for row in representatives[group].values()})
    read = sorted({name for keys in key_variables.values() for name in keys})
    assert all(name.partition(".")[0] in STRUCTURED or "." not in name for name in read)
    fingerprints: dict[Row, tuple[str, ...]] = {}
    chunks = [needed[i : i + CHUNK * 10] for i in range(0, len(needed), CHUNK * 10)]
    with _pool(jobs) as pool:
        for chunk, values in zip(
            chunks, pool.map(_fingerprint_chunk, chunks, [read] * len(chunks)), strict=True
        ):
            fingerprints.update(zip(chunk, values, strict=True))
            progress("reading variables", len(fingerprints), len(needed))
    position = {name: i for i, name in enumerate(read)}
    candidates: dict[tuple[str, tuple[str, ...]], list[Row]] = defaultdict(list)
    for path, keys in key_variables.items():
        indexes = [position[name] for name in keys]
        for row in representatives[group_of[path]].values():
            values = fingerprints[row]
            candidates[(path, tuple(values[i] for i in indexes))].append(row)
    # Few rows to render: a row costs Copier's questions (about 50 ms), a file about 1 ms. So
    # a row taken for one key renders every file whose key it holds and no row has yet; the
    # files with the most keys go first (their rows are the most, and cover the others').
    rendering: dict[Row, list[str]] = defaultdict(list)
    units: dict[str, dict[tuple[str, ...], Row]] = defaultdict(dict)
    positions = {path: [position[name] for name in keys] for path, keys in key_variables.items()}

    def take(row: Row) -> None:
        values = fingerprints[row]
        for path, at in positions.items():
            key = tuple(values[i] for i in at)
            if key not in units[path]:
                units[path][key] = row
                rendering[row].append(path)

    by_keys = Counter(path for path, _ in candidates)
    for (path, key), held in sorted(candidates.items(), key=lambda item: -by_keys[item[0][0]]):
        if key not in units[path]:
            take(held[0])
    # The printing files: every branch's values, and every value of every axis printed.
    for path, groups in printing.items():
        branch_rows = {row for group in groups for row in representatives[group].values()}
        for row in sorted(branch_rows | set(cover.cover(rows, 1)), key=row_id):
            rendering[row].append(path)
            units[path][(row_id(row),)] = row
    return Plan(sorted(printing), key_variables, dict(units), dict(rendering), len(needed))


def _axes_of(found: Analysis, names: Iterable[str]) -> tuple[int, ...]:
    """The axes (indexes) the values of `names` depend on; names that are no context
    variable (a loop's item, a name a template sets) add none."""
    return tuple(
        i
        for i, key in enumerate(AXIS_KEYS)
        if any(key in found.variables.get(name, ()) for name in names)
    )


class _pool:
    """A process pool for `jobs` > 1, else a stand-in that maps in this process."""

    def __init__(self, jobs: int) -> None:
        self.executor = ProcessPoolExecutor(max_workers=jobs) if jobs > 1 else None

    def __enter__(self) -> _pool:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)

    def map(self, function: Callable[..., Any], *iterables: Iterable[Any]) -> Iterable[Any]:
        if self.executor is None:
            return map(function, *iterables)
        return self.executor.map(function, *iterables)


# --------------------------------------------------------------------------- checking


@dataclass
class Document:
    """One distinct rendered file: its path and bytes, and the first row rendering it."""

    path: str
    content: bytes
    source: str  # the template file
    row: Row
    ruff_config: str | None  # the pyproject.toml it is checked with (.py files)
    where: Path | None = None  # its copy in a batch


@dataclass
class Failure:
    document: Document
    problems: list[Problem]
    reproduce: str

    @property
    def id(self) -> str:
        return row_id(self.document.row)


@dataclass
class Result:
    blueprints: int  # the rows proven (after --only/--exclude)
    files: int  # template files
    distinct: int  # distinct renderings by key (what the proof renders)
    rows_rendered: int  # rows whose renders hold them
    documents: int  # distinct files by content (what the checks read)
    batches: int
    failures: list[Failure] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # a whole check that failed
    seconds: float = 0.0


def _ruff_config(pyproject: bytes) -> str:
    """The ruff part of a pyproject.toml, as text (equal text, equal configuration)."""
    data = tomllib.loads(pyproject.decode("utf-8"))
    return json.dumps(data.get("tool", {}).get("ruff", {}), sort_keys=True)


def documents(
    rendered: Iterable[tuple[Row, list[tuple[str, str, bytes]]]], wanted: Mapping[Row, list[str]]
) -> list[Document]:
    """Distinct rendered files: by path and content, and for .py by ruff configuration."""
    out: dict[tuple[str, str, str | None], Document] = {}
    for row, files in rendered:
        configs = [content for _, path, content in files if path == PYPROJECT]
        pyproject = configs[0] if configs else None
        sources = {_project_source(path) for path in wanted[row]}
        for source, path, content in files:
            if source not in sources:
                continue  # the pyproject.toml rendered for the ruff configuration only
            config = pyproject.decode() if pyproject and _is_python(path) else None
            digest = hashlib.sha256(content).hexdigest()
            key = (path, digest, _ruff_config(config.encode()) if config else None)
            if key not in out:
                out[key] = Document(path, content, source, row, config)
    return list(out.values())


def _batches(docs: Sequence[Document], root: Path) -> list[Path]:
    """Write the documents into project-shaped batches under `root`; at most one rendering
    of a path per batch, .py files beside the pyproject.toml they are checked with."""
    configs: dict[str | None, int] = {}
    taken: dict[tuple[int, str], int] = defaultdict(int)
    batches: dict[Path, str | None] = {}
    for doc in docs:
        config = configs.setdefault(
            _ruff_config(doc.ruff_config.encode()) if doc.ruff_config else None, len(configs)
        )
        number = taken[(config, doc.path)]
        taken[(config, doc.path)] += 1
        batch = root / f"c{config}-{number:05d}"
        if batch not in batches:
            batches[batch] = doc.ruff_config
            if doc.ruff_config is not None:
                (batch).mkdir(parents=True, exist_ok=True)
                (batch / PYPROJECT).write_text(doc.ruff_config, "utf-8")
        doc.where = batch / doc.path
        doc.where.parent.mkdir(parents=True, exist_ok=True)
        doc.where.write_bytes(doc.content)
    return sorted(batches)


def _check_batch(batch: Path) -> list[Problem]:
    project = Project(batch)
    names = list(FILE_CHECKS)
    if checks.COMPOSE_FILE in project.files:
        names.append("compose-schema")
    problems = []
    for name in names:
        try:
            found = list(checks.CHECKS[name](project))
        except Exception as error:  # a crashing check is a problem, as in check_project
            found = [Problem(name, "", f"crashed: {type(error).__name__}: {error}")]
        problems += [
            Problem(p.check, f"{batch.name}/{p.path}" if p.path else "", p.message) for p in found
        ]
    return problems


def check(
    docs: Sequence[Document],
    root: Path,
    *,
    jobs: int = 1,
    progress: Progress = lambda phase, done, total: None,
) -> tuple[list[Path], list[Problem]]:
    """Every problem the per-file checks find in the documents (paths relative to root)."""
    batches = _batches(docs, root)
    problems: list[Problem] = []
    with _pool(jobs) as pool:
        for done, found in enumerate(pool.map(_check_batch, batches), start=1):
            problems += found
            progress("checking files", done, len(batches) + len(TOOL_CHECKS))
    whole = Project(root)
    for done, name in enumerate(TOOL_CHECKS, start=len(batches) + 1):
        problems += list(checks.CHECKS[name](whole))
        progress("checking files", done, len(batches) + len(TOOL_CHECKS))
    return batches, problems


# --------------------------------------------------------------------------- the proof


def prove(
    rows: Sequence[Row],
    workdir: Path,
    *,
    template: Path,
    own_template: bool = True,
    jobs: int = 1,
    progress: Progress = lambda phase, done, total: None,
    on_failure: Callable[[Failure], None] = lambda failure: None,
) -> Result:
    """Render every distinct rendering of every file of `template` among `rows` and check
    each; failing files stay in `workdir`, with answers that render a blueprint holding them."""
    started = time.monotonic()
    progress("analysing the template", 0, 1)
    found = distinct.analysis(template)
    progress("analysing the template", 1, 1)
    chosen = plan(found, template, rows, jobs=jobs, progress=progress)
    work = [(row, sorted(_project_source(p) for p in files)) for row, files in chosen.rows.items()]
    # Every row with a .py file renders its pyproject.toml too: the ruff configuration.
    pyprojects = sorted(
        _project_source(f.path) for f in found.files if f.path.endswith(f"{PYPROJECT}.jinja")
    )
    work = [
        (row, sorted({*sources, *pyprojects}) if any(map(_is_python, sources)) else sources)
        for row, sources in work
    ]
    chunks = [work[i : i + CHUNK] for i in range(0, len(work), CHUNK)]
    rendered: list[tuple[Row, list[tuple[str, str, bytes]]]] = []
    with _pool(jobs) as pool:
        for result in pool.map(_render_chunk, [str(template)] * len(chunks), chunks):
            rendered += result
            progress("rendering", len(rendered), len(work))
    docs = documents(rendered, chosen.rows)
    root = workdir / "files"
    shutil.rmtree(root, ignore_errors=True)
    batches, problems = check(docs, root, jobs=jobs, progress=progress)
    by_file = {doc.where.relative_to(root).as_posix(): doc for doc in docs if doc.where}
    failing: dict[str, list[Problem]] = defaultdict(list)
    result = Result(
        len(rows), len(found.files), chosen.distinct, len(chosen.rows), len(docs), len(batches)
    )
    for problem in problems:
        if problem.path in by_file:
            failing[problem.path].append(problem)
        else:
            result.problems.append(problem)
    answers_dir = workdir / "answers"
    for number, (where, found_problems) in enumerate(sorted(failing.items()), start=1):
        doc = by_file[where]
        answers_dir.mkdir(parents=True, exist_ok=True)
        answers = answers_dir / f"{number:05d}.answers.yml"
        write_answers(answers, doc.row)
        outcome = Outcome(
            number,
            doc.row,
            tuple(found_problems),
            0.0,
            doc.where,
            answers,
            None if own_template else template,
        )
        failure = Failure(doc, found_problems, f"{outcome.reproduce}  # then see {doc.path}")
        result.failures.append(failure)
        on_failure(failure)
    result.seconds = time.monotonic() - started
    return result
