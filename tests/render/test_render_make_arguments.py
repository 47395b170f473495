"""The values given to Makefile targets (`make flag NAME=... STATE=...`, `make api-key
NAME=...`, `make revoke-api-key PREFIX=...`) reach the command as typed, whatever they hold.

The rendered Makefile runs with `uv` and `python` stand-ins on PATH: `uv run` runs the rest of
its command line, and `python` records its arguments. A value with quotes, `;`, `$(...)`,
backquotes or a make function must arrive as one argument, unchanged, and run nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from .support import blueprint_for

HOSTILE = [
    "x'; touch PWNED; echo '",
    'x"; touch PWNED; echo "',
    "$(touch PWNED)",
    "`touch PWNED`",
    "$(shell touch PWNED)",
    "a b;c|d&e>f",
]
UV = '#!/bin/sh\n[ "$1" = run ] || exit 97\nshift\nexec "$@"\n'
PYTHON = (
    f"#!{sys.executable}\n"
    "import json, os, sys\n"
    "with open(os.environ['ARGV_LOG'], 'a', encoding='utf-8') as log:\n"
    "    log.write(json.dumps(sys.argv[1:]) + '\\n')\n"
)


def _executable(path: Path, text: str) -> None:
    path.write_text(text, "utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture(scope="module", params=["fastapi", "django"])
def project(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from scalekit_gen.render import render_project

    root = tmp_path_factory.mktemp(f"make-{request.param}") / "p"
    answers = {"framework": request.param, "auth": "api-keys"}
    render_project(blueprint_for(answers), root, git=False)
    return root


def _make(project: Path, tmp_path: Path, *arguments: str) -> list[list[str]]:
    """`make *arguments` in `project` with the stand-ins; the argument lists python got."""
    tools = tmp_path / "tools"
    tools.mkdir(exist_ok=True)
    _executable(tools / "uv", UV)
    _executable(tools / "python", PYTHON)
    log = tmp_path / "argv.log"
    log.unlink(missing_ok=True)
    (project / "PWNED").unlink(missing_ok=True)  # an earlier failure's, in the shared render
    env = {
        "PATH": f"{tools}{os.pathsep}/usr/bin{os.pathsep}/bin",
        "HOME": str(tmp_path),
        "ARGV_LOG": str(log),
    }
    make = shutil.which("make")
    assert make is not None, "GNU make is needed to run the generated Makefile"
    done = subprocess.run(
        [make, "--no-print-directory", *arguments],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert not (project / "PWNED").exists(), "a value ran as shell or make code"
    return [json.loads(line) for line in log.read_text("utf-8").splitlines()]


def _program(project: Path) -> list[str]:
    if (project / "manage.py").is_file():
        return ["manage.py", "flag"]
    package = next(p.name for p in (project / "src").iterdir() if (p / "flags").is_dir())
    return ["-m", f"{package}.flags"]


@pytest.mark.parametrize("value", HOSTILE)
def test_make_flag_passes_name_and_state_as_typed(
    project: Path, tmp_path: Path, value: str
) -> None:
    calls = _make(project, tmp_path, "flag", f"NAME={value}", f"STATE={value}!")
    assert calls == [[*_program(project), "set", value, f"{value}!"]]


def test_make_flag_without_a_name_lists_the_flags(project: Path, tmp_path: Path) -> None:
    assert _make(project, tmp_path, "flag") == [[*_program(project), "list"]]


@pytest.mark.parametrize("value", HOSTILE)
def test_api_key_targets_pass_their_value_as_typed(
    project: Path, tmp_path: Path, value: str
) -> None:
    (minted,) = _make(project, tmp_path, "api-key", f"NAME={value}")
    assert minted[-1] == value
    (revoked,) = _make(project, tmp_path, "revoke-api-key", f"PREFIX={value}")
    assert revoked[-1] == value
