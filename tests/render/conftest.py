"""Fixtures for the render tests.

- Every test here runs without network (`no_network`, autouse): connecting an internet socket
  raises, and any attempt fails the test, even one the code under test swallowed.
- `offline_env` is the environment for subprocesses (plain `copier`, an installed `scalekit`):
  a `sitecustomize` on PYTHONPATH blocks their network the same way and reports attempts on
  stderr with `NETWORK_MARKER`.
- `render(blueprint, name)` renders with `render_project(..., git=False)` into a fresh
  directory below tmp_path.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from scalekit_gen.blueprint import Blueprint
from scalekit_gen.render import RenderResult, render_project

from .support import SITECUSTOMIZE, RenderFn, block_network


@pytest.fixture(autouse=True)
def no_network() -> Iterator[list[str]]:
    with block_network() as attempts:
        yield attempts
    assert not attempts, f"the test tried to use the network: {attempts}"


@pytest.fixture(scope="session")
def offline_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """os.environ for a subprocess whose Python cannot reach the network."""
    directory = tmp_path_factory.mktemp("offline-site")
    (directory / "sitecustomize.py").write_text(textwrap.dedent(SITECUSTOMIZE), "utf-8")
    env = {**os.environ, "PYTHONPATH": str(directory), "NO_COLOR": "1"}
    # Git (scalekit new commits) must not depend on this machine's identity or hooks.
    env.update(GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1")
    env.pop("PYTHONHOME", None)
    return env


@pytest.fixture
def render(tmp_path: Path) -> RenderFn:
    """render(blueprint, name="p") -> (project root, RenderResult), rendered without git."""

    def _render(blueprint: Blueprint, name: str = "p") -> tuple[Path, RenderResult]:
        dest = tmp_path / name
        result = render_project(blueprint, dest, git=False)
        return dest, result

    return _render
