"""`scalekit new` without prompts: --yes, --no-git, --dry-run, presets, answers, --set."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from scalekit_gen.paths import presets_dir

SOME_FILES = (
    "README.md",
    ".copier-answers.yml",
    ".gitignore",
    ".env.example",
    "docs/capacity.md",
    "docs/decisions/0001-framework.md",
)


def _files(root: Path) -> set[str]:
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def _dry_run_listing(stderr: str) -> set[str]:
    """The file names `new --dry-run` lists after its "would write" line."""
    assert "Dry run: would write" in stderr
    tail = stderr.split("Dry run: would write", 1)[1].splitlines()[1:]
    return {line.strip() for line in tail if line.startswith("  ") and line.strip()}


# --------------------------------------------------------------------------- --yes


def test_new_yes_renders_a_project_with_a_first_commit(cli, tmp_path, git, read_answers) -> None:
    dest = tmp_path / "acme-shop"
    result = cli("new", dest, "--yes")
    assert result.exit_code == 0, result.output
    for name in SOME_FILES:
        assert (dest / name).is_file(), name
    readme = (dest / "README.md").read_text(encoding="utf-8")
    assert readme.startswith("# acme-shop")
    answers = read_answers(dest)
    assert answers["project_name"] == "acme-shop"
    assert answers["framework"] == "fastapi"  # a catalog default
    assert (dest / ".git").is_dir()
    assert git(dest, "rev-list", "--count", "HEAD").strip() == "1"
    assert "Initial commit from scalekit" in git(dest, "log", "-1", "--format=%s")
    assert git(dest, "status", "--porcelain") == ""  # everything rendered is committed
    assert "first commit made" in result.stderr
    assert result.stdout == ""  # human output goes to stderr


def test_new_yes_prints_the_next_steps(cli, tmp_path) -> None:
    dest = tmp_path / "nested" / "billing"
    result = cli("new", dest, "--yes", "--no-git")
    assert result.exit_code == 0, result.output
    lines = [line.strip() for line in result.stderr.splitlines()]
    assert f"Created {dest}" in result.stderr
    assert f"cd {dest}" in lines  # not in the current directory: the full path
    assert any("docs/decisions" in line for line in lines)


def test_next_steps_use_the_short_name_in_the_current_directory(cli, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("new", "shop", "--yes", "--no-git")
    assert result.exit_code == 0, result.output
    lines = [line.strip() for line in result.stderr.splitlines()]
    assert "cd shop" in lines
    assert any(line.startswith("read docs/decisions/") for line in lines)


def test_new_without_dest_uses_the_project_slug(cli, tmp_path, monkeypatch, read_answers) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("new", "--yes", "--no-git", "--set", "project_name=Acme Shop!")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["acme-shop"]
    assert read_answers(tmp_path / "acme-shop")["project_name"] == "Acme Shop!"


def test_no_git_gives_no_repository(cli, tmp_path) -> None:
    dest = tmp_path / "svc"
    result = cli("new", dest, "--yes", "--no-git")
    assert result.exit_code == 0, result.output
    assert (dest / "README.md").is_file()
    assert not (dest / ".git").exists()
    assert "first commit" not in result.stderr


def test_new_into_an_existing_empty_directory(cli, tmp_path, git) -> None:
    dest = tmp_path / "empty"
    dest.mkdir()
    result = cli("new", dest, "--yes")
    assert result.exit_code == 0, result.output
    assert (dest / "README.md").is_file()
    assert git(dest, "rev-list", "--count", "HEAD").strip() == "1"


def test_new_creates_missing_parent_directories(cli, tmp_path) -> None:
    dest = tmp_path / "a" / "b" / "svc"
    result = cli("new", dest, "--yes", "--no-git")
    assert result.exit_code == 0, result.output
    assert (dest / "README.md").is_file()
    assert sorted(p.name for p in (tmp_path / "a" / "b").iterdir()) == ["svc"]  # no staging left


# --------------------------------------------------------------------------- --dry-run


def test_dry_run_writes_nothing_and_lists_the_files(cli, tmp_path, monkeypatch, leftovers) -> None:
    system_tmp = tmp_path / "system-tmp"
    system_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_tmp))
    dest = tmp_path / "not" / "yet" / "svc"
    result = cli("new", dest, "--yes", "--dry-run")
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "not").exists()  # not even the parents
    assert leftovers(system_tmp) == []
    assert result.stdout == ""
    assert f"would write {len(_dry_run_listing(result.stderr))} files into {dest}" in result.stderr
    listed = _dry_run_listing(result.stderr)
    for name in SOME_FILES:
        assert name in listed, name
    assert "Plan for" in result.stderr  # the plan is shown too


def test_dry_run_lists_exactly_what_new_writes(cli, tmp_path) -> None:
    dry = cli("new", tmp_path / "svc", "--yes", "--dry-run", "--set", "queue=none")
    assert dry.exit_code == 0, dry.output
    real = cli("new", tmp_path / "svc", "--yes", "--no-git", "--set", "queue=none")
    assert real.exit_code == 0, real.output
    written = _files(tmp_path / "svc")
    assert _dry_run_listing(dry.stderr) == written
    assert f"would write {len(written)} files" in dry.stderr


# --------------------------------------------------------------------------- presets


def test_preset_by_name(cli, tmp_path, read_answers) -> None:
    dest = tmp_path / "acme-platform"
    result = cli("new", dest, "--yes", "--no-git", "--preset", "django-platform")
    assert result.exit_code == 0, result.output
    answers = read_answers(dest)
    assert answers["framework"] == "django"
    assert answers["concurrency"] == "sync"
    assert answers["queue"] == "celery"
    assert answers["project_name"] == "acme-platform"


def test_preset_file_without_extends(cli, tmp_path, monkeypatch, read_answers) -> None:
    monkeypatch.chdir(tmp_path)
    Path("mine.yml").write_text(
        "# our standard\nframework: django\nqueue: dramatiq\ncache: memcached\n", encoding="utf-8"
    )
    result = cli("new", "svc", "--yes", "--no-git", "--preset", "./mine.yml")
    assert result.exit_code == 0, result.output
    answers = read_answers(tmp_path / "svc")
    assert (answers["framework"], answers["queue"], answers["cache"]) == (
        "django",
        "dramatiq",
        "memcached",
    )
    assert answers["concurrency"] == "sync"  # the default that fits django


def test_preset_file_with_extends(cli, tmp_path, read_answers) -> None:
    base = tmp_path / "org" / "base.yml"
    base.parent.mkdir()
    base.write_text("extends: lean-api\nci: gitlab\n", encoding="utf-8")
    team = tmp_path / "team" / "payments.yml"
    team.parent.mkdir()
    # a relative `extends` is relative to the file that says it
    team.write_text("extends: ../org/base.yml\ncache: none\n", encoding="utf-8")
    dest = tmp_path / "payments"
    result = cli("new", dest, "--yes", "--no-git", "--preset", team)
    assert result.exit_code == 0, result.output
    answers = read_answers(dest)
    assert answers["queue"] == "none"  # from lean-api, two levels up
    assert answers["deploy"] == "compose"  # lean-api
    assert answers["ci"] == "gitlab"  # org/base.yml
    assert answers["cache"] == "none"  # the team file
    assert "broker" not in answers  # does not apply without a queue
    assert not (dest / "docs/decisions/0007-broker.md").exists()


def test_a_preset_file_that_does_not_exist(cli, tmp_path) -> None:
    dest = tmp_path / "svc"
    result = cli("new", dest, "--yes", "--preset", tmp_path / "missing.yml")
    assert result.exit_code == 2
    assert "missing.yml does not exist" in result.stderr
    assert not dest.exists()


def test_presets_extending_each_other_in_a_circle(cli, tmp_path) -> None:
    (tmp_path / "a.yml").write_text("extends: ./b.yml\n", encoding="utf-8")
    (tmp_path / "b.yml").write_text("extends: ./a.yml\n", encoding="utf-8")
    result = cli("new", tmp_path / "svc", "--yes", "--preset", tmp_path / "a.yml")
    assert result.exit_code == 2
    assert "circle" in result.stderr
    assert "Traceback" not in result.output


# --------------------------------------------------------------------------- answers files


def test_answers_file(cli, tmp_path, read_answers) -> None:
    answers_file = tmp_path / "answers.yml"
    answers_file.write_text(
        "framework: fastapi\nconcurrency: sync\nqueue: rq\nmodules: [accounts, billing]\n",
        encoding="utf-8",
    )
    dest = tmp_path / "svc"
    result = cli("new", dest, "--yes", "--no-git", "--answers", answers_file)
    assert result.exit_code == 0, result.output
    answers = read_answers(dest)
    assert (answers["concurrency"], answers["queue"]) == ("sync", "rq")
    assert answers["modules"] == ["accounts", "billing"]


def test_a_rendered_projects_answers_seed_another(cli, tmp_path, read_answers) -> None:
    first = tmp_path / "billing"
    made = cli(
        "new", first, "--yes", "--no-git",
        "--set", "framework=django", "--set", "ci=gitlab", "--set", "modules=invoices,ledger",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    second = tmp_path / "shipping"
    result = cli("new", second, "--yes", "--no-git", "--answers", first / ".copier-answers.yml")
    assert result.exit_code == 0, result.output
    one, two = read_answers(first), read_answers(second)
    assert two["project_name"] == "shipping"  # the destination names the new project
    assert (second / "README.md").read_text(encoding="utf-8").startswith("# shipping")
    for key in ("framework", "concurrency", "queue", "ci", "modules", "target_users"):
        assert two[key] == one[key], key
    assert two["ci"] == "gitlab"
    assert (second / ".gitlab" / "CODEOWNERS").is_file()


def test_answers_file_that_does_not_exist(cli, tmp_path) -> None:
    result = cli("new", tmp_path / "svc", "--yes", "--answers", tmp_path / "nope.yml")
    assert result.exit_code == 2
    assert "cannot read" in result.stderr
    assert "nope.yml" in result.stderr
    assert not (tmp_path / "svc").exists()


def test_answers_file_with_invalid_yaml_names_the_line(cli, tmp_path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("framework: django\nqueue: [celery\n", encoding="utf-8")
    result = cli("new", tmp_path / "svc", "--yes", "--answers", bad)
    assert result.exit_code == 2
    assert "is not valid YAML" in result.stderr
    assert "line" in result.stderr
    assert "Traceback" not in result.output


def test_answers_file_may_not_extend(cli, tmp_path) -> None:
    answers_file = tmp_path / "answers.yml"
    answers_file.write_text("extends: django-platform\n", encoding="utf-8")
    result = cli("new", tmp_path / "svc", "--yes", "--answers", answers_file)
    assert result.exit_code == 2
    assert "'extends' only works in presets" in result.stderr


# --------------------------------------------------------------------------- --set


def test_set_repeated(cli, tmp_path, read_answers) -> None:
    dest = tmp_path / "svc"
    result = cli(
        "new", dest, "--yes", "--no-git",
        "--set", "queue=celery",
        "-s", "modules=accounts,billing",
        "--set", "target_users=50k",
        "--set", "observability=prometheus,opentelemetry",
        "--set", "owners=*:@acme/backend,billing:@acme/payments",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    answers = read_answers(dest)
    assert answers["queue"] == "celery"
    assert answers["modules"] == ["accounts", "billing"]
    assert answers["target_users"] == 50_000
    assert answers["observability"] == ["prometheus", "opentelemetry"]
    codeowners = (dest / ".github" / "CODEOWNERS").read_text(encoding="utf-8")
    assert "@acme/payments" in codeowners
    assert "@acme/backend" in codeowners


def test_the_last_set_of_a_key_wins(cli, tmp_path, read_answers) -> None:
    dest = tmp_path / "svc"
    result = cli("new", dest, "--yes", "--no-git", "--set", "ci=gitlab", "--set", "ci=none")
    assert result.exit_code == 0, result.output
    assert read_answers(dest)["ci"] == "none"


def test_set_alone_picks_defaults_that_fit(cli, tmp_path, read_answers) -> None:
    """`--set queue=rq --yes` gets concurrency: sync, the only fit, not a refusal."""
    dest = tmp_path / "svc"
    result = cli("new", dest, "--yes", "--no-git", "--set", "queue=rq")
    assert result.exit_code == 0, result.output
    answers = read_answers(dest)
    assert (answers["queue"], answers["concurrency"]) == ("rq", "sync")


def test_set_beats_answers_beats_preset(cli, tmp_path, read_answers) -> None:
    answers_file = tmp_path / "answers.yml"
    answers_file.write_text(
        "project_name: from-answers\ncache: memcached\nqueue: dramatiq\nci: gitlab\n",
        encoding="utf-8",
    )
    dest = tmp_path / "svc"
    result = cli(
        "new", dest, "--yes", "--no-git",
        "--preset", "django-platform",  # cache redis, queue celery, ci github
        "--answers", answers_file,
        "--set", "ci=none",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    answers = read_answers(dest)
    assert answers["framework"] == "django"  # only the preset says
    assert answers["cache"] == "memcached"  # answers beat preset
    assert answers["queue"] == "dramatiq"  # answers beat preset
    assert answers["ci"] == "none"  # --set beats both
    assert answers["project_name"] == "svc"  # the destination name beats the answers file


def test_set_beats_the_destination_name(cli, tmp_path, read_answers) -> None:
    dest = tmp_path / "svc"
    result = cli("new", dest, "--yes", "--no-git", "--set", "project_name=Payments API")
    assert result.exit_code == 0, result.output
    assert read_answers(dest)["project_name"] == "Payments API"


@pytest.mark.parametrize("name", sorted(p.stem for p in presets_dir().glob("*.yml")))
def test_every_shipped_preset_dry_runs(cli, tmp_path, name) -> None:
    result = cli("new", tmp_path / "svc", "--yes", "--dry-run", "--preset", name)
    assert result.exit_code == 0, result.output
    assert f"preset {name}" in result.stderr  # the plan names the preset as the source
    assert not (tmp_path / "svc").exists()


def test_a_destination_name_without_letters_is_refused(cli, tmp_path) -> None:
    result = cli("new", tmp_path / "___", "--yes")
    assert result.exit_code == 2
    assert "destination name: project_name: '___' has no letters or digits" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_new_dot_renders_into_the_current_empty_directory(sk, tmp_path, read_answers) -> None:
    """`mkdir shop && cd shop && scalekit new . --yes`: the README's "empty DEST" case.

    The directory the user's shell sits in must stay the one holding the project (same
    inode, so the shell's working directory is not left pointing at a deleted directory),
    the project is named after it, and the run ends cleanly.
    """
    dest = tmp_path / "shop"
    dest.mkdir()
    inode = dest.stat().st_ino
    done = sk("new", ".", "--yes", "--no-git", cwd=dest)
    assert "Traceback" not in done.stderr
    assert done.returncode == 0, done.stderr
    assert (dest / "README.md").is_file()
    assert dest.stat().st_ino == inode, "the current directory was replaced, not filled"
    assert read_answers(dest)["project_name"] == "shop"
