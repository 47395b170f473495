"""`scalekit matrix` at the command line: counts on stderr, chosen rows on stdout, and every
bad option refused with a message naming the fix (exit 2), before anything is rendered."""

from __future__ import annotations

import shlex

import pytest

from scalekit_gen.matrix import runtime, selection, space, tools

DJANGO_RQ = ["--only", "framework=django", "--only", "queue=rq"]


def test_the_count_goes_to_stderr_and_the_rows_to_stdout(cli) -> None:
    result = cli("matrix", *DJANGO_RQ)
    assert result.exit_code == 0, result.output
    blueprints = len(space.valid_rows())
    chosen = selection.choose(only=["framework=django", "queue=rq"]).rows
    assert f"{blueprints:,} valid blueprints in the catalog" in result.stderr
    selected = space.select(space.valid_rows(), ["framework=django", "queue=rq"])
    assert f"; {len(selected):,} after --only/--exclude" in result.stderr
    lines = result.stdout.splitlines()
    assert lines == [space.row_id(row) for row in chosen]
    assert all("framework=django" in line and "queue=rq" in line for line in lines)


def test_shards_split_the_listed_rows(cli) -> None:
    whole = cli("matrix", *DJANGO_RQ).stdout.splitlines()
    parts = [cli("matrix", *DJANGO_RQ, "--shard", f"{i}/3").stdout.splitlines() for i in (1, 2, 3)]
    assert sorted(parts[0] + parts[1] + parts[2]) == sorted(whole)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--only", "queue=kafka"], "choose one of celery, dramatiq, rq, taskiq, none"),
        (["--exclude", "colour=red"], "not a matrix axis"),
        (["--shard", "5/4"], "write I/N"),
        (["--all", "--strength", "3"], "--all checks every blueprint"),
        (["--only", "queue=taskiq", "--only", "concurrency=sync"], "no valid blueprint matches"),
        (["--strength", "14"], "choose 1 to 13"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else value,
)
def test_bad_options_are_refused_with_the_fix(cli, args: list[str], says: str) -> None:
    result = cli("matrix", *args)
    assert result.exit_code == 2, result.output
    assert says in result.stderr
    assert "Traceback" not in result.output


def test_pairwise_with_another_strength_is_refused(cli) -> None:
    result = cli("matrix", "--pairwise", "--strength", "3")
    assert result.exit_code == 2
    assert "--pairwise is --strength 2" in result.stderr


def test_static_names_missing_tools_before_rendering(cli, monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(tools, "missing", lambda: ["ruff (pip install 'scalekit-gen[test]')"])
    result = cli("matrix", "--static", *DJANGO_RQ, "--workdir", tmp_path / "work")
    assert result.exit_code == 2, result.output
    assert "--static needs ruff (pip install 'scalekit-gen[test]')" in result.stderr
    assert not (tmp_path / "work").exists()


def test_static_and_runtime_together_are_refused(cli, tmp_path) -> None:
    result = cli("matrix", "--static", "--runtime", *DJANGO_RQ, "--workdir", tmp_path / "work")
    assert result.exit_code == 2, result.output
    assert "--static and --runtime are separate runs" in result.stderr
    assert not (tmp_path / "work").exists()


def test_runtime_names_what_it_misses_before_rendering(cli, monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(tools, "missing_runtime", lambda: ["make (the projects' commands)"])
    result = cli("matrix", "--runtime", *DJANGO_RQ, "--workdir", tmp_path / "work")
    assert result.exit_code == 2, result.output
    assert "--runtime needs make (the projects' commands)" in result.stderr
    assert not (tmp_path / "work").exists()


def test_each_runtime_rerun_line_selects_exactly_its_row(tmp_path) -> None:
    """What a failing --runtime row prints to run it again: every axis pinned, so that
    `--all` with those filters is that one row, whatever the row (every pairwise one)."""
    template = tmp_path / "a template with spaces"
    for row in selection.choose().rows:
        command = shlex.split(runtime.rerun_command(row, template))
        assert command[:4] == ["scalekit", "matrix", "--runtime", "--all"]
        assert command[-2:] == ["--template", str(template)]
        only = [command[i + 1] for i, word in enumerate(command) if word == "--only"]
        assert selection.choose(only=only, everything=True).rows == [row]
