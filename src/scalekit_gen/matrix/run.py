"""Render rows and check them statically, in parallel, keeping what fails.

Each row is rendered with `render_project` (exactly what `scalekit new` writes, without git),
named with the longest names the catalog accepts (`space.LONGEST_NAMES`), into the work
directory and checked (`checks.check_project`). A row that passes is deleted; a failing one
stays where it was rendered, with the answers that reproduce it beside it
(`<id>.answers.yml`, readable by `scalekit new --answers`), and its `Outcome` carries the
one-line command that renders it again.
"""

from __future__ import annotations

import shlex
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML

from scalekit_gen.errors import ScalekitError
from scalekit_gen.matrix.checks import Problem, check_project
from scalekit_gen.matrix.space import LONGEST_NAMES, Row, blueprint_of, row_id
from scalekit_gen.render import render_project


@dataclass(frozen=True)
class Outcome:
    number: int  # 1-based position in the run (names the kept render)
    row: Row
    problems: tuple[Problem, ...]
    seconds: float
    kept: Path | None  # the failing render (None when it passed, or never rendered)
    answers: Path | None  # answers that reproduce a failure
    template: Path | None  # the template rendered, None for scalekit's own
    rerun: str = ""  # --runtime: the command that runs this row again, if not a render's
    timings: tuple[tuple[str, float], ...] = ()  # --runtime: (step, seconds) as they ran

    @property
    def id(self) -> str:
        return row_id(self.row)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def reproduce(self) -> str:
        """One line that renders this row again (then see the failing checks), or for a
        --runtime row, that runs it again."""
        if self.rerun:
            return self.rerun
        if self.answers is None:
            return ""
        answers = shlex.quote(str(self.answers))
        if self.template is None:
            return f"scalekit new repro-{self.number} --answers {answers} --yes --no-git"
        template = shlex.quote(str(self.template))
        return (
            f"copier copy --trust --defaults --data-file {answers} {template} repro-{self.number}"
        )

    @property
    def failed_checks(self) -> list[str]:
        return sorted({problem.check for problem in self.problems})


def write_answers(path: Path, row: Row) -> None:
    yaml = YAML()
    yaml.default_flow_style = False
    data = blueprint_of(row, LONGEST_NAMES).copier_data
    with path.open("w", encoding="utf-8") as out:
        out.write(f"# scalekit matrix: {row_id(row)}\n")
        yaml.dump(data, out)


def check_row(number: int, row: Row, workdir: Path, template: Path | None = None) -> Outcome:
    """Render one row into `workdir/<number>` and check it; keep it only if it fails."""
    started = time.monotonic()
    dest = workdir / f"{number:05d}"
    blueprint = blueprint_of(row, LONGEST_NAMES)
    try:
        render_project(blueprint, dest, git=False, template=template)
    except ScalekitError as error:
        problems = [Problem("render", "", str(error))]
    else:
        problems = check_project(dest)
    kept = answers = None
    if problems:
        kept = dest if dest.exists() else None
        answers = workdir / f"{number:05d}.answers.yml"
        write_answers(answers, row)
    else:
        shutil.rmtree(dest, ignore_errors=True)
    return Outcome(
        number, row, tuple(problems), time.monotonic() - started, kept, answers, template
    )


def run_static(
    rows: Sequence[Row],
    workdir: Path,
    *,
    jobs: int = 1,
    template: Path | None = None,
    on_outcome: Callable[[Outcome], None] = lambda outcome: None,
) -> list[Outcome]:
    """Check every row; `on_outcome` hears each as it finishes. Outcomes in row order."""
    workdir.mkdir(parents=True, exist_ok=True)
    outcomes = []
    for outcome in _outcomes(rows, workdir, jobs, template):
        on_outcome(outcome)
        outcomes.append(outcome)
    return sorted(outcomes, key=lambda outcome: outcome.number)


def _outcomes(
    rows: Sequence[Row], workdir: Path, jobs: int, template: Path | None
) -> Iterator[Outcome]:
    numbered = list(enumerate(rows, start=1))
    if jobs <= 1:
        for number, row in numbered:
            yield check_row(number, row, workdir, template)
        return
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        pending: set[Future[Outcome]] = set()
        todo = iter(numbered)
        try:
            # Only a few rows in flight: a Ctrl-C has little to cancel.
            for number, row in todo:
                pending.add(pool.submit(check_row, number, row, workdir, template))
                if len(pending) >= 2 * jobs:
                    break
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
                    following = next(todo, None)
                    if following is not None:
                        number, row = following
                        pending.add(pool.submit(check_row, number, row, workdir, template))
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
