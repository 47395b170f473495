"""The `scalekit` command line: parse, prompt, print. The work happens in the library.

Human output (tables, progress, the wizard) goes to stderr; machine output
(`--format json|yaml`, `presets show`) to stdout, as UTF-8 whatever the locale (JSON and YAML
are UTF-8 by definition). Human output survives a terminal that cannot show UTF-8: symbols
fall back to ASCII (see `output`). `ScalekitGroup.main` is the one place that turns errors
into messages and exit codes: 2 for a user error, 130 for Ctrl-C, 1 for a bug or output that
could not be written (a full disk, a closed stdout); a reader that stops early (`| head`)
is not an error.
"""

from __future__ import annotations

import json
import signal
import sys
import traceback
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from typer.core import TyperGroup

from scalekit_gen import __version__, output
from scalekit_gen.errors import BUG, INTERRUPTED, ReaderGone, ScalekitError


class ScalekitGroup(TyperGroup):
    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        output.make_streams_safe()
        try:
            result = super().main(*args, **kwargs)
        except typer.Exit as done:  # Typer turns Ctrl-C into Exit(130) itself
            result = done.exit_code
        except typer.TyperException as error:  # usage errors: bad option, bad choice
            if hasattr(error, "show"):
                output.guarded(error.show)
            else:
                _report(error.format_message())
            sys.exit(error.exit_code)
        except (typer.Abort, KeyboardInterrupt):
            result = INTERRUPTED
        except (ReaderGone, BrokenPipeError):  # the reader left (`| head`): nobody to tell
            output.silence_closed_streams()
            sys.exit(0)
        except ScalekitError as error:
            # soft_wrap: let the terminal wrap, so a message copied from CI stays one line
            # escaped: a message is plain text ("scalekit-gen[test]" is not Rich markup)
            _report(f"[bold red]error:[/bold red] {escape(str(error))}")
            sys.exit(error.exit_code)
        except Exception:
            output.guarded(traceback.print_exc)
            _report(
                f"[bold red]scalekit {__version__} hit a bug.[/bold red] Please report it with "
                "the traceback above."
            )
            sys.exit(BUG)
        if result == INTERRUPTED:
            _report("\n[yellow]Interrupted — nothing was written.[/yellow]")
        sys.exit(result if isinstance(result, int) else 0)


def _report(message: str) -> None:
    """An error message on stderr; if stderr itself is gone, the exit code has to say it."""
    output.guarded(lambda: _err().print(message, soft_wrap=True))


app = typer.Typer(
    cls=ScalekitGroup,
    name="scalekit",
    help="Turn a Python backend's week-one decisions into a project that runs on day one.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
presets_app = typer.Typer(
    help="List, show and derive presets (commented YAML answer sets).",
    invoke_without_command=True,
)
app.add_typer(presets_app, name="presets")


def _err() -> Any:
    from rich.console import Console

    return Console(file=output.stderr(), stderr=True, highlight=False)


class Format(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"


PresetOption = Annotated[
    str | None,
    typer.Option(
        "--preset",
        "-p",
        metavar="NAME|PATH",
        help="Start from a shipped preset (see `scalekit presets`) or a YAML file.",
    ),
]
AnswersOption = Annotated[
    Path | None,
    typer.Option(
        "--answers",
        "-a",
        metavar="FILE",
        exists=False,
        help="A YAML answers file (a project's .copier-answers.yml works too). "
        "Overrides the preset.",
    ),
]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        "-s",
        metavar="KEY=VALUE",
        help="Answer one decision; repeatable. Overrides the preset and answers file. "
        "Lists are comma-separated: --set modules=accounts,billing",
    ),
]


def _version(value: bool) -> None:
    if value:
        print(f"scalekit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Turn a Python backend's week-one decisions into a project that runs on day one."""


@app.command()
def new(
    dest: Annotated[
        Path | None,
        typer.Argument(
            help="Directory to create (must not exist or be empty). Default: ./<project-slug>."
        ),
    ] = None,
    preset: PresetOption = None,
    answers: AnswersOption = None,
    set_: SetOption = None,
    yes: Annotated[
        bool,
        typer.Option(
            "--yes", "-y", help="Take the default for every unanswered decision; never prompt."
        ),
    ] = False,
    interactive: Annotated[
        bool,
        typer.Option(
            "--interactive",
            "-i",
            help="Ask for missing answers even when stdin is not a terminal "
            "(answers are read line by line).",
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan and the files, write nothing.")
    ] = False,
    no_git: Annotated[
        bool, typer.Option("--no-git", help="Skip `git init` and the first commit.")
    ] = False,
) -> None:
    """Walk through the decisions and render a new project into DEST."""
    from scalekit_gen import commands

    commands.new(
        console=_err(),
        dest=dest,
        preset=preset,
        answers_file=answers,
        sets=set_ or [],
        assume_defaults=yes,
        interactive=interactive or _stdin_is_terminal(),
        dry_run=dry_run,
        git=not no_git,
    )


def _emit(text: str) -> None:
    """Machine output to stdout; a reader that stops early (`| head`) is not an error."""
    output.emit(text)


def _stdin_is_terminal() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


@app.command()
def plan(
    preset: PresetOption = None,
    answers: AnswersOption = None,
    set_: SetOption = None,
    output_format: Annotated[
        Format, typer.Option("--format", "-f", help="table (stderr), json or yaml (stdout).")
    ] = Format.table,
) -> None:
    """Show the decision table — choice, why, cost to reverse — and the sizing.

    Unanswered decisions take their defaults; nothing is written.
    """
    from scalekit_gen import commands, views

    document = commands.plan(preset=preset, answers_file=answers, sets=set_ or [])
    if output_format is Format.json:
        _emit(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    elif output_format is Format.yaml:
        _emit(commands.to_yaml(document))
    else:
        console = _err()
        console.print(views.decisions_table(document))
        console.print(views.sizing_table(document))
        for warning in document["warnings"]:
            console.print(f"[yellow]warning:[/yellow] {warning}")


@app.command()
def doctor(
    project: Annotated[
        Path, typer.Argument(help="A project scalekit generated. Default: this directory.")
    ] = Path("."),
) -> None:
    """Check the tools and services a generated project needs, and say how to fix each.

    Exit 0 when nothing fails (warnings allowed), 3 when something must be fixed.
    """
    from scalekit_gen import commands

    raise typer.Exit(commands.doctor(console=_err(), project=project))


@app.command()
def matrix(
    static: Annotated[
        bool,
        typer.Option("--static", help="Render each chosen blueprint and run the static checks."),
    ] = False,
    runtime: Annotated[
        bool,
        typer.Option(
            "--runtime",
            help="Render, install and run each chosen blueprint on private services: "
            "migrate, its own tests, web + worker, HTTP smoke, a job, a short Locust gate "
            "(minutes a blueprint; not with --static, which is a separate run).",
        ),
    ] = False,
    everything: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Choose every valid blueprint (after the filters); with --static, prove "
            "them all by checking every distinct rendering of every file once.",
        ),
    ] = False,
    pairwise: Annotated[
        bool,
        typer.Option(
            "--pairwise", help="Choose a set where every pair of option values meets (default)."
        ),
    ] = False,
    strength: Annotated[
        int | None,
        typer.Option(
            "--strength", metavar="N", help="Every N-tuple of option values meets (3: triples)."
        ),
    ] = None,
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only",
            metavar="KEY=VALUE",
            help="Keep blueprints with this value; repeatable (one key: any of its values).",
        ),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option(
            "--exclude", metavar="KEY=VALUE", help="Drop blueprints with this value; repeatable."
        ),
    ] = None,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", min=1, help="Blueprints checked in parallel.")
    ] = 2,
    shard: Annotated[
        str | None,
        typer.Option("--shard", metavar="I/N", help="Check only the I-th of N equal shares."),
    ] = None,
    junit: Annotated[
        Path | None, typer.Option("--junit", metavar="FILE", help="Write a JUnit XML report.")
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option("--report", metavar="FILE.md", help="Write a Markdown report."),
    ] = None,
    workdir: Annotated[
        Path | None,
        typer.Option(
            "--workdir",
            metavar="DIR",
            help="Where blueprints are rendered; failing ones stay there. Default: a new "
            "temporary directory.",
        ),
    ] = None,
    template: Annotated[
        Path | None,
        typer.Option(
            "--template",
            metavar="DIR",
            help="Check this copy of the template instead of scalekit's own (a fork, a change "
            "under review).",
        ),
    ] = None,
) -> None:
    """Count every valid blueprint and prove a chosen set of them.

    Without --static or --runtime, prints the chosen blueprints (stdout), one per line.
    Exit 3 when a blueprint fails; each failure gets a reproduce command and its kept render.
    """
    from scalekit_gen import commands

    if pairwise and strength not in (None, 2):
        raise typer.BadParameter("--pairwise is --strength 2", param_hint="--strength")
    ids, code = commands.matrix(
        console=_err(),
        only=only or [],
        exclude=exclude or [],
        everything=everything,
        strength=2 if pairwise else strength,
        shard=shard,
        static=static,
        runtime=runtime,
        jobs=jobs,
        workdir=workdir,
        junit=junit,
        report=report,
        template=template,
    )
    if not static and not runtime:
        _emit("".join(f"{row}\n" for row in ids))
    raise typer.Exit(code)


@presets_app.callback()
def _presets_list(ctx: typer.Context) -> None:
    """List the shipped presets (without a subcommand)."""
    if ctx.invoked_subcommand is None:
        from scalekit_gen import presets, views

        _err().print(views.presets_table(presets.list_presets()))


@presets_app.command("show")
def presets_show(
    name: Annotated[str, typer.Argument(metavar="NAME|PATH", help="Preset name or file.")],
) -> None:
    """Print a preset's YAML, comments included (stdout)."""
    from scalekit_gen import presets

    _emit(presets.read_text(presets.find_preset(name)))


@presets_app.command("new")
def presets_new(
    path: Annotated[Path, typer.Argument(help="File to create; an existing file is refused.")],
    base: Annotated[
        str | None,
        typer.Option("--from", metavar="NAME|PATH", help="Copy this preset, comments and all."),
    ] = None,
    set_: SetOption = None,
) -> None:
    """Write a new, validated preset — e.g. your organisation's standard."""
    from scalekit_gen import commands

    commands.new_preset(console=_err(), path=path, base=base, sets=set_ or [])


@app.command()
def update(
    project: Annotated[
        Path,
        typer.Argument(help="The generated project (its git repository's root). Default: here."),
    ] = Path("."),
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            "-s",
            metavar="KEY=VALUE",
            help="Change one decision; repeatable. Lists are comma-separated: "
            "--set modules=catalog,billing",
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Print the diff the update would make; change nothing."),
    ] = False,
    baseline: Annotated[
        str | None,
        typer.Option(
            "--baseline",
            metavar="COMMIT",
            help="The commit holding scalekit's last render of the project, before any edit "
            "(only when scalekit cannot find it in the history; see docs/update.md).",
        ),
    ] = None,
) -> None:
    """Move a generated project to the installed template, keeping your edits.

    Re-renders the project's recorded answers (plus --set) and merges what the template
    changed into it with git, three-way. Exit 3: merged, with conflicts left to resolve.
    """
    from scalekit_gen import commands

    code = commands.update(
        console=_err(), project=project, sets=set_ or [], dry_run=dry_run, baseline=baseline
    )
    if code:
        raise typer.Exit(code)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # the same clean-up as Ctrl-C: nothing half-written stays


def main() -> None:
    # A CI job cancelled mid-render sends SIGTERM (a closed terminal SIGHUP), not Ctrl-C.
    signal.signal(signal.SIGTERM, _interrupt)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, _interrupt)
    app()
