"""All or nothing: Ctrl-C, a template failure or a bug mid-render leaves no trace.

In process, `_copier_render` (or a later step) is replaced to fail after files were written
into the staging directory. In a real process, SIGINT arrives while the staging directory is
full. Exit codes: 130 interrupted, 2 a user-facing render error, 1 a bug.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from scalekit_gen import render
from scalekit_gen.paths import template_dir
from scalekit_gen.render import STAGING_SUFFIX


class _PartialRender:
    """Stands in for `_copier_render`: writes some files, then fails like `error` says."""

    def __init__(self, error: BaseException) -> None:
        self.error = error
        self.out: Path | None = None

    def __call__(self, blueprint: Any, template: Path, out: Path) -> None:
        self.out = out
        (out / "docs" / "decisions").mkdir(parents=True)
        (out / "README.md").write_text(f"# {blueprint.project_slug}\n", encoding="utf-8")
        (out / "docs" / "decisions" / "0001-framework.md").write_text("half\n", encoding="utf-8")
        assert out.parent.name.endswith(STAGING_SUFFIX)  # really inside the staging directory
        raise self.error


def _assert_rendered_into_staging(fake: _PartialRender, dest: Path) -> None:
    assert fake.out is not None, "the render was never reached"
    assert fake.out.name == dest.name
    assert not fake.out.parent.exists(), "the staging directory was left behind"


# --------------------------------------------------------------------------- Ctrl-C in process


def test_ctrl_c_mid_render_leaves_no_directory(cli, tmp_path, monkeypatch, leftovers) -> None:
    fake = _PartialRender(KeyboardInterrupt())
    monkeypatch.setattr(render, "_copier_render", fake)
    dest = tmp_path / "svc"
    result = cli("new", dest, "--yes")
    assert result.exit_code == 130
    assert "Interrupted — nothing was written." in result.stderr
    assert "Traceback" not in result.output
    _assert_rendered_into_staging(fake, dest)
    assert not dest.exists()
    assert leftovers(tmp_path) == []
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_inside_copier_is_an_interrupt_not_a_render_error(
    cli, tmp_path, monkeypatch, leftovers
) -> None:
    """scalekit's own wrapper around Copier must let KeyboardInterrupt through as such."""
    import copier

    seen: list[Path] = []

    def interrupted_run_copy(src_path: str, dst_path: Path, **kwargs: Any) -> None:
        dst = Path(dst_path)
        seen.append(dst)
        dst.mkdir(parents=True)
        (dst / "README.md").write_text("# half\n", encoding="utf-8")
        raise KeyboardInterrupt

    monkeypatch.setattr(copier, "run_copy", interrupted_run_copy)
    dest = tmp_path / "new-parent" / "svc"
    result = cli("new", dest, "--yes")
    assert result.exit_code == 130
    assert "rendering the template failed" not in result.stderr
    assert "Interrupted — nothing was written." in result.stderr
    assert seen and not seen[0].exists()
    assert list(tmp_path.iterdir()) == []
    assert leftovers(tmp_path) == []


def test_ctrl_c_removes_the_parent_directories_it_created(
    cli, tmp_path, monkeypatch, leftovers
) -> None:
    fake = _PartialRender(KeyboardInterrupt())
    monkeypatch.setattr(render, "_copier_render", fake)
    (tmp_path / "existing").mkdir()
    dest = tmp_path / "existing" / "new-a" / "new-b" / "svc"
    result = cli("new", dest, "--yes")
    assert result.exit_code == 130
    _assert_rendered_into_staging(fake, dest)
    assert (tmp_path / "existing").is_dir()  # it was there before: kept
    assert list((tmp_path / "existing").iterdir()) == []  # new-a and new-b removed again
    assert leftovers(tmp_path / "existing") == []


def test_ctrl_c_keeps_an_existing_empty_destination(cli, tmp_path, monkeypatch, snapshot) -> None:
    fake = _PartialRender(KeyboardInterrupt())
    monkeypatch.setattr(render, "_copier_render", fake)
    dest = tmp_path / "empty"
    dest.mkdir()
    before = snapshot(dest)
    result = cli("new", dest, "--yes")
    assert result.exit_code == 130
    _assert_rendered_into_staging(fake, dest)
    assert snapshot(dest) == before
    assert list(tmp_path.iterdir()) == [dest]


def test_ctrl_c_during_git_init_leaves_no_directory(cli, tmp_path, monkeypatch, leftovers) -> None:
    seen: list[Path] = []

    def interrupted_git_init(root: Path) -> bool:
        seen.append(root)
        assert (root / "README.md").is_file()  # the real render finished in staging
        raise KeyboardInterrupt

    monkeypatch.setattr(render, "_git_init", interrupted_git_init)
    dest = tmp_path / "parent" / "svc"
    result = cli("new", dest, "--yes")
    assert result.exit_code == 130
    assert seen, "git init was never reached"
    assert not seen[0].exists()
    assert not (tmp_path / "parent").exists()
    assert leftovers(tmp_path) == []


def test_ctrl_c_in_a_dry_run_leaves_nothing_in_the_temp_dir(
    cli, tmp_path, monkeypatch, leftovers
) -> None:
    import tempfile

    system_tmp = tmp_path / "system-tmp"
    system_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_tmp))
    fake = _PartialRender(KeyboardInterrupt())
    monkeypatch.setattr(render, "_copier_render", fake)
    result = cli("new", tmp_path / "svc", "--yes", "--dry-run")
    assert result.exit_code == 130
    _assert_rendered_into_staging(fake, tmp_path / "svc")
    assert fake.out is not None and fake.out.is_relative_to(system_tmp)
    assert list(system_tmp.iterdir()) == []
    assert not (tmp_path / "svc").exists()


# --------------------------------------------------------------------------- render failures


def test_a_render_error_leaves_nothing_and_exits_2(cli, tmp_path, monkeypatch, leftovers) -> None:
    fake = _PartialRender(render.RenderError("rendering the template failed: boom"))
    monkeypatch.setattr(render, "_copier_render", fake)
    dest = tmp_path / "new-parent" / "svc"
    result = cli("new", dest, "--yes")
    assert result.exit_code == 2
    assert "error: rendering the template failed: boom" in result.stderr
    assert "Traceback" not in result.output
    _assert_rendered_into_staging(fake, dest)
    assert not (tmp_path / "new-parent").exists()
    assert leftovers(tmp_path) == []


@pytest.fixture
def broken_template(tmp_path: Path) -> Path:
    """A copy of the real template with one file that fails to render, rendered last."""
    copy = tmp_path / "template"
    shutil.copytree(template_dir(), copy)
    (copy / "project" / "zz-broken.txt.jinja").write_text(
        "{{ plan.no_such_key.deeper }}\n", encoding="utf-8"
    )
    return copy


def test_a_broken_template_leaves_nothing_and_exits_2(
    cli, tmp_path, monkeypatch, broken_template, leftovers
) -> None:
    monkeypatch.setattr(render, "template_dir", lambda: broken_template)
    workdir = tmp_path / "work"
    workdir.mkdir()
    dest = workdir / "deep" / "svc"
    result = cli("new", dest, "--yes")
    assert result.exit_code == 2, result.output
    assert "error: rendering the template failed" in result.stderr
    assert "no_such_key" in result.stderr  # the broken file, named by the message
    assert "Traceback" not in result.output
    assert list(workdir.iterdir()) == []
    assert leftovers(workdir) == []


# --------------------------------------------------------------------------- bugs


def test_a_bug_exits_1_with_a_traceback_and_leaves_nothing(
    cli, tmp_path, monkeypatch, leftovers
) -> None:
    def buggy_git_init(root: Path) -> bool:
        raise RuntimeError("something scalekit did wrong")

    monkeypatch.setattr(render, "_git_init", buggy_git_init)
    dest = tmp_path / "svc"
    result = cli("new", dest, "--yes")
    assert result.exit_code == 1
    assert "hit a bug" in result.stderr
    assert "Please report it" in result.stderr
    assert "Traceback" in result.stderr
    assert "RuntimeError: something scalekit did wrong" in result.stderr
    assert not dest.exists()
    assert leftovers(tmp_path) == []


def test_a_bug_in_plan_exits_1(cli, monkeypatch) -> None:
    from scalekit_gen import commands

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("plan exploded")

    monkeypatch.setattr(commands, "build_plan", broken)
    result = cli("plan", "--format", "json")
    assert result.exit_code == 1
    assert "hit a bug" in result.stderr
    assert "RuntimeError: plan exploded" in result.stderr
    assert result.stdout == ""


# --------------------------------------------------------------------------- real SIGINT

_SLOW_RENDER = textwrap.dedent(
    """
    import signal, sys, time
    from pathlib import Path
    import scalekit_gen.render as render
    from scalekit_gen.cli import main

    real_render = render._copier_render
    marker = Path(sys.argv[1])

    def slow_render(blueprint, template, out):
        real_render(blueprint, template, out)   # the staging directory is now full
        marker.write_text(str(out), encoding="utf-8")
        time.sleep(60)                           # ... and Ctrl-C arrives now

    render._copier_render = slow_render
    # As launched from a shell: even if the test runner ignores SIGINT, Ctrl-C interrupts.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.argv = ["scalekit", *sys.argv[2:]]
    main()
    """
)


def _wait_for(path: Path, process: subprocess.Popen[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists() or not path.read_text(encoding="utf-8"):
        if process.poll() is not None:
            _, err = process.communicate()
            pytest.fail(f"scalekit ended early ({process.returncode}): {err}")
        if time.monotonic() > deadline:
            process.kill()
            process.communicate()
            pytest.fail("the render never reached the staging directory")
        time.sleep(0.02)


@pytest.mark.parametrize("dry_run", [False, True], ids=["new", "dry-run"])
def test_sigint_while_rendering_in_a_real_process(
    tmp_path, subprocess_env, leftovers, dry_run
) -> None:
    marker = tmp_path / "staged"
    work = tmp_path / "work"
    work.mkdir()
    system_tmp = tmp_path / "system-tmp"
    system_tmp.mkdir()
    dest = work / "new-parent" / "svc"
    args = ["new", str(dest), "--yes", *(["--dry-run"] if dry_run else [])]
    env = {**subprocess_env, "TMPDIR": str(system_tmp)}
    process = subprocess.Popen(
        [sys.executable, "-c", _SLOW_RENDER, str(marker), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        _wait_for(marker, process, timeout=60)
        staged = Path(marker.read_text(encoding="utf-8"))
        assert (staged / "README.md").is_file()  # the interrupt hits a full staging dir
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, err
    assert "Interrupted — nothing was written." in err
    assert "Traceback" not in err
    assert out == ""
    assert not staged.exists()
    assert not staged.parent.exists()
    assert list(work.iterdir()) == []  # not dest, not its new parent, not a staging dir
    assert leftovers(work) == [] and leftovers(system_tmp) == []
    assert list(system_tmp.iterdir()) == []
