"""`scalekit matrix --runtime` for real, at the cost of one blueprint run end to end.

One run of the command on a copy of the template broken only where the cache is Redis (its
`make install` fails), over two blueprints that differ only in the cache: the one with no cache
goes through every step on private services and passes; the Redis one fails at `install`,
after seconds, with a reproduce line that selects exactly it. The failure is a Makefile recipe
on purpose: no static check reads what a recipe does, and failing at the first step keeps the
broken blueprint's cost to its render.
"""

from __future__ import annotations

import re
import shlex
import shutil
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scalekit_gen.cli import app
from scalekit_gen.matrix import runtime, selection, space
from scalekit_gen.paths import template_dir

pytestmark = pytest.mark.integration

MAKEFILE = "project/Makefile.jinja"
INSTALL = "install:\n\tuv sync $(UV_SYNC_FLAGS)\n"
BROKEN_MESSAGE = "broken on purpose where the cache is redis"
BROKEN_INSTALL = (
    "install:\n"
    f"{{% if cache == 'redis' %}}\t@echo '{BROKEN_MESSAGE}' >&2; exit 1\n{{% endif %}}"
    "\tuv sync $(UV_SYNC_FLAGS)\n"
)
# The cheapest blueprint (no queue, no auth, no cache, no replicas), and its Redis-cache twin.
CHEAP = [
    "framework=fastapi",
    "concurrency=async",
    "auth=none",
    "read_replicas=0",
    "pooling=pgbouncer-transaction",
    "queue=none",
    "observability=none",
    "load_tests=locust",
    "deploy=compose",
    "ci=none",
]
CACHES = ["cache=none", "cache=redis"]


@dataclass(frozen=True)
class Run:
    exit_code: int
    output: str
    template: Path
    workdir: Path
    junit: Path
    report: Path


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    tmp = tmp_path_factory.mktemp("runtime")
    template = tmp / "templates"
    shutil.copytree(template_dir(), template)
    makefile = template / MAKEFILE
    text = makefile.read_text("utf-8")
    assert text.count(INSTALL) == 1, "the Makefile's install recipe moved: update INSTALL"
    makefile.write_text(text.replace(INSTALL, BROKEN_INSTALL), "utf-8")
    workdir, junit, report = tmp / "work", tmp / "junit.xml", tmp / "report.md"
    args = ["matrix", "--runtime", "--all", "--template", str(template), "--jobs", "1"]
    args += [f"--only={condition}" for condition in [*CHEAP, *CACHES]]
    args += ["--workdir", str(workdir), "--junit", str(junit), "--report", str(report)]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "400", "NO_COLOR": "1"})
    print(result.output)  # shown with -s: each row's steps and their times
    return Run(result.exit_code, result.output, template, workdir, junit, report)


def test_the_cheapest_blueprint_runs_every_step_on_real_services(run: Run) -> None:
    passed = re.findall(r"^ok (\S+) \((\d+) s: (.*)\)$", run.output, re.MULTILINE)
    assert len(passed) == 1, run.output
    row, _, timings = passed[0]
    assert "cache=none" in row, run.output
    steps = [part.rsplit(" ", 2)[0] for part in timings.split(", ")]
    # No queue: every step but the job's.
    assert steps == [step for step in runtime.STEPS if step != "job"], timings
    # Its render is deleted; the failing one is kept.
    kept = sorted(path.name for path in run.workdir.iterdir() if path.is_dir())
    assert len(kept) == 1, kept


def test_a_blueprint_broken_at_runtime_fails_with_a_line_that_reruns_it(run: Run) -> None:
    assert run.exit_code == 3, run.output
    failed = re.findall(r"^FAILED (\S+) at (\S+)", run.output, re.MULTILINE)
    assert len(failed) == 1, run.output
    row, step = failed[0]
    assert "cache=redis" in row and step == "install", run.output
    assert BROKEN_MESSAGE in run.output
    assert "1 of 2 blueprints failed at runtime" in run.output

    # The reproduce line is `scalekit matrix --runtime` on exactly that blueprint, on the copy.
    line = next(line for line in run.output.splitlines() if "reproduce:" in line)
    command = shlex.split(line.split("reproduce:", 1)[1])
    assert command[:4] == ["scalekit", "matrix", "--runtime", "--all"], line
    assert command[command.index("--template") + 1] == str(run.template)
    only = [command[i + 1] for i, word in enumerate(command) if word == "--only"]
    chosen = selection.choose(only=only, everything=True).rows
    assert [space.row_id(r) for r in chosen] == [row]

    # The kept render holds the broken recipe; the answers beside it render it again.
    kept = next(path for path in run.workdir.iterdir() if path.is_dir())
    assert BROKEN_MESSAGE in (kept / "Makefile").read_text("utf-8")
    assert (run.workdir / f"{kept.name}.answers.yml").is_file()

    suite = ET.parse(run.junit).getroot()
    assert suite.get("name") == "scalekit matrix --runtime"
    assert (suite.get("tests"), suite.get("failures")) == ("2", "1")
    failure = suite.find("testcase/failure")
    assert failure is not None and failure.get("message") == "failed: install"
    assert "reproduce: scalekit matrix --runtime" in (failure.text or "")
    markdown = run.report.read_text("utf-8")
    assert "- failed: 1" in markdown and row in markdown
