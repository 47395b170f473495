"""What `scalekit new` and `doctor` say when uv or a Python for the project is missing."""

from __future__ import annotations

import sys
from pathlib import Path

from scalekit_gen import toolchain


def test_uv_off_path_points_at_the_one_installed_with_scalekit(monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    tool = toolchain.find_uv()
    assert tool.found is None
    bundled = Path(toolchain.uv_binary() or "")
    assert bundled.is_file()  # the uv dependency's binary
    assert f'export PATH="{bundled.parent}:$PATH"' in tool.fix


def test_uv_on_path_is_found() -> None:
    uv = toolchain.uv_binary()
    assert uv is not None
    tool = toolchain.find_uv()
    assert tool.found or "export PATH" in tool.fix


def test_uv_python_is_judged_by_its_version(monkeypatch) -> None:
    """This suite's own interpreter: refused when older than 3.12 (CI runs 3.11), else found."""
    monkeypatch.setenv("UV_PYTHON", sys.executable)
    tool = toolchain.find_project_python()
    if sys.version_info < (3, 12):
        assert tool.found is None
        assert f"UV_PYTHON ({sys.executable}) is not 3.12 or newer" in tool.fix
        assert "uv python install 3.12" in tool.fix
    else:
        assert tool.found is not None


def test_a_uv_python_the_project_accepts_is_found(monkeypatch) -> None:
    from scalekit_gen.harness.project import find_python

    python = find_python()
    monkeypatch.setenv("UV_PYTHON", python)
    assert toolchain.find_project_python().found == python


def test_a_missing_python_is_optional_only_where_uv_may_download_one(monkeypatch) -> None:
    monkeypatch.delenv("UV_PYTHON", raising=False)
    monkeypatch.setattr(toolchain, "_accepted", lambda python: False)  # none installed fits
    monkeypatch.delenv("UV_PYTHON_DOWNLOADS", raising=False)
    downloadable = toolchain.find_project_python()
    assert downloadable.found is None and downloadable.optional
    assert "`make install` lets uv download one" in downloadable.fix
    monkeypatch.setenv("UV_PYTHON_DOWNLOADS", "never")
    assert not toolchain.find_project_python().optional
