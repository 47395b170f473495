"""The guided walk, answered through piped input (`--interactive`) with CliRunner.

Each question is one Rich prompt read from stdin; Enter takes the shown default, options are
picked by name or by their number in the table, a bad value or a rule-breaking option is
refused with a reason and asked again, and a summary is confirmed before anything is written.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

# Prompts in the order the wizard asks them when DEST names the project (defaults path).
DEFAULT_WALK = (
    "framework",
    "concurrency",
    "auth",
    "database",
    "read_replicas",
    "pooling",
    "queue",
    "broker",
    "cache",
    "observability",
    "load_tests",
    "deploy",
    "ci",
    "modules",
    "owner of everything else (*)",
    "owner of catalog",
    "target_users",
    "peak_rps",
)


def _lines(*answers: str) -> str:
    return "".join(f"{answer}\n" for answer in answers)


def _prompt_count(stderr: str, label: str) -> int:
    return len(re.findall(rf"(?m){re.escape(label)} \([^\n]*?\): ", stderr))


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_enter_everywhere_takes_the_defaults(cli, tmp_path, read_answers) -> None:
    dest = tmp_path / "svc"
    result = cli(
        "new", dest, "--interactive", "--no-git", input=_lines(*[""] * len(DEFAULT_WALK), "")
    )
    assert result.exit_code == 0, result.output
    for label in DEFAULT_WALK:
        assert _prompt_count(result.stderr, label) == 1, label
    assert "Render the project into" in result.stderr
    answers = read_answers(dest)
    assert (answers["framework"], answers["concurrency"], answers["queue"]) == (
        "fastapi",
        "async",
        "taskiq",
    )
    assert answers["owners"] == {"*": "@svc/backend"}
    assert "[1/17] Application framework" in result.stderr
    assert "[17/17] Peak requests per second" in result.stderr


# One answer list per prompt; every list but the last item is refused and re-asked.
SCRIPTED_WALK: list[tuple[str, list[str]]] = [
    ("framework", ["flask", "2"]),  # bad, then django by number
    ("concurrency", [""]),  # Enter: the default that fits django (sync)
    ("auth", ["passwords", "2"]),  # not an option, then api-keys by number
    ("database", [""]),
    ("read_replicas", ["abc", "99", "2"]),  # not a number, out of range, then 2
    ("pooling", ["pgbouncer-session"]),  # by name
    ("queue", ["taskiq", "rq"]),  # taskiq breaks two rules with django/sync
    ("broker", ["rabbitmq", ""]),  # RQ keeps its jobs in Redis only
    ("cache", ["3"]),  # redis+memcached by number
    ("observability", ["1,3"]),  # several by number
    ("load_tests", ["locust"]),
    ("deploy", [""]),
    ("ci", ["GitLab"]),  # names are case-insensitive
    ("modules", ["Billing", "accounts, billing"]),  # not an identifier, then two modules
    ("owner of everything else (*)", ["@acme/backend"]),
    ("owner of accounts", [""]),  # Enter: the fallback owner just given
    ("owner of billing", ["nobody", "@acme/payments"]),
    ("target_users", ["50k"]),
    ("peak_rps", [""]),
]


def test_a_scripted_walk_with_refusals(cli, tmp_path, read_answers) -> None:
    dest = tmp_path / "acme-platform"
    typed = [answer for _, answers in SCRIPTED_WALK for answer in answers]
    result = cli("new", dest, "--interactive", input=_lines(*typed, "y"))
    assert result.exit_code == 0, result.output
    err = result.stderr
    for label, answers in SCRIPTED_WALK:
        assert _prompt_count(err, label) == len(answers), label

    flat = _one_line(err)
    assert "'flask' is not an option — choose one of fastapi, django" in flat
    assert "'passwords' is not an option — choose one of users-jwt, api-keys, none" in flat
    assert "'abc' is not a whole number" in flat
    assert "99 is out of range" in flat
    assert "queue: taskiq needs concurrency: async, but concurrency is sync" in flat
    assert "queue: taskiq needs framework: fastapi, but framework is django" in flat
    assert "broker: rabbitmq needs queue: celery" in flat
    assert "but queue is rq" in flat
    assert "'Billing' is not a lowercase Python identifier" in flat
    assert "'nobody' is not a GitHub/GitLab handle" in flat
    # the shown default follows earlier answers
    assert "concurrency (sync): " in err
    assert "owner of accounts (@acme/backend): " in err

    answers = read_answers(dest)
    expected: dict[str, Any] = {
        "project_name": "acme-platform",
        "framework": "django",
        "concurrency": "sync",
        "auth": "api-keys",
        "database": "postgresql",
        "read_replicas": 2,
        "pooling": "pgbouncer-session",
        "queue": "rq",
        "broker": "redis",
        "cache": "redis+memcached",
        "observability": ["prometheus", "opentelemetry"],
        "load_tests": "locust",
        "deploy": "compose+kubernetes",
        "ci": "gitlab",
        "modules": ["accounts", "billing"],
        "owners": {"*": "@acme/backend", "billing": "@acme/payments"},
        "target_users": 50_000,
        "peak_rps": 0,
    }
    assert {key: answers.get(key) for key in expected} == expected
    codeowners = (dest / ".gitlab" / "CODEOWNERS").read_text(encoding="utf-8")
    assert "@acme/payments" in codeowners
    assert (dest / ".git").is_dir()
    assert f"Created {dest}" in err


def test_the_summary_shows_the_wizard_as_the_source(cli, tmp_path) -> None:
    result = cli(
        "new",
        tmp_path / "svc",
        "--interactive",
        "--no-git",
        input=_lines(*[""] * len(DEFAULT_WALK), "y"),
    )
    assert result.exit_code == 0, result.output
    summary = result.stderr.split("Plan for", 1)[1]
    assert "(wizard)" in summary
    assert "(destination name)" in summary


def test_only_what_the_preset_leaves_open_is_asked(cli, tmp_path, read_answers) -> None:
    dest = tmp_path / "svc"
    result = cli(
        "new", dest, "--interactive", "--no-git", "--preset", "django-platform",
        input=_lines("ledger", "", "", "2000", "", "y"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "[1/4] Domain modules" in result.stderr
    assert "[4/4] Peak requests per second" in result.stderr
    assert "Application framework" not in result.stderr
    answers = read_answers(dest)
    assert answers["framework"] == "django"
    assert answers["modules"] == ["ledger"]
    assert answers["target_users"] == 2000


def test_without_dest_the_project_name_is_asked_first(
    cli, tmp_path, monkeypatch, read_answers
) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli(
        "new", "--interactive", "--no-git", input=_lines("Acme Shop", *[""] * len(DEFAULT_WALK), "")
    )
    assert result.exit_code == 0, result.output
    assert "[1/18] Project name" in result.stderr
    assert "project_name (my-service): " in result.stderr
    assert "owner of everything else (*) (@acme-shop/backend): " in result.stderr
    answers = read_answers(tmp_path / "acme-shop")
    assert answers["project_name"] == "Acme Shop"
    assert answers["owners"] == {"*": "@acme-shop/backend"}


def _walk_with_no_queue() -> list[str]:
    """Enter everywhere but at the queue, answered "none" (the broker is then not asked)."""
    queue = DEFAULT_WALK.index("queue")
    return [*[""] * queue, "none", *[""] * (len(DEFAULT_WALK) - queue - 2)]


def test_choosing_no_queue_skips_the_broker(cli, tmp_path, read_answers) -> None:
    walk = _walk_with_no_queue()
    result = cli("new", tmp_path / "svc", "--interactive", "--no-git", input=_lines(*walk, "y"))
    assert result.exit_code == 0, result.output
    assert _prompt_count(result.stderr, "broker") == 0
    answers = read_answers(tmp_path / "svc")
    assert answers["queue"] == "none"
    assert "broker" not in answers


def test_the_step_counter_ends_at_the_last_question(cli, tmp_path) -> None:
    """[n/total]: when an answer makes a question moot, the total shrinks with it."""
    walk = _walk_with_no_queue()
    result = cli("new", tmp_path / "svc", "--interactive", "--no-git", input=_lines(*walk, "y"))
    assert result.exit_code == 0, result.output
    steps = [(int(n), int(t)) for n, t in re.findall(r"\[(\d+)/(\d+)\]", result.stderr)]
    assert [n for n, _ in steps] == list(range(1, len(steps) + 1))
    last_number, last_total = steps[-1]
    assert last_number == last_total, f"the last question is numbered {last_number}/{last_total}"


# --------------------------------------------------------------------------- endings


def test_declining_the_confirm_writes_nothing(cli, tmp_path) -> None:
    dest = tmp_path / "svc"
    result = cli("new", dest, "--interactive", input=_lines(*[""] * len(DEFAULT_WALK), "n"))
    assert result.exit_code == 0
    assert "Cancelled — nothing was written." in result.stderr
    assert not dest.exists()
    assert list(tmp_path.iterdir()) == []


def test_a_confirm_answer_that_is_not_yes_or_no_is_asked_again(cli, tmp_path) -> None:
    dest = tmp_path / "svc"
    result = cli(
        "new",
        dest,
        "--interactive",
        "--no-git",
        input=_lines(*[""] * len(DEFAULT_WALK), "maybe", "y"),
    )
    assert result.exit_code == 0, result.output
    assert result.stderr.count("Render the project into") == 2
    assert (dest / "README.md").is_file()


@pytest.mark.parametrize(
    ("answered", "missing"),
    [(0, "framework"), (8, "cache"), (15, "owner of catalog")],
    ids=["nothing", "half", "owners"],
)
def test_input_that_ends_early(cli, tmp_path, answered: int, missing: str) -> None:
    dest = tmp_path / "svc"
    result = cli("new", dest, "--interactive", input=_lines(*[""] * answered))
    assert result.exit_code == 2
    message = _one_line(result.stderr)
    assert f"error: input ended before '{missing}' was answered" in message
    assert "--yes" in message
    assert "Traceback" not in result.output
    assert not dest.exists()


def test_input_that_ends_at_the_confirm(cli, tmp_path) -> None:
    dest = tmp_path / "svc"
    result = cli("new", dest, "--interactive", input=_lines(*[""] * len(DEFAULT_WALK)))
    assert result.exit_code == 2
    assert "input ended before the summary was confirmed" in result.stderr
    assert not dest.exists()


def test_ctrl_c_at_a_prompt(cli, tmp_path, monkeypatch) -> None:
    from rich.prompt import Prompt

    real_ask = Prompt.ask
    calls = []

    def ask(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_ask(*args, **kwargs)

    monkeypatch.setattr(Prompt, "ask", ask)
    dest = tmp_path / "svc"
    result = cli("new", dest, "--interactive", input=_lines(*[""] * 30))
    assert result.exit_code == 130
    assert len(calls) == 3
    assert "Interrupted — nothing was written." in result.stderr
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_interactive_with_nothing_left_to_ask_just_renders(cli, tmp_path) -> None:
    result = cli(
        "new", tmp_path / "svc", "--interactive", "--no-git",
        "--preset", "django-platform",
        "--set", "modules=catalog", "--set", "owners=*:@a/b",
        "--set", "target_users=100", "--set", "peak_rps=0",
        input="",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Render the project into" not in result.stderr  # nothing asked, nothing to confirm
    assert (tmp_path / "svc" / "README.md").is_file()
