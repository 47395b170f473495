"""`scalekit plan`: machine output on stdout (json, yaml), the human table on stderr."""

from __future__ import annotations

import json
import re
import subprocess

import yaml

from scalekit_gen.catalog import DECISIONS


def _row(stderr: str, key: str) -> str:
    """The first line of a decision's row in the table."""
    for line in stderr.splitlines():
        if line.strip().startswith(f"{key} "):
            return line
    raise AssertionError(f"no row for {key} in:\n{stderr}")


def test_json_goes_to_stdout_and_parses(cli) -> None:
    result = cli("plan", "--format", "json")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""  # nothing human mixed in
    document = json.loads(result.stdout)
    assert document["scalekit_plan"] == 1
    assert [entry["key"] for entry in document["decisions"]] == list(DECISIONS)
    assert set(document["answers"]) == set(DECISIONS)
    assert document["answers"]["framework"] == "fastapi"
    assert all(entry["source"] == "default" for entry in document["decisions"])
    assert document["sizing"]
    assert isinstance(document["warnings"], list)


def test_yaml_parses_to_the_same_document(cli) -> None:
    as_json = cli("plan", "-f", "json", "--preset", "instagram-classic", "--set", "ci=gitlab")
    as_yaml = cli("plan", "-f", "yaml", "--preset", "instagram-classic", "--set", "ci=gitlab")
    assert as_json.exit_code == as_yaml.exit_code == 0
    assert as_yaml.stderr == ""
    assert yaml.safe_load(as_yaml.stdout) == json.loads(as_json.stdout)
    assert as_yaml.stdout.startswith("scalekit_plan: 1\n")  # key order is kept


def test_the_table_goes_to_stderr(cli) -> None:
    result = cli("plan")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "Decisions" in result.stderr
    assert "Sizing" in result.stderr
    for key in ("framework", "queue", "peak_rps"):
        assert _row(result.stderr, key)
    assert "taskiq" in _row(result.stderr, "queue")


def test_the_preset_is_shown_as_the_source(cli) -> None:
    table = cli("plan", "--preset", "fastapi-async", "--set", "ci=gitlab")
    assert table.exit_code == 0, table.output
    assert "(preset fastapi-async)" in _row(table.stderr, "framework")
    assert "(--set)" in _row(table.stderr, "ci")
    assert "(" not in _row(table.stderr, "project_name")  # defaults name no source

    document = json.loads(cli("plan", "-f", "json", "-p", "fastapi-async").stdout)
    sources = {entry["key"]: entry["source"] for entry in document["decisions"]}
    assert sources["framework"] == "preset fastapi-async"
    assert sources["queue"] == "preset fastapi-async"
    assert sources["modules"] == "default"


def test_sources_follow_the_precedence(cli, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "answers.yml").write_text("cache: memcached\nci: gitlab\n", encoding="utf-8")
    result = cli(
        "plan", "-f", "json",
        "--preset", "django-platform",
        "--answers", "answers.yml",
        "--set", "ci=none",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    entries = {entry["key"]: entry for entry in document["decisions"]}
    assert (entries["framework"]["value"], entries["framework"]["source"]) == (
        "django",
        "preset django-platform",
    )
    assert (entries["cache"]["value"], entries["cache"]["source"]) == ("memcached", "answers.yml")
    assert (entries["ci"]["value"], entries["ci"]["source"]) == ("none", "--set")


def test_a_user_preset_file_is_named_by_its_path(cli, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "acme.yml").write_text(
        "# acme standard\nextends: fastapi-async\nobservability: [prometheus, opentelemetry]\n",
        encoding="utf-8",
    )
    document = json.loads(cli("plan", "-f", "json", "--preset", "./acme.yml").stdout)
    sources = {entry["key"]: entry["source"] for entry in document["decisions"]}
    assert sources["observability"] == "acme.yml"
    assert sources["framework"] == "preset fastapi-async"
    assert document["answers"]["observability"] == ["prometheus", "opentelemetry"]


def test_a_queue_less_plan_says_the_broker_does_not_apply(cli) -> None:
    document = json.loads(cli("plan", "-f", "json", "--set", "queue=none").stdout)
    broker = next(entry for entry in document["decisions"] if entry["key"] == "broker")
    assert broker["applies"] is False
    assert document["answers"]["broker"] is None
    table = cli("plan", "--set", "queue=none")
    assert not any(line.strip().startswith("broker ") for line in table.stderr.splitlines())
    assert "worker replicas" not in table.stderr


def test_warnings_go_to_stderr_with_the_table_and_into_the_document(cli) -> None:
    table = cli("plan", "--set", "target_users=100m")
    assert table.exit_code == 0
    assert "warning:" in table.stderr
    document = json.loads(cli("plan", "-f", "json", "--set", "target_users=100m").stdout)
    assert document["warnings"]
    first = re.sub(r"\s+", " ", document["warnings"][0])
    assert first[:60] in re.sub(r"\s+", " ", table.stderr)


def test_json_from_a_real_process_pipes_cleanly(sk) -> None:
    done = sk("plan", "--format", "json", "--preset", "lean-api", timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert json.loads(done.stdout)["answers"]["queue"] == "none"


def test_json_to_a_reader_that_went_away(scalekit_argv, subprocess_env, tmp_path) -> None:
    """`scalekit plan -f json | head -0`: stdout is closed early; no traceback, no hang."""
    process = subprocess.Popen(
        [*scalekit_argv, "plan", "-f", "json"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=subprocess_env,
        cwd=tmp_path,
    )
    assert process.stdout is not None
    process.stdout.close()  # the reader is gone before scalekit writes
    try:
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert b"Traceback" not in err
    assert b"hit a bug" not in err
