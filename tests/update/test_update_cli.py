"""`scalekit update` on the command line: exit codes, where the diff and the messages go.

The installed template is swapped for a test-made "next version" (as after upgrading
scalekit) by pointing the renderer's template directory at it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from scalekit_gen import render
from scalekit_gen.cli import app
from scalekit_gen.errors import CONFLICTS, USER_ERROR

from .conftest import PACKAGE, append, edit, git, team_commit

SETTINGS = f"src/{PACKAGE}/core/settings.py"
T_SETTINGS = "project/{{ fastapi_only }}/src/{{ package }}/core/settings.py.jinja"
TIMEOUT = "    cache_timeout_s: float = Field(default={}, gt=0)"
TERMINAL = {"COLUMNS": "200", "NO_COLOR": "1"}


def _scalekit(*args: str | Path) -> Result:
    runner = CliRunner(env=TERMINAL)
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def _said(result: Result) -> str:
    """stderr with Rich's line wrapping undone."""
    return " ".join(result.stderr.split())


@pytest.fixture
def upgraded(
    template_copy: Callable[[str], Path],
    generate: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """A project from template N whose team changed a setting that template N+1, now the
    installed one, changes too; template N is gone."""
    old, new = template_copy("template-n"), template_copy("template-n+1")
    project = generate(old)
    edit(project / SETTINGS, TIMEOUT.format("0.5"), TIMEOUT.format("1.5"))
    team_commit(project)
    edit(new / T_SETTINGS, TIMEOUT.format("0.5"), TIMEOUT.format("0.25"))
    append(new / "project" / "Makefile.jinja", "\n# template N+1\n")
    monkeypatch.setattr(render, "template_dir", lambda: new)
    monkeypatch.chdir(project)
    return project


def test_update_lists_the_conflict_and_exits_3(upgraded: Path) -> None:
    result = _scalekit("update")
    assert result.exit_code == CONFLICTS, result.output
    assert "1 files conflict" in _said(result) and f"  {SETTINGS}\n" in result.stderr
    assert "  M Makefile\n" in result.stderr and "git merge --abort undoes" in _said(result)
    assert result.stdout == ""
    assert "<<<<<<<" in (upgraded / SETTINGS).read_text("utf-8")


def test_dry_run_prints_the_diff_on_stdout_and_changes_nothing(upgraded: Path) -> None:
    head = git(upgraded, "rev-parse", "HEAD")
    result = _scalekit("update", upgraded, "--dry-run", "--set", "cache=memcached")
    assert result.exit_code == CONFLICTS, result.output
    assert result.stdout.startswith("diff --git ") and "+# template N+1" in result.stdout
    assert "cache: redis → memcached" in result.stderr
    said = _said(result)  # memcached adds CACHE_URL, which the project's .env lacks
    assert "New settings in .env.example: CACHE_URL " in said
    assert "Your .env does not set CACHE_URL: copy them from .env.example" in said
    assert "nothing was written" in _said(result) and "would conflict" in _said(result)
    assert git(upgraded, "status", "--porcelain") == ""
    assert git(upgraded, "rev-parse", "HEAD") == head


def test_a_dirty_tree_is_a_user_error(upgraded: Path) -> None:
    append(upgraded / "Makefile", "# uncommitted\n")
    result = _scalekit("update", upgraded)
    assert result.exit_code == USER_ERROR
    assert "error: the working tree has uncommitted changes" in _said(result)
    assert "Traceback" not in result.output
    assert not (upgraded / ".git" / "MERGE_HEAD").exists()


def test_an_up_to_date_project_is_left_alone(
    template_copy: Callable[[str], Path], generate: Callable[..., Path]
) -> None:
    project = generate(template_copy("template"))
    result = _scalekit("update", project)
    assert result.exit_code == 0, result.output
    assert "is up to date" in _said(result)
    assert git(project, "status", "--porcelain") == ""
