"""The tools the static checks run, found once, or a message saying what to install.

scalekit's own install (`pip install scalekit-gen`) renders projects; checking them needs
more: ruff, the schema packages and a Python as new as the projects' (3.12 or later: the
generated code uses syntax an older Python cannot parse). The packages come with the `test`
extra (`pip install 'scalekit-gen[test]'`), which the matrix uses as they are rather than
installing anything itself; `missing()` says what is absent before a run starts.
`project_python()` is also the test harness's Python for generated projects.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

INSTALL = "pip install 'scalekit-gen[test]'"
MODULES = {
    "check_jsonschema": "check-jsonschema",
    "jsonschema": "jsonschema",
    "kubernetes_validate": "kubernetes-validate",
    "yaml": "pyyaml",
}
# The projects' Pythons by preference: their oldest minor (their Dockerfile's and CI's) first.
PROJECT_PYTHON_NAMES = ("python3.12", "python3.13", "python3.14")
# A pyenv version directory holding a final CPython release of one of them (no dev builds,
# no pyenv-virtualenv environments).
PYENV_VERSION = re.compile(r"3\.(1[2-9])\.(\d+)")
PYENV_ROOT_TIMEOUT_S = 10
NO_PROJECT_PYTHON = (
    "no Python >= 3.12 found for generated projects (looked for $SCALEKIT_UV_PYTHON, then "
    f"{', '.join(PROJECT_PYTHON_NAMES)} on PATH, then `pyenv root`/versions/3.12.x and newer). "
    "Install one and put it on PATH (your OS's python3.12 package, or `uv python install "
    "3.12 --preview --default`, or `pyenv install 3.12`), or set SCALEKIT_UV_PYTHON to the "
    "path of a python3.12 or newer"
)


@cache
def ruff() -> str | None:
    """Ruff from this environment (next to its Python), else from PATH."""
    beside = Path(sys.executable).parent / "ruff"
    return str(beside) if beside.is_file() else shutil.which("ruff")


def clean_path(path: str | None) -> list[str]:
    """PATH without this process's venv and without pyenv shims."""
    own_bins = {os.path.realpath(os.path.join(sys.prefix, "bin"))}
    if os.environ.get("VIRTUAL_ENV"):
        own_bins.add(os.path.realpath(os.path.join(os.environ["VIRTUAL_ENV"], "bin")))
    kept = []
    for entry in (path or "/usr/local/bin:/usr/bin:/bin").split(os.pathsep):
        if not entry or os.path.realpath(entry) in own_bins:
            continue
        if os.path.basename(entry.rstrip("/")) == "shims" and "pyenv" in entry:
            continue
        if entry not in kept:
            kept.append(entry)
    return kept


def project_python() -> str | None:
    """The Python >= 3.12 generated projects run on: $SCALEKIT_UV_PYTHON when set (None if
    that is not executable), else the first of python3.12, 3.13, 3.14 on PATH (never a pyenv
    shim, which may resolve to another version), else pyenv's newest 3.12.x, then 3.13.x, ...
    under `pyenv root`; None when there is none (NO_PROJECT_PYTHON says how to get one)."""
    override = os.environ.get("SCALEKIT_UV_PYTHON")
    if override:
        return override if os.access(override, os.X_OK) else None
    search = os.pathsep.join(clean_path(os.environ.get("PATH")))
    for name in PROJECT_PYTHON_NAMES:
        on_path = shutil.which(name, path=search)
        if on_path:
            return on_path
    pyenv = shutil.which("pyenv")
    root = _pyenv_root(pyenv) if pyenv else None
    return _pyenv_python(Path(root)) if root else None


@cache
def _pyenv_root(pyenv: str) -> str | None:
    """`pyenv root` (it honours $PYENV_ROOT); None when it fails."""
    try:
        done = subprocess.run(
            [pyenv, "root"],
            capture_output=True,
            text=True,
            timeout=PYENV_ROOT_TIMEOUT_S,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    root = done.stdout.strip()
    return root if done.returncode == 0 and root else None


def _pyenv_python(root: Path) -> str | None:
    """The python3 of the preferred CPython >= 3.12 installed under a pyenv root: the lowest
    minor version, its newest patch release."""
    found: list[tuple[tuple[int, int], str]] = []
    for version in root.glob("versions/3.*"):
        match = PYENV_VERSION.fullmatch(version.name)
        python = version / "bin" / "python3"
        if match and os.access(python, os.X_OK):
            minor, patch = int(match.group(1)), int(match.group(2))
            found.append(((minor, -patch), str(python)))
    return min(found)[1] if found else None


def missing() -> list[str]:
    """What the static checks need and cannot find, each with how to get it."""
    out = [
        f"the Python package {package} ({INSTALL})"
        for module, package in MODULES.items()
        if importlib.util.find_spec(module) is None
    ]
    if ruff() is None:
        out.append(f"ruff ({INSTALL}, or put ruff on PATH)")
    if project_python() is None:
        out.append(NO_PROJECT_PYTHON)
    return out


def missing_runtime() -> list[str]:
    """What `--runtime` needs and cannot find (the servers' binaries are looked for as each
    starts; `scripts/ensure-system-deps` installs them)."""
    out = []
    if importlib.util.find_spec("psycopg") is None:
        out.append(f"the Python package psycopg ({INSTALL})")
    if shutil.which("make") is None:
        out.append("make (the generated projects' commands are Makefile targets)")
    if project_python() is None:
        out.append(NO_PROJECT_PYTHON)
    return out
