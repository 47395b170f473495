"""Fixtures for the update tests.

- Every test runs without network (`no_network`, autouse), as an update must work offline.
- Git runs with an empty global configuration (no identity, hooks or excludes of this
  machine); the team's commits are made with `team_commit`.
- `template_copy(name)` copies the template to a directory of its own, which a test edits
  to make "the next template version"; `generate(template, *sets)` renders a project from it
  with a first commit, as `scalekit new` does.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from scalekit_gen.blueprint import build_blueprint
from scalekit_gen.paths import template_dir
from scalekit_gen.presets import collect_layers
from scalekit_gen.render import render_project
from tests.render.support import block_network

PROJECT = "acme-shop"
PACKAGE = "acme_shop"
TEAM = ("-c", "user.name=Team", "-c", "user.email=team@example.com")


@pytest.fixture(autouse=True)
def no_network() -> Iterator[None]:
    with block_network() as attempts:
        yield
    assert not attempts, f"the test tried to use the network: {attempts}"


@pytest.fixture(autouse=True)
def _hermetic_git(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path_factory.getbasetemp() / "empty-gitconfig"
    empty.touch()
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *TEAM, *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


def team_commit(repo: Path, message: str = "our edits") -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", message)


def edit(path: Path, old: str, new: str) -> None:
    """Replace `old` (which must be there exactly once) with `new`."""
    text = path.read_text("utf-8")
    assert text.count(old) == 1, f"{path}: expected {old!r} once"
    path.write_text(text.replace(old, new), "utf-8")


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text("utf-8") + text, "utf-8")


@pytest.fixture
def template_copy(tmp_path: Path) -> Callable[[str], Path]:
    def copy(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(template_dir(), target, ignore=shutil.ignore_patterns("__pycache__"))
        return target

    return copy


@pytest.fixture
def generate(tmp_path: Path) -> Callable[..., Path]:
    def render(template: Path, *sets: str, git: bool = True) -> Path:
        layers = collect_layers(sets=list(sets), project_name=PROJECT)
        dest = tmp_path / "projects" / PROJECT
        render_project(build_blueprint(layers), dest, git=git, template=template)
        return dest

    return render
