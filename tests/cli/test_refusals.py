"""What scalekit refuses: exit 2, a message that says what and how to fix it, nothing written.

Includes the real-process cases: no terminal and no --yes must fail fast (never hang on a
prompt nobody can answer) and print no traceback.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import typer.main

from scalekit_gen.cli import app

SHIPPED = ("django-platform", "fastapi-async", "fastapi-sync", "instagram-classic", "lean-api")

# (arguments, fragments the message must contain)
BAD_ANSWERS = {
    "rq-with-async": (
        ["--set", "queue=rq", "--set", "concurrency=async"],
        ["queue: rq", "concurrency: sync", "concurrency is async", "Fix:"],
    ),
    "taskiq-with-django": (
        ["--set", "framework=django", "--set", "queue=taskiq"],
        ["queue: taskiq", "framework: fastapi", "framework is django"],
    ),
    "rabbitmq-with-rq": (
        ["--set", "queue=rq", "--set", "broker=rabbitmq"],
        ["broker: rabbitmq", "queue is rq"],
    ),
    "memcached-as-broker": (
        ["--set", "broker=memcached"],
        ["memcached is a cache, never a broker", "broker: redis", "broker: rabbitmq"],
    ),
    "unknown-key": (
        ["--set", "qeueu=celery"],
        ["qeueu", "unknown decision", "did you mean queue?"],
    ),
    "bad-integer": (
        ["--set", "read_replicas=abc"],
        ["read_replicas", "'abc' is not a whole number"],
    ),
    "out-of-range": (
        ["--set", "read_replicas=99"],
        ["read_replicas", "out of range", "0 to 15"],
    ),
    "not-an-option": (
        ["--set", "framework=flask"],
        ["'flask' is not an option", "fastapi", "django"],
    ),
    "set-without-equals": (
        ["--set", "queue"],
        ["--set 'queue'", "KEY=VALUE"],
    ),
    "missing-preset-name": (
        ["--preset", "nope"],
        ["no preset named 'nope'", *SHIPPED],
    ),
    "bad-module-name": (
        ["--set", "modules=Billing,api"],
        ["'Billing' is not a lowercase Python identifier", "'api' is used by the generated"],
    ),
    "owner-of-unknown-module": (
        ["--set", "modules=billing", "--set", "owners=*:@acme/x,ledger:@acme/y"],
        ["owners name modules that do not exist: ledger"],
    ),
}


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.mark.parametrize(("args", "fragments"), BAD_ANSWERS.values(), ids=BAD_ANSWERS.keys())
def test_new_refuses_bad_answers(cli, tmp_path, args, fragments) -> None:
    dest = tmp_path / "svc"
    result = cli("new", dest, "--yes", *args)
    assert result.exit_code == 2, result.output
    message = _one_line(result.stderr)
    assert message.startswith("error:")
    for fragment in fragments:
        assert fragment in message
    assert "Traceback" not in result.output
    assert not dest.exists()
    assert list(tmp_path.iterdir()) == []  # not even a staging directory


@pytest.mark.parametrize(("args", "fragments"), BAD_ANSWERS.values(), ids=BAD_ANSWERS.keys())
def test_plan_refuses_bad_answers(cli, args, fragments) -> None:
    result = cli("plan", "--format", "json", *args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""  # no half document on stdout
    message = _one_line(result.stderr)
    for fragment in fragments:
        assert fragment in message
    assert "Traceback" not in result.output


def test_every_problem_is_reported_at_once_with_its_source(cli, tmp_path) -> None:
    answers_file = tmp_path / "answers.yml"
    answers_file.write_text("read_replicas: lots\n", encoding="utf-8")
    result = cli(
        "plan", "-f", "json",
        "--answers", answers_file,
        "--set", "broker=memcached",
        "--set", "frameworkk=django",
    )  # fmt: skip
    assert result.exit_code == 2
    message = _one_line(result.stderr)
    assert "3 problems with the answers" in message
    assert f"{answers_file}: read_replicas" in message
    assert "--set: broker" in message
    assert "--set: frameworkk" in message


def test_a_rule_conflict_names_both_sources(cli, tmp_path) -> None:
    result = cli("plan", "-f", "json", "--preset", "fastapi-async", "--set", "queue=rq")
    assert result.exit_code == 2
    message = _one_line(result.stderr)
    assert "queue from --set" in message
    assert "concurrency from preset fastapi-async" in message


@pytest.mark.parametrize(
    "args",
    [
        ["plan", "--format", "xml"],
        ["new", "--bogus"],
        ["frobnicate"],
        ["presets", "show"],
    ],
    ids=["bad-choice", "unknown-option", "unknown-command", "missing-argument"],
)
def test_usage_errors_exit_2(cli, args) -> None:
    result = cli(*args)
    assert result.exit_code == 2
    assert "Error" in result.output or "error" in result.output
    assert "Traceback" not in result.output


# --------------------------------------------------------------------------- destinations


def _fill(dest: Path) -> None:
    dest.mkdir()
    (dest / "notes.txt").write_text("my notes\n", encoding="utf-8")
    (dest / ".hidden").write_bytes(b"\x00\x01binary\xff")
    nested = dest / "src" / "deep"
    nested.mkdir(parents=True)
    (nested / "module.py").write_text("print('mine')\n", encoding="utf-8")
    script = dest / "run.sh"
    script.write_text("#!/bin/sh\necho hi\n", encoding="utf-8")
    script.chmod(0o755)
    (dest / "private").write_text("secret\n", encoding="utf-8")
    (dest / "private").chmod(0o600)
    (dest / "link").symlink_to("notes.txt")
    (dest / "README.md").write_text("# not a scalekit project\n", encoding="utf-8")


@pytest.mark.parametrize(
    "extra",
    [
        ["--yes"],
        ["--yes", "--no-git"],
        ["--yes", "--dry-run"],
        ["--yes", "--preset", "django-platform", "--set", "queue=dramatiq"],
        ["--interactive"],  # refused before a single question is asked
    ],
    ids=["yes", "no-git", "dry-run", "preset-and-set", "interactive"],
)
def test_a_non_empty_destination_is_refused_and_untouched(cli, tmp_path, snapshot, extra) -> None:
    dest = tmp_path / "mine"
    _fill(dest)
    before_parent = sorted(p.name for p in tmp_path.iterdir())
    before = snapshot(dest)
    result = cli("new", dest, *extra, input="")
    assert result.exit_code == 2, result.output
    message = _one_line(result.stderr)
    assert f"{dest} already exists and is not empty" in message
    assert "input ended" not in message
    assert "Traceback" not in result.output
    assert snapshot(dest) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == before_parent


def test_a_destination_with_only_a_hidden_file_is_not_empty(cli, tmp_path, snapshot) -> None:
    dest = tmp_path / "mine"
    dest.mkdir()
    (dest / ".git").mkdir()
    (dest / ".git" / "HEAD").write_text("ref: refs/heads/main\n", encoding="utf-8")
    before = snapshot(dest)
    result = cli("new", dest, "--yes")
    assert result.exit_code == 2
    assert snapshot(dest) == before


def test_a_destination_that_is_a_file_is_refused(cli, tmp_path, snapshot) -> None:
    dest = tmp_path / "taken"
    dest.write_text("keep me\n", encoding="utf-8")
    before = snapshot(tmp_path)
    result = cli("new", dest, "--yes")
    assert result.exit_code == 2
    assert f"{dest} exists and is not a directory" in _one_line(result.stderr)
    assert "Traceback" not in result.output
    assert snapshot(tmp_path) == before


def test_a_destination_below_a_file_is_refused(cli, tmp_path, snapshot) -> None:
    (tmp_path / "taken").write_text("keep me\n", encoding="utf-8")
    before = snapshot(tmp_path)
    result = cli("new", tmp_path / "taken" / "svc", "--yes")
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert snapshot(tmp_path) == before


def test_a_symlink_destination_is_refused(cli, tmp_path, snapshot) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to("real")
    before = snapshot(tmp_path)
    result = cli("new", tmp_path / "alias", "--yes")
    assert result.exit_code == 2
    assert snapshot(tmp_path) == before


# --------------------------------------------------------------------------- no terminal


def test_no_terminal_and_no_yes_lists_the_missing_answers(sk, tmp_path) -> None:
    dest = tmp_path / "svc"
    done = sk("new", dest, stdin=subprocess.DEVNULL, timeout=30)
    assert done.returncode == 2, done.stderr
    message = _one_line(done.stderr)
    assert "missing answers for:" in message
    missing = message.split("missing answers for:", 1)[1].split(".", 1)[0]
    for key in ("framework", "concurrency", "queue", "cache", "modules", "peak_rps"):
        assert key in missing
    assert "project_name" not in missing  # the destination's name answers it
    assert "--yes" in message
    assert "--interactive" in message
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    assert not dest.exists()


def test_no_terminal_lists_only_what_is_still_missing(sk, tmp_path) -> None:
    done = sk("new", tmp_path / "svc", "--preset", "django-platform", timeout=30)
    assert done.returncode == 2, done.stderr
    missing = _one_line(done.stderr).split("missing answers for:", 1)[1].split(".", 1)[0]
    assert [key.strip() for key in missing.split(",")] == [
        "modules",
        "owners",
        "target_users",
        "peak_rps",
    ]


def test_no_terminal_with_a_closed_pipe_does_not_hang(sk, tmp_path) -> None:
    """stdin is a pipe that is already at EOF: still the same clear error, promptly."""
    done = sk("new", tmp_path / "svc", input="", timeout=30)
    assert done.returncode == 2, done.stderr
    assert "missing answers for:" in done.stderr
    assert "Traceback" not in done.stderr


def test_no_terminal_with_every_answer_given_needs_no_yes(sk, tmp_path) -> None:
    done = sk(
        "new", tmp_path / "svc", "--no-git",
        "--preset", "django-platform",
        "--set", "modules=catalog",
        "--set", "owners=*:@acme/backend",
        "--set", "target_users=1000",
        "--set", "peak_rps=0",
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "svc" / "README.md").is_file()


# --------------------------------------------------------------------------- messages


def test_refusal_messages_only_suggest_commands_that_exist(cli, tmp_path) -> None:
    """A refusal that says "use scalekit X" must name a command the user can run."""
    dest = tmp_path / "mine"
    _fill(dest)
    result = cli("new", dest, "--yes")
    assert result.exit_code == 2
    assert _suggested_commands(result.stderr) <= COMMANDS


def test_a_rendered_project_only_suggests_commands_that_exist(cli, tmp_path) -> None:
    """The answers file and decision records tell people which scalekit command to run."""
    dest = tmp_path / "svc"
    assert cli("new", dest, "--yes", "--no-git").exit_code == 0
    for path in [dest / ".copier-answers.yml", *sorted((dest / "docs").rglob("*.md"))]:
        suggested = _suggested_commands(path.read_text(encoding="utf-8"))
        assert suggested <= COMMANDS, f"{path.name} suggests {suggested - COMMANDS}"


COMMANDS = set(typer.main.get_command(app).commands)


def _suggested_commands(text: str) -> set[str]:
    """Commands named as "use scalekit X", "with: scalekit X" or "`scalekit X`"."""
    pattern = r"(?:\buse|\brun|with:|`)\s*scalekit ([a-z][a-z-]*)"
    return set(re.findall(pattern, text))
