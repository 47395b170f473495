"""The static proof of every combination (`scalekit matrix --static --all`): a file rendered on
its own is byte for byte the file of a full render, and a template change that breaks only
some combinations fails the proof with a line that renders a blueprint holding the break."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scalekit_gen import copier_ext
from scalekit_gen.cli import app
from scalekit_gen.matrix import cover, proof, space
from scalekit_gen.matrix.checks import check_project
from scalekit_gen.paths import template_dir
from scalekit_gen.presets import load_answers
from scalekit_gen.render import render_project

from .test_matrix_static import BREAKAGE, LOCUSTFILE


def _files(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file()
    }


# Blueprints far apart: each framework, queue, CI and deploy target, replicas or not.
SAMPLE = cover.cover(space.valid_rows(), 1)


@pytest.mark.parametrize("row", SAMPLE, ids=lambda row: f"row={space.row_id(row)}")
def test_a_file_rendered_alone_is_the_file_of_a_full_render(
    row: space.Row, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Secrets are fresh on every call; the same one everywhere makes the renders comparable.
    monkeypatch.setattr(copier_ext.secrets, "token_urlsafe", lambda nbytes=48: "s" * nbytes)
    template = template_dir()
    render_project(space.blueprint_of(row), tmp_path / "full", git=False)
    sources = sorted(
        path.relative_to(template).as_posix()
        for path in (template / "project").rglob("*")
        if path.is_file()
    )
    alone = {path: content for _, path, content in proof.render_files(template, row, sources)}
    assert alone == _files(tmp_path / "full")


def test_a_breakage_in_some_combinations_fails_the_proof_with_a_reproduce_line(
    tmp_path: Path,
) -> None:
    template = tmp_path / "templates"
    shutil.copytree(template_dir(), template)
    with (template / LOCUSTFILE).open("a", encoding="utf-8") as out:
        out.write(BREAKAGE)
    workdir = tmp_path / "work"
    # 288 blueprints with RQ, every cache among them.
    only = ["framework=fastapi", "deploy=compose", "ci=github", "queue=rq", "observability=none"]
    args = ["matrix", "--static", "--all", "--template", str(template), "--jobs", "2"]
    args += [f"--only={condition}" for condition in only]
    args += ["--workdir", str(workdir)]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "400", "NO_COLOR": "1"})
    output = result.output
    assert result.exit_code == 3, output
    failed = re.findall(r"FAILED (\S+) \(from (\S+)\) in (\S+)", output)
    assert failed, output
    for path, _, row in failed:
        assert path == "loadtests/locustfile.py", output
        assert "queue=rq" in row and "cache=memcached" in row, output
    assert re.search(r"\d+ of [\d,]+ files failed", output), output

    # The reproduce line renders a blueprint holding the broken file; the check fails there.
    line = next(line for line in output.splitlines() if "reproduce:" in line)
    command = line.split("reproduce:", 1)[1].split("#", 1)[0].split()
    assert command[:2] == ["copier", "copy"], line
    subprocess.run(
        [str(Path(sys.executable).parent / "copier"), *command[1:]],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    rendered = tmp_path / command[-1]
    again = [p for p in check_project(rendered) if p.check == "python-compile"]
    assert any(p.path == "loadtests/locustfile.py" for p in again), again
    answers = load_answers(rendered / ".copier-answers.yml").values
    assert (answers["queue"], answers["cache"]) == ("rq", "memcached")
    kept = line_after(output, "kept file:")
    assert "def broken(:" in Path(kept).read_text("utf-8")


def line_after(output: str, label: str) -> str:
    return next(line for line in output.splitlines() if label in line).split(label, 1)[1].strip()
