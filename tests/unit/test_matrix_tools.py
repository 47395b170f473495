"""Which Python the static checks and the test harness give generated projects
(`tools.project_python`): $SCALEKIT_UV_PYTHON, else python3.12/3.13/3.14 on PATH (no pyenv
shim), else pyenv's installed 3.12+ under `pyenv root`, else None and a message naming the fix.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from scalekit_gen.matrix import tools


def _executable(path: Path, text: str = "#!/bin/sh\nexit 0\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def _pyenv(tmp_path: Path, root: Path, versions: list[str]) -> Path:
    """A `pyenv` whose `pyenv root` prints `root`, with these versions installed under it."""
    for version in versions:
        _executable(root / "versions" / version / "bin" / "python3")
    return _executable(tmp_path / "pyenv-bin" / "pyenv", f'#!/bin/sh\necho "{root}"\n')


@pytest.fixture(autouse=True)
def _nothing_found(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No override, and a PATH of an empty directory: each test adds what it needs."""
    monkeypatch.delenv("SCALEKIT_UV_PYTHON", raising=False)
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    tools._pyenv_root.cache_clear()
    return empty


def test_the_override_wins_and_must_be_executable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    python = _executable(tmp_path / "mine" / "python")
    monkeypatch.setenv("SCALEKIT_UV_PYTHON", str(python))
    assert tools.project_python() == str(python)
    monkeypatch.setenv("SCALEKIT_UV_PYTHON", str(tmp_path / "absent"))
    assert tools.project_python() is None


def test_path_is_searched_for_the_oldest_supported_minor_first(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bin_dir = tmp_path / "bin"
    newer = _executable(bin_dir / "python3.13")
    monkeypatch.setenv("PATH", str(bin_dir))
    assert tools.project_python() == str(newer)
    older = _executable(bin_dir / "python3.12")
    assert tools.project_python() == str(older)


def test_pyenv_shims_on_path_are_passed_over_for_pyenvs_own_versions(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A shim runs whatever version pyenv selects there, so the version under `pyenv root`
    is taken instead, found through the pyenv on PATH, wherever its root is."""
    shims = tmp_path / "home" / ".pyenv" / "shims"
    _executable(shims / "python3.12")
    root = tmp_path / "elsewhere" / "pyenv-root"
    pyenv = _pyenv(tmp_path, root, ["3.11.7", "3.12.1", "3.12.10", "3.13.0", "3.12-dev"])
    monkeypatch.setenv("PATH", f"{shims}:{pyenv.parent}")
    # 3.12 before 3.13, and its newest patch (10 > 1 as numbers); no dev build, no 3.11.
    assert tools.project_python() == str(root / "versions" / "3.12.10" / "bin" / "python3")


def test_pyenv_without_a_usable_version_finds_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    root = tmp_path / "pyenv-root"
    pyenv = _pyenv(tmp_path, root, ["3.11.7", "3.13.0rc1", "myenv"])
    monkeypatch.setenv("PATH", str(pyenv.parent))
    assert tools.project_python() is None


def test_a_failing_pyenv_is_no_python(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    broken = _executable(tmp_path / "pyenv-bin" / "pyenv", "#!/bin/sh\nexit 1\n")
    monkeypatch.setenv("PATH", str(broken.parent))
    assert tools.project_python() is None


def test_without_any_python_the_message_names_where_it_looked_and_the_fix() -> None:
    assert tools.project_python() is None
    (problem,) = [line for line in tools.missing() if "Python >= 3.12" in line]
    assert problem == tools.NO_PROJECT_PYTHON
    for named in ("SCALEKIT_UV_PYTHON", "python3.12", "pyenv root", "uv python install 3.12"):
        assert named in problem
    assert "/root/.pyenv" not in problem  # no machine's own path
