"""The tools the static checks run, found once, or a message saying what to install.

scalekit's own install (`pip install scalekit-gen`) renders projects; checking them needs
more: ruff, the schema packages and a Python as new as the projects' (3.12 or later: the
generated code uses syntax an older Python cannot parse). The packages come with the `test`
extra (`pip install 'scalekit-gen[test]'`), which the matrix uses as they are rather than
installing anything itself; `missing()` says what is absent before a run starts.
`project_python()` is also the test harness's Python for generated projects.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import re
import shutil
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
# The Python the integration machines provision for generated projects, tried first.
DEFAULT_PYTHON = "/root/.pyenv/versions/3.12.1/bin/python3.12"
PYENV_VERSIONS = "~/.pyenv/versions"
NO_PROJECT_PYTHON = (
    "no Python >= 3.12 found for generated projects; install one (e.g. `uv python install "
    f"3.12`, then put it on PATH) or set SCALEKIT_UV_PYTHON to one (looked at "
    f"$SCALEKIT_UV_PYTHON, {DEFAULT_PYTHON}, {PYENV_VERSIONS}/3.1[2-9]*, python3.12 on PATH)"
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
    """The Python >= 3.12 generated projects run on: $SCALEKIT_UV_PYTHON, else pyenv's
    3.12.1, else the newest ~/.pyenv/versions/3.1[2-9]*, else python3.12/3.13/3.14 on PATH
    (never a pyenv shim); None when there is none."""
    override = os.environ.get("SCALEKIT_UV_PYTHON")
    if override:
        return override if os.access(override, os.X_OK) else None
    candidates = [DEFAULT_PYTHON]
    found = glob.glob(f"{os.path.expanduser(PYENV_VERSIONS)}/3.1[2-9]*/bin/python3")

    def version(path: str) -> tuple[int, ...]:
        return tuple(int(p) for p in re.findall(r"\d+", Path(path).parent.parent.name))

    candidates += sorted(set(found), key=version, reverse=True)
    search = os.pathsep.join(clean_path(os.environ.get("PATH")))
    for name in ("python3.12", "python3.13", "python3.14"):
        on_path = shutil.which(name, path=search)
        if on_path:
            candidates.append(on_path)
    return next((c for c in candidates if os.access(c, os.X_OK)), None)


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
