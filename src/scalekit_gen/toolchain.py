"""The tools a generated project runs on: uv, and a Python that its `requires-python` accepts.

`scalekit new` warns (it renders either way) and `scalekit doctor` fails when one is missing;
both print the same fix, from here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

# The generated projects' `requires-python` (templates/project/*/pyproject.toml.jinja).
PROJECT_PYTHON = ">=3.12"
# `uv python find` only looks at what is installed (it never downloads), so it answers fast.
UV_FIND_TIMEOUT_S = 20


@dataclass(frozen=True)
class Tool:
    """Where a tool was found, or why it was not and how to fix that."""

    name: str
    found: str | None  # a path or a version; None when missing
    fix: str = ""
    # Missing but provided on demand (uv downloads a Python at `make install`): a warning.
    optional: bool = False


def find_uv() -> Tool:
    """uv on PATH, else the one installed with scalekit (the `uv` package is a dependency)."""
    on_path = shutil.which("uv")
    if on_path:
        return Tool("uv", on_path)
    bundled = _bundled_uv()
    if bundled is not None:
        return Tool(
            "uv",
            None,
            fix=f'uv came with scalekit but is not on PATH: export PATH="{bundled.parent}:$PATH"'
            " (or activate scalekit's virtualenv)",
        )
    return Tool("uv", None, fix="install uv: pip install uv (https://docs.astral.sh/uv/)")


def _bundled_uv() -> Path | None:
    try:
        from uv import find_uv_bin
    except ImportError:  # pragma: no cover - uv is a dependency; a broken install lacks it
        return None
    try:
        return Path(find_uv_bin())
    except FileNotFoundError:  # the package without its binary
        return None


def uv_binary() -> str | None:
    """A uv that can be run: on PATH or installed with scalekit."""
    return shutil.which("uv") or (str(path) if (path := _bundled_uv()) else None)


def find_project_python() -> Tool:
    """A Python that the generated project accepts, as uv finds it (installed ones only)."""
    name = f"Python {PROJECT_PYTHON}"
    uv = uv_binary()
    if uv is None:
        return Tool(name, None, fix="install uv first (see above); it finds or installs Python")
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    # uv run uses UV_PYTHON when it is set, so that is the one to check.
    request = os.environ.get("UV_PYTHON") or PROJECT_PYTHON
    try:
        found = subprocess.run(
            [uv, "python", "find", "--no-project", request],
            capture_output=True,
            text=True,
            timeout=UV_FIND_TIMEOUT_S,
            env=env,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return Tool(name, None, fix=f"uv could not look for one ({error}); run: uv python list")
    path = found.stdout.strip()
    if found.returncode == 0 and path and _accepted(path):
        return Tool(name, path)
    where = (
        f"UV_PYTHON ({request}) is not" if request != PROJECT_PYTHON else "no installed Python is"
    )
    fix = (
        f"{where} 3.12 or newer: run `uv python install 3.12`, or install python3.12 "
        "from your OS packages, or point uv at one: export UV_PYTHON=/path/to/python3.12"
    )
    if request == PROJECT_PYTHON and _uv_downloads_pythons():
        return Tool(name, None, fix=f"{fix} (`make install` lets uv download one)", optional=True)
    return Tool(name, None, fix=fix)


def _uv_downloads_pythons() -> bool:
    """Whether `uv sync` may download a missing Python (uv's default is automatic)."""
    return os.environ.get("UV_PYTHON_DOWNLOADS", "automatic").lower() not in ("never", "manual")


def _accepted(python: str) -> bool:
    try:
        probe = subprocess.run(
            [python, "-c", "import sys; sys.exit(sys.version_info < (3, 12))"],
            capture_output=True,
            timeout=UV_FIND_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0
