"""What each CLI command does, as plain keyword-argument functions (the CLI only parses)."""

from __future__ import annotations

import io
import os
import shlex
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from scalekit_gen.blueprint import Blueprint, build_blueprint, pending, plain, resolve
from scalekit_gen.errors import BlueprintError, MissingAnswersError, PresetError
from scalekit_gen.plan import build_plan
from scalekit_gen.presets import (
    collect_layers,
    derive_preset,
    load_preset,
    new_preset_path_problem,
    parse_set_options,
    preset_reference,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rich.progress import Progress

    from scalekit_gen.update import UpdateResult


def _blueprint_for_new(
    *,
    console: Console,
    dest: Path | None,
    preset: str | None,
    answers_file: Path | None,
    sets: list[str],
    assume_defaults: bool,
    interactive: bool,
) -> tuple[Blueprint, bool]:
    """Resolve the answers, asking for the missing ones when allowed. Returns (bp, asked)."""
    layers = collect_layers(
        preset=preset,
        answers_file=answers_file,
        sets=sets,
        project_name=Path(os.path.abspath(dest)).name if dest is not None else None,
    )
    resolution = resolve(layers)
    if resolution.problems:
        raise BlueprintError(resolution.problems)
    missing = pending(resolution.given)
    if not missing or assume_defaults:
        return build_blueprint(layers), False
    if not interactive:
        raise MissingAnswersError([decision.key for decision in missing])
    from scalekit_gen.wizard import run_wizard

    layers.append(run_wizard(resolution.given, console))
    return build_blueprint(layers), True


def new(
    *,
    console: Console,
    dest: Path | None,
    preset: str | None,
    answers_file: Path | None,
    sets: list[str],
    assume_defaults: bool,
    interactive: bool,
    dry_run: bool,
    git: bool,
) -> Path:
    from scalekit_gen import views
    from scalekit_gen.render import check_destination, render_project

    if dest is not None:
        check_destination(dest.absolute())  # refuse before asking a single question
    blueprint, asked = _blueprint_for_new(
        console=console,
        dest=dest,
        preset=preset,
        answers_file=answers_file,
        sets=sets,
        assume_defaults=assume_defaults,
        interactive=interactive,
    )
    target = dest if dest is not None else Path(blueprint.project_slug)
    plan = build_plan(blueprint)
    if asked or dry_run:
        console.print(views.decisions_table(plan, title=f"Plan for {target}", with_why=not asked))
        console.print(views.sizing_table(plan))
    for warning in plan["warnings"]:
        console.print(f"[yellow]warning:[/yellow] {warning}")
    if asked and not dry_run:
        from scalekit_gen.wizard import confirm

        if not confirm(console, f"Render the project into {target}?"):
            console.print("Cancelled — nothing was written.")
            raise SystemExit(0)
    with console.status(f"Rendering {target} …"):
        result = render_project(blueprint, target, git=git, dry_run=dry_run)
    if dry_run:
        console.print(f"Dry run: would write {len(result.files)} files into {result.destination}:")
        for name in result.files:
            console.print(f"  {name}", highlight=False)
        return result.destination
    console.print(
        f"[green]Created {result.destination}[/green] ({len(result.files)} files"
        f"{', first commit made' if result.git_commit else ''}). Next:"
    )
    for step in views.next_steps(result.destination, result.files, _toolchain_fixes()):
        console.print(f"  {step}", highlight=False)
    return result.destination


def _toolchain_fixes() -> list[str]:
    """What this machine must do before the next steps work: uv, then a Python for the project."""
    from scalekit_gen import toolchain

    return [
        f"# {tool.fix}"
        for tool in (toolchain.find_uv(), toolchain.find_project_python())
        if tool.fix
    ]


def doctor(*, console: Console, project: Path) -> int:
    from scalekit_gen import views
    from scalekit_gen.doctor import failed, run_checks
    from scalekit_gen.errors import CHECKS_FAILED

    checks = run_checks(project.absolute(), os.environ)
    console.print(views.doctor_table(checks))
    problems = failed(checks)
    for check in problems:
        console.print(f"[red]{check.name}[/red]: {check.fix}", highlight=False)
    if problems:
        console.print(f"{len(problems)} to fix; run `scalekit doctor` again afterwards.")
        return CHECKS_FAILED
    console.print("[green]Ready:[/green] make migrate && make test && make dev")
    return 0


def plan(*, preset: str | None, answers_file: Path | None, sets: list[str]) -> dict[str, Any]:
    layers = collect_layers(preset=preset, answers_file=answers_file, sets=sets)
    return build_plan(build_blueprint(layers))


def to_yaml(document: Any) -> str:
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]  # keep key order
    buffer = io.StringIO()
    yaml.dump(document, buffer)
    return buffer.getvalue()


def new_preset(*, console: Console, path: Path, base: str | None, sets: list[str]) -> Path:
    problem = new_preset_path_problem(path)
    if problem is not None:
        raise PresetError(problem)
    changes = parse_set_options(sets)
    layers = [*(load_preset(base) if base else []), changes]
    build_blueprint(layers)  # the new preset must be valid before it is written
    typed = {key: plain(value) for key, value in resolve([changes]).given.items()}
    text = derive_preset(base, typed, target=path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as handle:  # "x": fail rather than overwrite
            handle.write(text)
    except OSError as error:
        raise PresetError(f"cannot write {path}: {error.strerror}") from None
    command = f"scalekit new --preset {shlex.quote(preset_reference(path))}"
    console.print(f"[green]Wrote {path}[/green]. Use it with: {command}", highlight=False)
    return path


def update(
    *, console: Console, project: Path, sets: list[str], dry_run: bool, baseline: str | None
) -> int:
    """Merge the installed template's changes into `project`; the exit code (CONFLICTS when
    some are left to resolve). With `dry_run`, the diff goes to stdout and nothing changes."""
    from scalekit_gen import output
    from scalekit_gen.errors import CONFLICTS
    from scalekit_gen.update import update_project

    with console.status(f"Rendering {project} with the installed template …"):
        result = update_project(project, sets=sets, dry_run=dry_run, baseline=baseline)
    old = f"scalekit {result.old_version}" if result.old_version else "an earlier template"
    for change in result.answer_changes:
        console.print(f"  {change.key}: {_shown(change.old)} → {_shown(change.new)}")
    if result.up_to_date:
        console.print(
            f"[green]{result.project} is up to date[/green] with the scalekit "
            f"{result.new_version} template — nothing to merge, nothing was changed."
        )
        return 0
    if dry_run:
        output.emit(result.diff)
        console.print(
            f"Dry run: updating from {old} to scalekit {result.new_version} would change "
            f"{len(result.changed_files)} files (diff on stdout); nothing was written."
        )
    else:
        console.print(
            f"[green]Merged the scalekit {result.new_version} template into "
            f"{result.project}[/green] (from {old}): {len(result.changed_files)} files changed."
        )
    for line in result.changed_files:
        console.print(f"  {line}", highlight=False)
    _say_new_settings(console, result)
    if result.conflicts:
        verb = "would conflict" if dry_run else "conflict"
        console.print(
            f"[yellow]{len(result.conflicts)} files {verb}[/yellow] — both you and the "
            "template changed the same lines, or you edited a file the new answers no "
            "longer create:"
        )
        for path in result.conflicts:
            console.print(f"  {path}", highlight=False)
    if not dry_run:
        resolve = "resolve the conflicts (git status lists them), git add them, then " * bool(
            result.conflicts
        )
        console.print(
            f"Review with git diff --cached, {resolve}git commit — keep it a merge commit "
            "(no squash): it records the render the next update starts from. "
            "git merge --abort undoes the update."
        )
    return CONFLICTS if result.conflicts else 0


def _say_new_settings(console: Console, result: UpdateResult) -> None:
    """The settings .env.example gained, and which of them .env lacks: the project may not
    start without them, and an update never touches .env (it holds the team's secrets)."""
    if result.new_settings:
        console.print(
            f"New settings in .env.example: {', '.join(result.new_settings)} "
            "(.env.example says what each does). Set them in every deployment's environment too.",
            highlight=False,
        )
    if result.unset_settings:
        console.print(
            f"[yellow]Your .env does not set {', '.join(result.unset_settings)}[/yellow]: copy "
            "them from .env.example and fill in your values (an update never touches .env, "
            "it holds your secrets).",
            highlight=False,
        )
    elif "M .env.example" in result.changed_files:
        console.print(
            ".env.example changes: compare it with your .env (an update never touches .env, "
            "it holds your secrets).",
            highlight=False,
        )


def _shown(value: Any) -> str:
    if value is None:
        return "(not applicable)"
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    if isinstance(value, dict):
        return ",".join(f"{key}:{owner}" for key, owner in value.items())
    return str(value)


MATRIX_FAILED = 3  # `scalekit matrix` found failing blueprints (1 stays "a bug in scalekit")
MATRIX_SHOWN_PROBLEMS = 5  # per failing row on the terminal; the reports hold them all
# Of a failing runtime step's message, on the terminal: its start and its end.
MATRIX_RUNTIME_HEAD_LINES = 60
MATRIX_RUNTIME_TAIL_LINES = 15


def matrix(
    *,
    console: Console,
    only: list[str],
    exclude: list[str],
    everything: bool,
    strength: int | None,
    shard: str | None,
    static: bool,
    jobs: int,
    workdir: Path | None,
    junit: Path | None,
    report: Path | None,
    template: Path | None = None,
    runtime: bool = False,
) -> tuple[list[str], int]:
    """Choose the rows; with `static`, render and check them; with `runtime`, run them on
    services. Returns (row ids, exit code)."""
    import tempfile
    import time

    from rich.markup import escape

    from scalekit_gen.errors import MatrixError
    from scalekit_gen.matrix import report as reports
    from scalekit_gen.matrix import run, selection, space, tools

    started = time.monotonic()
    if static and runtime:
        raise MatrixError(
            "--static and --runtime are separate runs: the static checks take a minute for "
            "the pairwise set, the runtime minutes a blueprint — run one, then the other"
        )
    chosen = selection.choose(
        only=only, exclude=exclude, everything=everything, strength=strength, shard=shard
    )
    console.print(
        f"{chosen.blueprints:,} valid blueprints in the catalog; {chosen.selected:,} after "
        f"--only/--exclude; {len(chosen.rows):,} chosen: {chosen.how}",
        highlight=False,
    )
    ids = [space.row_id(row) for row in chosen.rows]
    if runtime:
        return ids, _matrix_runtime(console, chosen, workdir, jobs, junit, report, template)
    if not static:
        return ids, 0
    if missing := tools.missing():
        raise MatrixError("--static needs " + "; ".join(missing))
    if workdir is None:
        workdir = Path(tempfile.mkdtemp(prefix="scalekit-matrix-"))
    if everything:
        if shard or junit or report:
            raise MatrixError(
                "--static --all proves every file rendering at once: leave out "
                "--shard/--junit/--report (they are for chosen blueprints)"
            )
        return ids, _matrix_proof(console, chosen.rows, workdir, jobs, template)
    failed: list[run.Outcome] = []
    with _matrix_progress(console) as progress:
        task = progress.add_task("checking, 0 failed", total=len(chosen.rows))

        def heard(outcome: run.Outcome) -> None:
            if not outcome.ok:
                failed.append(outcome)
                console.print(f"[red]FAILED[/red] {escape(outcome.id)}", highlight=False)
                console.print(f"  reproduce: {outcome.reproduce}", highlight=False, markup=False)
                if outcome.kept is not None:
                    console.print(f"  kept render: {outcome.kept}", highlight=False, markup=False)
                for problem in outcome.problems[:MATRIX_SHOWN_PROBLEMS]:
                    console.print(f"  {str(problem)[:600]}", highlight=False, markup=False)
                hidden = len(outcome.problems) - MATRIX_SHOWN_PROBLEMS
                if hidden > 0:
                    console.print(f"  … and {hidden} more (see --report/--junit)")
            progress.update(task, advance=1, description=f"checking, {len(failed)} failed")

        outcomes = run.run_static(
            chosen.rows, workdir, jobs=jobs, template=template, on_outcome=heard
        )
    summary = reports.Summary(
        chosen.blueprints,
        chosen.selected,
        len(chosen.rows),
        chosen.how,
        time.monotonic() - started,
    )
    _write_reports(summary, outcomes, junit=junit, report=report)
    if failed:
        console.print(
            f"[red]{len(failed)} of {len(outcomes)} blueprints failed[/red] "
            f"({summary.seconds:.0f} s); failing renders kept in {escape(str(workdir))}",
            highlight=False,
        )
        return ids, MATRIX_FAILED
    console.print(
        f"[green]{len(outcomes)} blueprints passed every static check[/green] "
        f"({summary.seconds:.0f} s)",
        highlight=False,
    )
    return ids, 0


def _matrix_runtime(
    console: Console,
    chosen: Any,
    workdir: Path | None,
    jobs: int,
    junit: Path | None,
    report: Path | None,
    template: Path | None,
) -> int:
    """`scalekit matrix --runtime`: each chosen blueprint installed and run on services.
    Row lines are not wrapped (soft_wrap): a reproduce line must paste back whole."""
    import tempfile
    import time

    from rich.markup import escape

    from scalekit_gen.errors import MatrixError
    from scalekit_gen.matrix import report as reports
    from scalekit_gen.matrix import runtime, tools

    if missing := tools.missing_runtime():
        raise MatrixError("--runtime needs " + "; ".join(missing))
    started = time.monotonic()
    if workdir is None:
        workdir = Path(tempfile.mkdtemp(prefix="scalekit-matrix-runtime-"))
    failed: list[Any] = []
    with _matrix_progress(console) as progress:
        task = progress.add_task("running, 0 failed", total=len(chosen.rows))

        def step(number: int, name: str) -> None:
            progress.update(task, description=f"row {number}: {name}, {len(failed)} failed")

        def heard(outcome: Any) -> None:
            timings = runtime.describe_timings(outcome)
            if outcome.ok:
                console.print(
                    f"[green]ok[/green] {escape(outcome.id)} ({outcome.seconds:.0f} s: "
                    f"{escape(timings)})",
                    highlight=False,
                    soft_wrap=True,
                )
            else:
                failed.append(outcome)
                console.print(
                    f"[red]FAILED[/red] {escape(outcome.id)} at "
                    f"{escape(', '.join(outcome.failed_checks))} ({outcome.seconds:.0f} s)",
                    highlight=False,
                    soft_wrap=True,
                )
                lines = [f"reproduce: {outcome.reproduce}"]
                if outcome.kept is not None:
                    lines.append(f"kept render: {outcome.kept}")
                if outcome.answers is not None:
                    lines.append(f"answers: {outcome.answers} (scalekit new NAME --answers FILE)")
                lines += [_head_and_tail(str(problem)) for problem in outcome.problems]
                for line in lines:  # paths and output as they are: no markup, no wrapping
                    console.print(f"  {line}", highlight=False, markup=False, soft_wrap=True)
            progress.update(task, advance=1, description=f"running, {len(failed)} failed")

        outcomes = runtime.run_runtime(
            chosen.rows, workdir, jobs=jobs, template=template, on_outcome=heard, on_step=step
        )
    summary = reports.Summary(
        chosen.blueprints,
        chosen.selected,
        len(chosen.rows),
        chosen.how,
        time.monotonic() - started,
        mode="runtime",
    )
    _write_reports(summary, outcomes, junit=junit, report=report)
    if failed:
        console.print(
            f"[red]{len(failed)} of {len(outcomes)} blueprints failed at runtime[/red] "
            f"({summary.seconds:.0f} s); failing renders kept in {escape(str(workdir))}",
            highlight=False,
        )
        return MATRIX_FAILED
    console.print(
        f"[green]{len(outcomes)} blueprints ran and passed every runtime step[/green] "
        f"({summary.seconds:.0f} s)",
        highlight=False,
    )
    return 0


def _head_and_tail(text: str) -> str:
    """A failing runtime step's message for the terminal: its start (the command and the
    first failure) and the end of its output; --report/--junit keep all of it."""
    lines = text.splitlines()
    head, tail = MATRIX_RUNTIME_HEAD_LINES, MATRIX_RUNTIME_TAIL_LINES
    if len(lines) <= head + tail:
        return text
    skipped = len(lines) - head - tail
    return "\n".join([*lines[:head], f"… {skipped} lines (see --report) …", *lines[-tail:]])


def _matrix_proof(
    console: Console, rows: list[Any], workdir: Path, jobs: int, template: Path | None
) -> int:
    """`scalekit matrix --static --all`: every distinct rendering of every file, checked."""
    from rich.markup import escape

    from scalekit_gen.matrix import proof
    from scalekit_gen.paths import template_dir

    failures: list[proof.Failure] = []
    with _matrix_progress(console) as progress:
        task = progress.add_task("analysing the template", total=None)

        def heard(phase: str, done: int, total: int) -> None:
            description = f"{phase}, {len(failures)} failed"
            progress.update(task, description=description, completed=done, total=total)

        def failed(failure: proof.Failure) -> None:
            failures.append(failure)
            document = failure.document
            console.print(
                f"[red]FAILED[/red] {escape(document.path)} (from {escape(document.source)}) "
                f"in {escape(failure.id)}",
                highlight=False,
            )
            console.print(f"  reproduce: {failure.reproduce}", highlight=False, markup=False)
            console.print(f"  kept file: {document.where}", highlight=False, markup=False)
            for problem in failure.problems[:MATRIX_SHOWN_PROBLEMS]:
                console.print(f"  {str(problem)[:600]}", highlight=False, markup=False)
            progress.update(task, description=f"checking files, {len(failures)} failed")

        result = proof.prove(
            rows,
            workdir,
            template=template or template_dir(),
            own_template=template is None,
            jobs=jobs,
            progress=heard,
            on_failure=failed,
        )
    for problem in result.problems:
        console.print(f"[red]FAILED[/red] {escape(str(problem)[:1000])}", highlight=False)
    counts = (
        f"{result.blueprints:,} blueprints, {result.files} template files, "
        f"{result.distinct:,} distinct file renderings from {result.rows_rendered:,} "
        f"blueprints, {result.documents:,} distinct files checked ({result.seconds:.0f} s)"
    )
    if result.failures or result.problems:
        console.print(
            f"[red]{len(result.failures)} of {result.documents:,} files failed[/red]: {counts}; "
            f"failing files kept in {escape(str(workdir))}",
            highlight=False,
        )
        return MATRIX_FAILED
    shutil.rmtree(workdir / "files", ignore_errors=True)
    console.print(f"[green]every file rendering passed[/green]: {counts}", highlight=False)
    return 0


def _write_reports(
    summary: Any, outcomes: Sequence[Any], *, junit: Path | None, report: Path | None
) -> None:
    """The --junit and --report files of a static or runtime run, where asked for."""
    from scalekit_gen.matrix import report as reports

    if junit is not None:
        reports.write(junit, reports.junit_xml(summary, outcomes))
    if report is not None:
        reports.write(report, reports.markdown(summary, outcomes))


def _matrix_progress(console: Console) -> Progress:
    """The matrix's progress bar: what it is doing, a bar, done of total, time taken."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )
