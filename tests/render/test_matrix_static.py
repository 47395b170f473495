"""`scalekit matrix --static`: each static check catches its kind of breakage, and a template
change that breaks only some combinations fails the matrix with a line that reproduces it.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scalekit_gen.blueprint import AnswerLayer, build_blueprint
from scalekit_gen.cli import app
from scalekit_gen.matrix import checks, run, selection, space
from scalekit_gen.matrix.checks import CHECKS, Project, check_project
from scalekit_gen.paths import template_dir
from scalekit_gen.presets import load_answers, load_preset
from scalekit_gen.render import render_project

from .support import blueprint_for

Mutation = Callable[[Path], None]
WEB = "deploy/kubernetes/base/web.yaml"
SETTINGS = "src/acme_shop/core/settings.py"


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """FastAPI with Kubernetes, PgBouncer and GitHub CI: every checked kind of file."""
    root = tmp_path_factory.mktemp("matrix-checks") / "good"
    render_project(blueprint_for({"deploy": "compose+kubernetes"}), root, git=False)
    return root


def _edit(relative: str, old: str, new: str) -> Mutation:
    def mutate(root: Path) -> None:
        path = root / relative
        text = path.read_text("utf-8")
        assert old in text, f"{old!r} not in {relative}: the mutation needs updating"
        path.write_text(text.replace(old, new, 1), "utf-8")

    return mutate


def _append(relative: str, text: str) -> Mutation:
    def mutate(root: Path) -> None:
        with (root / relative).open("a", encoding="utf-8") as out:
            out.write(text)

    return mutate


MUTATIONS: dict[str, tuple[str, Mutation]] = {
    "jinja-leftovers": ("README.md", _append("README.md", "\n{{ package }}\n")),
    "yaml": ("docker-compose.yml", _append("docker-compose.yml", "\n  - [unclosed\n")),
    "compose-schema": (
        "docker-compose.yml",
        _edit("docker-compose.yml", "services:\n", "services:\n  bogus: 3\n"),
    ),
    "ci-schema": (".github/workflows/ci.yml", _edit(".github/workflows/ci.yml", "runs-on", "runs")),
    "kubernetes-schema": (WEB, _edit(WEB, "  replicas:", "  replcas:")),
    "pgbouncer-ini": (
        checks.PGBOUNCER_INI,
        _edit(checks.PGBOUNCER_INI, "[databases]", "[databases"),
    ),
    "python-compile": (SETTINGS, _append(SETTINGS, "\ndef broken(:\n")),
    "ruff-check": (SETTINGS, _append(SETTINGS, "\n\ndef unused() -> None:\n    import json\n")),
    "ruff-format": (SETTINGS, _append(SETTINGS, "\nVALUE = ( 1 )\n")),
    # A setting read that .env.example does not list (the check reads the source, not runs it).
    "env-example": (SETTINGS, _append(SETTINGS, '\nMUTANT = os.environ.get("MUTANT_SETTING")\n')),
}


def test_a_good_render_passes_every_check(good: Path) -> None:
    assert check_project(good) == []


def test_every_check_has_a_mutation() -> None:
    assert set(MUTATIONS) == set(CHECKS)


@pytest.mark.parametrize("name", sorted(MUTATIONS), ids=lambda name: f"check={name}")
def test_each_check_catches_its_breakage(name: str, good: Path, tmp_path: Path) -> None:
    relative, mutate = MUTATIONS[name]
    copy = tmp_path / "broken"
    shutil.copytree(good, copy)
    mutate(copy)
    problems = list(CHECKS[name](Project(copy)))
    assert problems, f"{name} passed a broken {relative}"
    assert all(problem.check == name for problem in problems)
    assert any(relative in (problem.path + problem.message) for problem in problems), problems


# --------------------------------------------------------------------------- injected breakage

LOCUSTFILE = "project/loadtests/locustfile.py.jinja"
# A Python error only where the template branches for the RQ queue with memcached.
# Nothing outside the branch: the other renders stay byte for byte what they were.
BREAKAGE = "{% if queue == 'rq' and cache == 'memcached' %}\ndef broken(:\n    pass\n{% endif %}"
# Four blueprints that differ only in the cache: one of them takes the broken branch.
NARROW = [
    "framework=fastapi",
    "concurrency=sync",
    "auth=users-jwt",
    "queue=rq",
    "observability=none",
    "read_replicas=0",
    "pooling=pgbouncer-transaction",
    "load_tests=locust",
    "deploy=compose",
    "ci=github",
    "auth=users-jwt",
]


def test_the_default_pairwise_set_takes_the_broken_branch() -> None:
    queue, cache = space.AXIS_KEYS.index("queue"), space.AXIS_KEYS.index("cache")
    rows = selection.choose().rows
    assert any(row[queue] == "rq" and row[cache] == "memcached" for row in rows)


def test_a_breakage_in_some_combinations_fails_the_matrix_with_a_reproduce_line(
    tmp_path: Path,
) -> None:
    template = tmp_path / "templates"
    shutil.copytree(template_dir(), template)
    with (template / LOCUSTFILE).open("a", encoding="utf-8") as out:
        out.write(BREAKAGE)
    junit, report, workdir = tmp_path / "junit.xml", tmp_path / "report.md", tmp_path / "work"
    args = ["matrix", "--static", "--pairwise", "--template", str(template), "--jobs", "2"]
    args += [f"--only={condition}" for condition in NARROW]
    args += ["--junit", str(junit), "--report", str(report), "--workdir", str(workdir)]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "400", "NO_COLOR": "1"})
    output = result.output
    assert result.exit_code == 3, output
    assert "4 chosen" in output, output
    failed = re.findall(r"FAILED (\S+)", output)
    assert len(failed) == 1, output
    assert "queue=rq" in failed[0] and "cache=memcached" in failed[0], output
    assert "1 of 4 blueprints failed" in output, output

    # The reproduce line renders the failing blueprint again, and the check fails there too.
    line = next(line for line in output.splitlines() if "reproduce:" in line)
    command = line.split("reproduce:", 1)[1].split()
    assert command[:2] == ["copier", "copy"], line
    assert "--data-file" in command and str(template) in command
    subprocess.run(
        [str(Path(sys.executable).parent / "copier"), *command[1:]],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    again = [p for p in check_project(tmp_path / command[-1]) if p.check == "python-compile"]
    assert any(p.path == "loadtests/locustfile.py" for p in again), again

    # The failing render is kept (the passing ones are not), and the reports say the same.
    kept = [path for path in workdir.iterdir() if path.is_dir()]
    assert len(kept) == 1
    assert "def broken(:" in (kept[0] / "loadtests/locustfile.py").read_text("utf-8")
    suite = ET.parse(junit).getroot()
    assert (suite.get("tests"), suite.get("failures")) == ("4", "1")
    failure = suite.find("testcase/failure")
    assert failure is not None and "python-compile" in (failure.get("message") or "")
    assert "loadtests/locustfile.py" in (failure.text or "")
    assert "reproduce:" in (failure.text or "")
    markdown = report.read_text("utf-8")
    assert "- failed: 1" in markdown and failed[0] in markdown


def test_the_unbroken_template_passes_the_same_rows(tmp_path: Path) -> None:
    args = ["matrix", "--static", "--jobs", "2", "--workdir", str(tmp_path / "work")]
    args += [f"--only={condition}" for condition in NARROW]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "400", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    assert "4 blueprints passed every static check" in result.output
    assert not any((tmp_path / "work").iterdir())


def test_the_reproduce_command_renders_the_same_blueprint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With scalekit's own template the line is `scalekit new --answers`: run it as written."""
    monkeypatch.chdir(tmp_path)
    row = selection.choose(only=["queue=dramatiq", "observability=sentry"]).rows[-1]
    answers = tmp_path / "row.answers.yml"
    run.write_answers(answers, row)
    outcome = run.Outcome(7, row, (), 0.0, None, answers, None)
    command = shlex.split(outcome.reproduce)
    assert command[:2] == ["scalekit", "new"], outcome.reproduce
    result = CliRunner().invoke(app, command[1:], env={"NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    rendered = load_answers(tmp_path / command[2] / ".copier-answers.yml")
    assert space.row_of(build_blueprint([rendered]).answers) == row


# --------------------------------------------------------------------------- the longest names

# A package-bearing import written on one line: it fits an ordinary package (`matrix`) and
# overflows ruff's 100 columns with the longest one the catalog accepts.
ERRORS = "project/{{ fastapi_only }}/src/{{ package }}/core/errors.py.jinja"
EXPLODED_IMPORT = "from {{ package }}.core.outbound import (\n    DownstreamUnavailable,\n)\n"
ONE_LINE_IMPORT = "from {{ package }}.core.outbound import DownstreamUnavailable\n"


@pytest.mark.parametrize(
    "preset", ["fastapi-async", "django-platform"], ids=lambda name: f"preset={name}"
)
def test_the_longest_names_pass_every_static_check(preset: str, tmp_path: Path) -> None:
    """Each framework's fullest preset, named as the matrix names every row."""
    names = AnswerLayer("longest names", space.LONGEST_NAMES)
    blueprint = build_blueprint([*load_preset(preset), names])
    render_project(blueprint, tmp_path / "p", git=False)
    assert check_project(tmp_path / "p") == []


def test_a_line_too_long_for_the_longest_names_fails_the_matrix(tmp_path: Path) -> None:
    template = tmp_path / "templates"
    shutil.copytree(template_dir(), template)
    path = template / ERRORS
    text = path.read_text("utf-8")
    assert EXPLODED_IMPORT in text, f"{ERRORS} changed: the mutation needs updating"
    path.write_text(text.replace(EXPLODED_IMPORT, ONE_LINE_IMPORT), "utf-8")
    row = space.row_of(blueprint_for().answers)  # FastAPI: the defaults

    outcome = run.check_row(1, row, tmp_path / "work", template)
    assert {"ruff-check", "ruff-format"} <= set(outcome.failed_checks), outcome.problems
    assert all("core/errors.py" in problem.message for problem in outcome.problems)
    # The same template passes with an ordinary name: only the longest names catch it.
    ordinary = tmp_path / "ordinary"
    render_project(space.blueprint_of(row), ordinary, git=False, template=template)
    assert ONE_LINE_IMPORT.replace("{{ package }}", "matrix") in (
        ordinary / "src/matrix/core/errors.py"
    ).read_text("utf-8")
    assert check_project(ordinary) == []
