"""Plain Copier, without scalekit's CLI, renders and validates exactly as `scalekit new` does.

The `copier` console script of this very environment is used, so `scalekit_gen` (the Jinja
extension the template loads) is importable by it, as it is for a user who installed both.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pytest_copie.plugin import Copie

from scalekit_gen.blueprint import AnswerLayer, Blueprint, build_blueprint
from scalekit_gen.catalog import DECISIONS, REQUIREMENTS
from scalekit_gen.paths import template_dir

from .battery import check_rendered_project
from .support import NETWORK_MARKER, RenderFn

COPIER = Path(sys.executable).with_name("copier")
TEMPLATE = template_dir()
TIMEOUT = 120
RQ_RULE = next(
    r for r in REQUIREMENTS if (r.key, r.value, r.other) == ("queue", "rq", "concurrency")
)
RQ_MESSAGE = f"queue: rq needs concurrency: {RQ_RULE.allowed[0]}, but concurrency is async"
REFUSED_DATA = {"framework": "django", "queue": "rq", "concurrency": "async"}


def _copier(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(COPIER), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def _same_as_scalekit(copier_root: Path, scalekit_root: Path) -> None:
    """Byte-identical files, except the secrets and the answers file (the battery's part)."""
    assert _files(copier_root) == _files(scalekit_root)
    different = [
        name
        for name in _files(copier_root)
        if name not in (".env", ".copier-answers.yml")
        and (copier_root / name).read_bytes() != (scalekit_root / name).read_bytes()
    ]
    assert different == [], "plain Copier and scalekit render these differently"


def test_copier_console_script_is_installed() -> None:
    assert COPIER.is_file(), f"{COPIER} missing: install the project with its dependencies"


def test_copier_cli_defaults_render_what_scalekit_renders(
    tmp_path: Path, offline_env: dict[str, str], render: RenderFn
) -> None:
    dst = tmp_path / "cli" / "my-service"
    done = _copier(offline_env, "copy", "--trust", "--defaults", str(TEMPLATE), str(dst))
    assert done.returncode == 0, done.stdout + done.stderr
    assert NETWORK_MARKER not in done.stderr

    blueprint = build_blueprint([])  # `--defaults` takes every default, as `scalekit new --yes`
    scalekit_root, _ = render(blueprint, "scalekit")
    _same_as_scalekit(dst, scalekit_root)
    check_rendered_project(dst, blueprint)


def test_copier_cli_refuses_what_the_catalog_refuses(
    tmp_path: Path, offline_env: dict[str, str]
) -> None:
    dst = tmp_path / "refused"
    data = [arg for key, value in REFUSED_DATA.items() for arg in ("--data", f"{key}={value}")]
    done = _copier(offline_env, "copy", "--trust", "--defaults", *data, str(TEMPLATE), str(dst))
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert RQ_MESSAGE in output, output  # our validator's message, naming both decisions
    assert not dst.exists() or not any(dst.iterdir()), "a refused render left files behind"


def test_copier_cli_without_trust_refuses_the_extension(
    tmp_path: Path, offline_env: dict[str, str]
) -> None:
    dst = tmp_path / "untrusted"
    done = _copier(offline_env, "copy", "--defaults", str(TEMPLATE), str(dst))
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "--trust" in output or "unsafe" in output.lower(), output


# In-process cases: the copier `data` and the blueprint built from the same answers. Cases
# other than "defaults" give `modules` explicitly so that each isolates what it is about
# (Copier's own default for modules is what "defaults" checks).
_MODULES = {"modules": list(DECISIONS["modules"].default_for({}))}
IN_PROCESS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "rich": {
        "project_name": "Acme Shop",
        "framework": "django",
        "read_replicas": 2,
        "cache": "memcached",
        "broker": "rabbitmq",
        "ci": "gitlab",
        "modules": ["billing", "accounts"],
        "owners": {"*": "@acme/platform", "billing": "@acme/payments"},
    },
    # Computed defaults must come out as scalekit computes them: one case per rule of the
    # catalog (the other answers default to fitting values) and per computed default.
    **{f"{r.key}={r.value}": {r.key: r.value, **_MODULES} for r in REQUIREMENTS},
    **{
        f"{d.key}={value}": {d.key: value, **_MODULES}
        for d in DECISIONS.values()
        if d.key in ("framework", "queue")
        for value in d.values
        if value in ("django", "none")
    },
}


@pytest.mark.parametrize("data", IN_PROCESS.values(), ids=IN_PROCESS.keys())
def test_copier_renders_in_process(data: dict[str, Any], copie: Copie) -> None:
    """Through pytest-copie, as template authors test theirs: the answers are given as
    defaults, so Copier's own questions (computed defaults, conditions, validators) run."""
    blueprint: Blueprint = build_blueprint([AnswerLayer("copier data", data)])
    result = copie.copy(extra_answers=data, template_dir=TEMPLATE)
    assert result.exception is None, result.exception
    assert result.exit_code == 0 and result.project_dir is not None
    check_rendered_project(result.project_dir, blueprint)


def test_copier_in_process_refuses(copie: Copie) -> None:
    result = copie.copy(extra_answers=REFUSED_DATA, template_dir=TEMPLATE)
    assert isinstance(result.exception, ValueError), result
    assert RQ_MESSAGE in str(result.exception)
    assert result.exit_code != 0


def _git(cwd: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


@pytest.fixture
def git_env(offline_env: dict[str, str]) -> dict[str, str]:
    identity = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com"}
    identity |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    return {**offline_env, **identity}


def _tagged_template(root: Path, env: dict[str, str]) -> Path:
    """The template as a team would host it: its own git repository, tagged v1."""
    shutil.copytree(TEMPLATE, root, ignore=shutil.ignore_patterns("__pycache__"))
    _git(root, env, "init", "-q", "-b", "main")
    _git(root, env, "add", "-A")
    _git(root, env, "commit", "-q", "-m", "template v1")
    _git(root, env, "tag", "v1")
    return root


def test_copier_update_from_a_tagged_template_keeps_the_projects_edits(
    tmp_path: Path, git_env: dict[str, str]
) -> None:
    template = _tagged_template(tmp_path / "template", git_env)
    project = tmp_path / "service"
    done = _copier(git_env, "copy", "--trust", "--defaults", str(template), str(project))
    assert done.returncode == 0, done.stdout + done.stderr
    answers = (project / ".copier-answers.yml").read_text("utf-8")
    assert "_commit: v1" in answers, answers
    _git(project, git_env, "init", "-q", "-b", "main")
    _git(project, git_env, "add", "-A")
    _git(project, git_env, "commit", "-q", "-m", "generated")

    # The team edits its project; the template moves on to v2 meanwhile.
    main = next(project.glob("src/*/main.py"))
    main.write_text(main.read_text("utf-8") + "\n# the team's own line\n", "utf-8")
    _git(project, git_env, "commit", "-qam", "our edit")
    makefile = template / "project" / "Makefile.jinja"
    makefile.write_text(makefile.read_text("utf-8") + "\n# added in template v2\n", "utf-8")
    (template / "project" / "CHANGELOG.md").write_text("# Changelog\n", "utf-8")
    _git(template, git_env, "add", "-A")
    _git(template, git_env, "commit", "-q", "-m", "template v2")
    _git(template, git_env, "tag", "v2")

    done = _copier(git_env, "update", "--trust", "--defaults", str(project))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "_commit: v2" in (project / ".copier-answers.yml").read_text("utf-8")
    assert main.read_text("utf-8").endswith("\n# the team's own line\n")
    assert (project / "Makefile").read_text("utf-8").endswith("# added in template v2\n")
    assert (project / "CHANGELOG.md").read_text("utf-8") == "# Changelog\n"
    assert "<<<<<<<" not in _git(project, git_env, "diff")
