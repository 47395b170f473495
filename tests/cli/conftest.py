"""Shared fixtures for the CLI tests.

Everything is offered as a fixture (not importable helpers) so the other test directories'
conftest files can never clash with this one.

- `cli(*args, input=None)` runs `scalekit_gen.cli.app` in process with Typer's CliRunner.
  `CliRunner` calls `ScalekitGroup.main`, so the error boundary (exit codes, messages) is what
  is tested. The terminal width is pinned so Rich output is stable.
- `sk(*args, ...)` runs the real `scalekit` executable as a subprocess, always with a timeout
  (`scalekit_argv` is its command line).
- `snapshot(path)` records every entry below a directory: type, mode, bytes, mtime.
- `read_answers(project)` parses a rendered project's `.copier-answers.yml`.
- `leftovers(directory)` lists staging directories a render left behind.

Git runs with an empty global configuration so the first commit does not depend on the
machine's git identity or hooks (scalekit falls back to its own identity).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner, Result

from scalekit_gen.cli import app
from scalekit_gen.render import STAGING_SUFFIX

# Stable Rich output: a wide terminal, no colours, no forced terminal features.
TERMINAL_ENV: dict[str, str | None] = {
    "COLUMNS": "200",
    "LINES": "50",
    "NO_COLOR": "1",
    "FORCE_COLOR": None,
    "TTY_COMPATIBLE": None,
    "TTY_INTERACTIVE": None,
}

SUBPROCESS_TIMEOUT = 60


def _scalekit_command() -> list[str]:
    """The installed console script next to this interpreter, else `python -m scalekit_gen`."""
    script = Path(sys.executable).parent / "scalekit"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "scalekit_gen"]


SCALEKIT = _scalekit_command()


@pytest.fixture(autouse=True)
def _hermetic_git(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path_factory.getbasetemp() / "empty-gitconfig"
    empty.touch()
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


@pytest.fixture
def cli() -> Callable[..., Result]:
    runner = CliRunner(env=TERMINAL_ENV)

    def invoke(*args: str | os.PathLike[str], input: str | None = None) -> Result:
        # catch_exceptions=False: ScalekitGroup.main must turn every exception into an exit
        # code; one that escapes it is a failure of the boundary and should fail loudly.
        return runner.invoke(app, [os.fspath(a) for a in args], input=input, catch_exceptions=False)

    return invoke


@pytest.fixture
def scalekit_argv() -> list[str]:
    """How to start the real `scalekit` executable."""
    return list(SCALEKIT)


@pytest.fixture
def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    for key, value in TERMINAL_ENV.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    env.pop("PYTHONBREAKPOINT", None)
    return env


@pytest.fixture
def sk(
    subprocess_env: dict[str, str], tmp_path: Path
) -> Callable[..., subprocess.CompletedProcess[str]]:
    def run(
        *args: str | os.PathLike[str],
        stdin: Any = subprocess.DEVNULL,
        input: str | None = None,
        cwd: Path | None = None,
        timeout: float = SUBPROCESS_TIMEOUT,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*SCALEKIT, *(os.fspath(a) for a in args)],
            stdin=None if input is not None else stdin,
            input=input,
            capture_output=True,
            text=True,
            cwd=cwd or tmp_path,
            env=subprocess_env,
            timeout=timeout,
            check=False,
        )

    return run


def _entry(path: Path) -> tuple[Any, ...]:
    info = path.lstat()
    mode = stat.S_IMODE(info.st_mode)
    if stat.S_ISLNK(info.st_mode):
        return ("link", mode, os.readlink(path), info.st_mtime_ns)
    if stat.S_ISDIR(info.st_mode):
        return ("dir", mode, tuple(sorted(os.listdir(path))), info.st_mtime_ns)
    return ("file", mode, path.read_bytes(), info.st_mtime_ns)


@pytest.fixture
def snapshot() -> Callable[[Path], dict[str, tuple[Any, ...]]]:
    """Every entry below (and including) a path: type, permission bits, content, mtime."""

    def take(root: Path) -> dict[str, tuple[Any, ...]]:
        found = {".": _entry(root)}
        for directory, dirnames, filenames in os.walk(root):
            for name in [*dirnames, *filenames]:
                path = Path(directory, name)
                found[path.relative_to(root).as_posix()] = _entry(path)
        return found

    return take


@pytest.fixture
def read_answers() -> Callable[[Path], dict[str, Any]]:
    def read(project: Path) -> dict[str, Any]:
        document = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
        assert isinstance(document, dict)
        return document

    return read


@pytest.fixture
def leftovers() -> Callable[[Path], list[Path]]:
    def find(directory: Path) -> list[Path]:
        if not directory.is_dir():
            return []
        return sorted(directory.glob(f".*{STAGING_SUFFIX}"))

    return find


@pytest.fixture
def git() -> Iterator[Callable[..., str]]:
    executable = shutil.which("git")
    assert executable, "git is needed to check the first commit"

    def run(repo: Path, *args: str) -> str:
        done = subprocess.run(
            [executable, "-C", str(repo), *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        return done.stdout

    yield run
