"""Static checks of one rendered project: what can be proven without starting a service.

Each check takes the project (its root and files) and yields a `Problem` per thing wrong,
naming the file. `check_project` runs them all and never stops at the first: a failing row
reports everything wrong with it. The tools come from `tools` (the `test` extra); a run
checks `tools.missing()` before it starts.

- `jinja-leftovers`: no `{{`, `{%`, `{#` in a file name or text (a branch or variable the
  template left unrendered);
- `yaml`: every .yml/.yaml file parses; `compose-schema`, `ci-schema`, `kubernetes-schema`:
  docker-compose.yml, the CI file and every Kubernetes object are valid against their
  schemas (`schemas`);
- `pgbouncer-ini`: deploy/pgbouncer/pgbouncer.ini parses and has its two sections;
- `python-compile`: every .py file byte-compiles with the projects' Python (3.12+);
- `ruff-check`, `ruff-format`: ruff with the project's own configuration, as `make lint`;
- `env-example`: .env.example lists every setting the code under src/ reads (`settings_read`),
  so a team filling in a deployment's secrets sees every one.
"""

from __future__ import annotations

import configparser
import re
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from scalekit_gen.matrix import schemas, tools
from scalekit_gen.matrix.settings_read import settings_read

JINJA_MARKERS = ("{{", "{%", "{#")
COMPOSE_FILE = "docker-compose.yml"
CI_FILES = {"github": ".github/workflows/ci.yml", "gitlab": ".gitlab-ci.yml"}
KUBERNETES_BASE = "deploy/kubernetes/base/"
PGBOUNCER_INI = "deploy/pgbouncer/pgbouncer.ini"
ENV_EXAMPLE = ".env.example"
# Variables the runtime sets for the code, not settings anyone fills in: Django's
# createsuperuser reads DJANGO_SUPERUSER_*, which `make createsuperuser` sets from the
# SUPERUSER_* the .env lists.
NOT_SETTINGS = frozenset(
    {
        "DJANGO_SETTINGS_MODULE",
        "PROMETHEUS_MULTIPROC_DIR",
        "DJANGO_SUPERUSER_EMAIL",
        "DJANGO_SUPERUSER_PASSWORD",
    }
)
# A listed setting: `NAME=value`, or `# NAME=value` for one that is optional and off.
_LISTED = re.compile(r"^(?:#\s*)?([A-Z][A-Z0-9_]*)=", re.MULTILINE)
OUTPUT_TAIL = 3000
_REFORMAT = "Would reformat: "
_RUFF_LINE = re.compile(r"^[^:\s][^:]*\.py:\d+:\d+: ")


@dataclass(frozen=True)
class Problem:
    check: str
    path: str  # the file, relative to the project ("" for the whole project)
    message: str

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"[{self.check}] {where}{self.message}"


@dataclass
class Project:
    root: Path

    @cached_property
    def files(self) -> list[str]:
        return sorted(
            path.relative_to(self.root).as_posix()
            for path in self.root.rglob("*")
            if path.is_file() and ".git" not in path.relative_to(self.root).parts
        )

    def text(self, relative: str) -> str:
        return (self.root / relative).read_text("utf-8")


Check = Callable[[Project], Iterator[Problem]]
CHECKS: dict[str, Check] = {}


def check(name: str) -> Callable[[Check], Check]:
    def register(function: Check) -> Check:
        CHECKS[name] = function
        return function

    return register


def check_project(root: Path) -> list[Problem]:
    """Every problem every check finds in the project at `root`."""
    project = Project(root)
    problems: list[Problem] = []
    for name, function in CHECKS.items():
        try:
            problems += list(function(project))
        except Exception as error:  # a crashing check (an unreadable file, ...) is a problem
            problems.append(Problem(name, "", f"crashed: {type(error).__name__}: {error}"))
    return problems


@check("jinja-leftovers")
def jinja_leftovers(project: Project) -> Iterator[Problem]:
    for relative in project.files:
        if any(marker in relative for marker in (*JINJA_MARKERS, "}}", "%}")):
            yield Problem("jinja-leftovers", relative, "a templated file name was not rendered")
        try:
            text = project.text(relative)
        except UnicodeDecodeError:
            continue  # binary files cannot hold Jinja leftovers that matter
        for number, line in enumerate(text.splitlines(), start=1):
            for marker in JINJA_MARKERS:
                if marker in line:
                    message = f"line {number}: Jinja leftover {marker!r}: {line.strip()!r}"
                    yield Problem("jinja-leftovers", relative, message)


@check("yaml")
def yaml_parses(project: Project) -> Iterator[Problem]:
    import yaml

    for relative in project.files:
        if relative.endswith((".yml", ".yaml")):
            try:
                schemas.yaml_1_1_documents(project.text(relative))
            except yaml.YAMLError as error:
                yield Problem("yaml", relative, f"not valid YAML: {error}")


@check("compose-schema")
def compose_schema(project: Project) -> Iterator[Problem]:
    if COMPOSE_FILE not in project.files:
        yield Problem("compose-schema", COMPOSE_FILE, "missing")
        return
    documents = schemas.yaml_1_2_documents(project.text(COMPOSE_FILE))
    for document in documents:
        for error in schemas.compose_errors(document):
            yield Problem("compose-schema", COMPOSE_FILE, error)


@check("ci-schema")
def ci_schema(project: Project) -> Iterator[Problem]:
    for provider, relative in CI_FILES.items():
        if relative not in project.files:
            continue
        parse = schemas.yaml_1_2_documents if provider == "github" else schemas.yaml_1_1_documents
        for document in parse(project.text(relative)):
            for error in schemas.ci_errors(provider, document):
                yield Problem("ci-schema", relative, error)


@check("kubernetes-schema")
def kubernetes_schema(project: Project) -> Iterator[Problem]:
    for relative in project.files:
        if not relative.startswith(KUBERNETES_BASE) or relative.endswith("kustomization.yaml"):
            continue
        for document in schemas.yaml_1_1_documents(project.text(relative)):
            for error in schemas.kubernetes_errors(document):
                yield Problem("kubernetes-schema", relative, error)


@check("pgbouncer-ini")
def pgbouncer_ini(project: Project) -> Iterator[Problem]:
    if PGBOUNCER_INI not in project.files:
        return
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(project.text(PGBOUNCER_INI))
    except configparser.Error as error:
        yield Problem("pgbouncer-ini", PGBOUNCER_INI, f"does not parse: {error}")
        return
    for section in ("databases", "pgbouncer"):
        if not parser.has_section(section):
            yield Problem("pgbouncer-ini", PGBOUNCER_INI, f"has no [{section}] section")


# Prints one line per file that does not compile: path<TAB>message.
_COMPILE_EACH = """
import sys
for path in sys.argv[1:]:
    try:
        compile(open(path, encoding="utf-8").read(), path, "exec")
    except SyntaxError as error:
        print(f"{path}\\t{error.msg} (line {error.lineno})")
"""


@check("python-compile")
def python_compiles(project: Project) -> Iterator[Problem]:
    sources = [relative for relative in project.files if relative.endswith(".py")]
    python = tools.project_python()
    if not sources or python is None:
        return
    done = subprocess.run(
        [python, "-c", _COMPILE_EACH, *sources],
        cwd=project.root,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        yield Problem("python-compile", "", f"the compile step crashed: {done.stderr[-1000:]}")
    for line in done.stdout.splitlines():
        path, _, message = line.partition("\t")
        yield Problem("python-compile", path, message)


def _ruff(project: Project, name: str, argv: list[str]) -> Iterator[Problem]:
    ruff = tools.ruff()
    if ruff is None or not any(relative.endswith(".py") for relative in project.files):
        return
    done = subprocess.run(
        [ruff, *argv, "--no-cache", "."],
        cwd=project.root,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode == 0:
        return
    # One problem per file ruff names (`path:line:col: CODE message`, `Would reformat: path`),
    # so a run over many files says which failed; anything else as ruff said it.
    per_file: dict[str, list[str]] = {}
    for line in done.stdout.splitlines():
        path = line.removeprefix(_REFORMAT).partition(":")[0].strip()
        if path.endswith(".py") and (line.startswith(_REFORMAT) or _RUFF_LINE.match(line)):
            per_file.setdefault(path.removeprefix("./"), []).append(line)
    for path, lines in per_file.items():
        message = f"`ruff {' '.join(argv)}` fails:\n" + "\n".join(lines)
        yield Problem(name, path, message[-OUTPUT_TAIL:])
    if not per_file:
        output = (done.stdout + done.stderr).strip()
        yield Problem(name, "", f"`ruff {' '.join(argv)}` fails:\n{output[-OUTPUT_TAIL:]}")


@check("ruff-check")
def ruff_check(project: Project) -> Iterator[Problem]:
    yield from _ruff(project, "ruff-check", ["check", "--output-format", "concise"])


@check("ruff-format")
def ruff_format(project: Project) -> Iterator[Problem]:
    yield from _ruff(project, "ruff-format", ["format", "--check"])


@check("env-example")
def env_example_lists_every_setting(project: Project) -> Iterator[Problem]:
    if ENV_EXAMPLE not in project.files:
        yield Problem("env-example", ENV_EXAMPLE, "missing")
        return
    listed = set(_LISTED.findall(project.text(ENV_EXAMPLE)))
    sources = (
        (relative, project.text(relative))
        for relative in project.files
        if relative.startswith("src/") and relative.endswith(".py")
    )
    for name, where in sorted(settings_read(sources).items()):
        if name not in listed and name not in NOT_SETTINGS:
            message = f"{name} (read in {where}) is not listed: add `{name}=` with what it does"
            yield Problem("env-example", ENV_EXAMPLE, message)
