"""`--version` and `--help` everywhere; every option and argument explains itself."""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer
import typer.main

from scalekit_gen import __version__
from scalekit_gen.cli import app

# Typer vendors click (typer._click); go by duck typing rather than a private import.
Command = Any


def _walk(command: Command, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Command]]:
    found = [(path, command)]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        found += _walk(sub, (*path, name))
    return found


def _is_option(param: Any) -> bool:
    return param.param_type_name == "option"


ROOT = typer.main.get_command(app)
COMMANDS = _walk(ROOT)
COMMAND_IDS = [" ".join(path) or "scalekit" for path, _ in COMMANDS]


def test_the_command_tree_is_what_the_docs_describe() -> None:
    assert set(COMMAND_IDS) == {
        "scalekit",
        "matrix",
        "new",
        "doctor",
        "plan",
        "presets",
        "presets new",
        "presets show",
        "update",
    }


def test_version_prints_the_package_version(cli) -> None:
    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"scalekit {__version__}"


def test_version_from_a_real_process(sk) -> None:
    done = sk("--version", timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"scalekit {__version__}"
    assert done.stderr == ""


def test_no_arguments_shows_the_help(cli) -> None:
    result = cli()
    # no_args_is_help: the help, then click's "usage" exit code (2) — never a bug's 1.
    assert result.exit_code in (0, 2)
    assert "Usage" in result.output
    for name in ("new", "plan", "presets"):
        assert name in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=COMMAND_IDS)
def test_help_on_every_command(cli, path: tuple[str, ...], command: Command) -> None:
    result = cli(*path, "--help")
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "Usage" in text
    first_line = (command.help or "").strip().splitlines()[0] if command.help else ""
    assert first_line, f"{' '.join(path) or 'scalekit'} has no help text"
    assert first_line[:40] in re.sub(r"\s+", " ", text)
    for param in command.params:
        if _is_option(param):
            for name in param.opts:
                assert name in text, f"{name} missing from the help of {path}"


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=COMMAND_IDS)
def test_every_option_and_argument_has_help(path: tuple[str, ...], command: Command) -> None:
    missing = [
        param.name for param in command.params if not (getattr(param, "help", None) or "").strip()
    ]
    assert not missing, f"{' '.join(path) or 'scalekit'}: no help for {missing}"


def test_the_options_the_docs_promise_exist() -> None:
    def options(*path: str) -> set[str]:
        command = dict(COMMANDS)[path]
        return {opt for param in command.params for opt in getattr(param, "opts", [])}

    assert {"--version"} <= options()
    assert {
        "--preset",
        "-p",
        "--answers",
        "-a",
        "--set",
        "-s",
        "--yes",
        "-y",
        "--interactive",
        "-i",
        "--dry-run",
        "--no-git",
    } <= options("new")
    assert {"--preset", "--answers", "--set", "--format", "-f"} <= options("plan")
    assert {"--from", "--set"} <= options("presets", "new")
