"""`scalekit presets`: list (stderr), show (stdout, comments kept), new (validated)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from scalekit_gen.paths import presets_dir

SHIPPED = sorted(path.stem for path in presets_dir().glob("*.yml"))


def _comments(text: str) -> list[str]:
    """Every comment in a YAML text, whole-line or trailing, without the leading spaces."""
    return [line[line.index("#") :].strip() for line in text.splitlines() if "#" in line]


def _plan(cli, *args: str | Path) -> dict:
    result = cli("plan", "-f", "json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_shipped_presets_are_the_documented_ones() -> None:
    assert SHIPPED == [
        "django-platform",
        "fastapi-async",
        "fastapi-sync",
        "instagram-classic",
        "lean-api",
    ]


def test_presets_lists_every_shipped_preset_on_stderr(cli) -> None:
    result = cli("presets")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    for name in SHIPPED:
        assert re.search(rf"\b{re.escape(name)}\b", result.stderr), name
    # each row carries the preset's first comment line as its summary
    assert "the default scalekit" in result.stderr


@pytest.mark.parametrize("name", SHIPPED)
def test_presets_show_prints_the_file_with_its_comments(cli, name) -> None:
    result = cli("presets", "show", name)
    assert result.exit_code == 0, result.output
    text = (presets_dir() / f"{name}.yml").read_text(encoding="utf-8")
    assert result.stdout == text
    assert result.stdout.startswith("# ")
    assert result.stderr == ""
    assert isinstance(yaml.safe_load(result.stdout), dict)


def test_presets_show_fastapi_async_keeps_trailing_comments(cli) -> None:
    result = cli("presets", "show", "fastapi-async")
    assert "concurrency: async" in result.stdout
    assert re.search(r"^queue: taskiq\s+#", result.stdout, re.M)


def test_presets_show_a_file(cli, tmp_path) -> None:
    mine = tmp_path / "mine.yml"
    mine.write_text("# ours\nextends: lean-api\nci: gitlab  # we are on GitLab\n", encoding="utf-8")
    result = cli("presets", "show", mine)
    assert result.exit_code == 0
    assert result.stdout == mine.read_text(encoding="utf-8")


def test_presets_show_an_unknown_name(cli) -> None:
    result = cli("presets", "show", "nope")
    assert result.exit_code == 2
    assert result.stdout == ""
    message = re.sub(r"\s+", " ", result.stderr)
    assert "no preset named 'nope'" in message
    for name in SHIPPED:
        assert name in message
    assert "Traceback" not in result.output


# --------------------------------------------------------------------------- presets new


def test_presets_new_from_a_shipped_preset(cli, tmp_path) -> None:
    path = tmp_path / "org" / "acme.yml"
    result = cli("presets", "new", path, "--from", "django-platform", "--set", "queue=dramatiq")
    assert result.exit_code == 0, result.output
    said = " ".join(result.stderr.split())  # Rich wraps a long path onto a line of its own
    assert f"Wrote {path}" in said
    assert f"scalekit new --preset {path}" in said
    base_text = (presets_dir() / "django-platform.yml").read_text(encoding="utf-8")
    text = path.read_text(encoding="utf-8")
    # Every comment of the base is kept, except the one that described the replaced value.
    stale = _comments(next(line for line in base_text.splitlines() if line.startswith("queue:")))
    assert stale  # the base explains its celery choice ...
    for comment in _comments(base_text):
        if comment not in stale:
            assert comment in text, f"lost the comment {comment!r}"
    assert re.search(r"^queue: dramatiq\s*$", text, re.M)  # ... which no longer applies
    values = yaml.safe_load(text)
    assert values == {**yaml.safe_load(base_text), "queue": "dramatiq"}
    # and it is a working preset: validated the same way as a shipped one
    plan = _plan(cli, "--preset", path)
    assert plan["answers"]["framework"] == "django"
    assert plan["answers"]["queue"] == "dramatiq"


def test_presets_new_with_typed_values(cli, tmp_path) -> None:
    path = tmp_path / "acme.yml"
    result = cli(
        "presets", "new", path,
        "--from", "fastapi-async",
        "--set", "observability=prometheus,opentelemetry",
        "--set", "target_users=20k",
        "--set", "owners=*:@acme/platform",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    values = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert values["observability"] == ["prometheus", "opentelemetry"]
    assert values["target_users"] == 20_000  # stored as a number, not "20k"
    assert values["owners"] == {"*": "@acme/platform"}


def test_presets_new_without_a_base(cli, tmp_path) -> None:
    path = tmp_path / "tiny.yml"
    result = cli("presets", "new", path, "--set", "queue=celery")
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(path.read_text(encoding="utf-8")) == {"queue": "celery"}


def test_presets_new_refuses_an_existing_file(cli, tmp_path, snapshot) -> None:
    path = tmp_path / "acme.yml"
    path.write_text("# hand-written, keep me\nframework: django\n", encoding="utf-8")
    before = snapshot(tmp_path)
    result = cli("presets", "new", path, "--from", "fastapi-async")
    assert result.exit_code == 2
    assert f"{path} already exists" in result.stderr
    assert "Traceback" not in result.output
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--from", "fastapi-async", "--set", "queue=rq"], "queue: rq needs concurrency: sync"),
        (["--from", "django-platform", "--set", "queue=taskiq"], "queue: taskiq needs"),
        (["--set", "broker=memcached"], "memcached is a cache, never a broker"),
        (["--set", "nonsense=1"], "unknown decision"),
        (["--from", "nope"], "no preset named 'nope'"),
    ],
    ids=["rule", "two-rules", "refused-value", "unknown-key", "unknown-base"],
)
def test_presets_new_refuses_an_invalid_preset(cli, tmp_path, args, fragment) -> None:
    path = tmp_path / "new-dir" / "acme.yml"
    result = cli("presets", "new", path, *args)
    assert result.exit_code == 2
    assert fragment in re.sub(r"\s+", " ", result.stderr)
    assert "Traceback" not in result.output
    assert not path.exists()
    assert not path.parent.exists()


def test_presets_new_from_a_preset_that_extends_keeps_what_it_inherits(
    cli, tmp_path, monkeypatch
) -> None:
    """Deriving from `org.yml` (extends: django-platform) must mean what org.yml means."""
    monkeypatch.chdir(tmp_path)
    org = tmp_path / "org.yml"
    org.write_text("# Acme standard\nextends: django-platform\nqueue: dramatiq\n", encoding="utf-8")
    result = cli("presets", "new", "team.yml", "--from", "./org.yml", "--set", "cache=memcached")
    assert result.exit_code == 0, result.output

    expected = _plan(cli, "--preset", "./org.yml", "--set", "cache=memcached")["answers"]
    derived = _plan(cli, "--preset", "./team.yml")["answers"]
    assert derived["cache"] == "memcached"
    assert derived["queue"] == "dramatiq"
    assert derived["framework"] == expected["framework"] == "django"
    assert derived == expected


def test_presets_new_from_a_nested_preset_file_keeps_relative_extends(
    cli, tmp_path, monkeypatch
) -> None:
    """A base that extends by relative path still resolves from the new file's location."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "org").mkdir()
    (tmp_path / "org" / "base.yml").write_text("framework: django\nci: gitlab\n", encoding="utf-8")
    (tmp_path / "org" / "team.yml").write_text(
        "extends: ./base.yml\nqueue: dramatiq\n", encoding="utf-8"
    )
    result = cli("presets", "new", "derived/mine.yml", "--from", "org/team.yml")
    assert result.exit_code == 0, result.output
    derived = _plan(cli, "--preset", "derived/mine.yml")["answers"]
    assert (derived["framework"], derived["ci"], derived["queue"]) == (
        "django",
        "gitlab",
        "dramatiq",
    )
