"""`scalekit update` on projects a team has edited: template version N -> N+1 (a test-made
change to a copy of the template), decision changes, and the refusals."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from scalekit_gen import __version__, catalog
from scalekit_gen.errors import BlueprintError, UpdateError
from scalekit_gen.render import PRISTINE_TRAILER
from scalekit_gen.update import update_project

from .conftest import PACKAGE, append, edit, git, team_commit

FASTAPI = "project/{{ fastapi_only }}"
MODULE = "{% yield module from modules %}{{ module }}{% endyield %}"
T_ROUTER = f"{FASTAPI}/src/{{{{ package }}}}/{MODULE}/router.py.jinja"
T_SETTINGS = f"{FASTAPI}/src/{{{{ package }}}}/core/settings.py.jinja"
T_PYPROJECT = f"{FASTAPI}/pyproject.toml.jinja"
T_MAKEFILE = "project/Makefile.jinja"

ROUTER = f"src/{PACKAGE}/catalog/router.py"
SETTINGS = f"src/{PACKAGE}/core/settings.py"
TIMEOUT_LINE = "    cache_timeout_s: float = Field(default={}, gt=0)"
OUR_ROUTE = (
    '\n\n@router.get("/export")\nasync def export_items() -> dict[str, str]:\n    return {}\n'
)
OUR_DEPENDENCY = '    "fastapi==0.165.0",\n    "httpx-retries==0.4.0",  # ours\n'
OUR_FILE = f"src/{PACKAGE}/catalog/export.py"
NEW_DOCSTRING = "HTTP interface (template N+1)"
MAKEFILE_LINE = "\n# Added in template N+1.\n"


def _team_edits(project: Path) -> None:
    """What a team does to a generated service: a route, a dependency, a setting the
    template also changes, a new file."""
    append(project / ROUTER, OUR_ROUTE)
    edit(project / "pyproject.toml", '    "fastapi==0.165.0",\n', OUR_DEPENDENCY)
    edit(project / SETTINGS, TIMEOUT_LINE.format("0.5"), TIMEOUT_LINE.format("1.5"))
    (project / OUR_FILE).write_text('"""Our own export."""\n', "utf-8")
    team_commit(project)


def _next_version(template: Path) -> None:
    """Template N+1: a new file, a changed Makefile, router, pyproject and the same setting."""
    append(template / T_MAKEFILE, MAKEFILE_LINE)
    (template / "project" / "CHANGELOG.md").write_text("# Changelog\n", "utf-8")
    edit(template / T_ROUTER, "HTTP interface,", f"{NEW_DOCSTRING},")
    edit(template / T_PYPROJECT, "# Pinned: versions", "# Pinned (N+1): versions")
    edit(template / T_SETTINGS, TIMEOUT_LINE.format("0.5"), TIMEOUT_LINE.format("0.25"))


def _read(project: Path, name: str) -> str:
    return (project / name).read_text("utf-8")


def _answers(project: Path) -> dict[str, Any]:
    document = yaml.safe_load(_read(project, ".copier-answers.yml"))
    assert isinstance(document, dict)
    return document


def _merging(project: Path) -> bool:
    return (project / ".git" / "MERGE_HEAD").is_file()


@pytest.mark.parametrize("installed", ["n-and-n+1", "only-n+1"], ids=lambda v: f"installed={v}")
def test_update_keeps_edits_applies_template_changes_and_reports_the_conflict(
    installed: str, template_copy: Callable[[str], Path], generate: Callable[..., Path]
) -> None:
    old, new = template_copy("template-n"), template_copy("template-n+1")
    project = generate(old)
    _team_edits(project)
    _next_version(new)
    if installed == "only-n+1":  # scalekit was upgraded: template N is gone
        shutil.rmtree(old)

    result = update_project(project, sets=[], template=new)

    assert result.conflicts == (SETTINGS,)
    settings = _read(project, SETTINGS)
    assert "<<<<<<< HEAD" in settings and f">>>>>>> scalekit/template-{__version__}" in settings
    assert TIMEOUT_LINE.format("1.5") in settings and TIMEOUT_LINE.format("0.25") in settings
    # Every other edit of the team is there, next to the template's changes in the same files.
    router = _read(project, ROUTER)
    assert router.endswith(OUR_ROUTE) and NEW_DOCSTRING in router
    pyproject = _read(project, "pyproject.toml")
    assert OUR_DEPENDENCY in pyproject and "# Pinned (N+1): versions" in pyproject
    assert _read(project, OUR_FILE) == '"""Our own export."""\n'
    assert _read(project, "Makefile").endswith(MAKEFILE_LINE)
    assert _read(project, "CHANGELOG.md") == "# Changelog\n"
    assert _merging(project), "the update is left as a merge to review and commit"
    assert "A CHANGELOG.md" in result.changed_files and f"M {ROUTER}" in result.changed_files

    # The team resolves the conflict (keeps its value) and commits the merge: the next update
    # starts from N+1's render, so there is nothing left to merge.
    git(project, "checkout", "--ours", SETTINGS)
    team_commit(project, "template N+1")
    again = update_project(project, sets=[], template=new)
    assert again.up_to_date and not _merging(project)
    assert git(project, "status", "--porcelain") == ""


def test_dirty_tree_is_refused(
    template_copy: Callable[[str], Path], generate: Callable[..., Path]
) -> None:
    template = template_copy("template")
    project = generate(template)
    append(project / "Makefile", "# not committed\n")
    with pytest.raises(UpdateError, match=r"(?s)uncommitted changes.*git stash -u.*Makefile"):
        update_project(project, sets=["cache=memcached"], template=template)
    git(project, "checkout", "Makefile")
    (project / "notes.txt").write_text("untracked\n", "utf-8")
    with pytest.raises(UpdateError, match=r"notes\.txt"):
        update_project(project, sets=["cache=memcached"], template=template)
    assert _answers(project)["cache"] == "redis" and not _merging(project)


def _snapshot(root: Path) -> dict[str, tuple[int, bytes | None, int]]:
    """Every file and directory: mode, content, mtime. Git refreshes the mtime of an object
    it finds it already has (to keep it from gc), so object files are compared without it."""
    found: dict[str, tuple[int, bytes | None, int]] = {}
    for directory, _, files in os.walk(root):
        for name in [".", *files]:
            path = Path(directory, name)
            info = path.lstat()
            content = path.read_bytes() if path.is_file() else None
            relative = path.relative_to(root).as_posix()
            mtime = 0 if relative.startswith(".git/objects/") else info.st_mtime_ns
            found[relative] = (info.st_mode, content, mtime)
    return found


def test_dry_run_prints_the_diff_and_writes_nothing(
    template_copy: Callable[[str], Path], generate: Callable[..., Path]
) -> None:
    old, new = template_copy("template-n"), template_copy("template-n+1")
    project = generate(old)
    _team_edits(project)
    _next_version(new)
    before = _snapshot(project)  # the repository included: no object, ref or index written

    result = update_project(project, sets=["cache=memcached"], dry_run=True, template=new)

    assert _snapshot(project) == before
    assert result.conflicts == (SETTINGS,)
    assert "+# Added in template N+1." in result.diff
    assert "+cache: memcached" in result.diff
    assert "+# Changelog" in result.diff
    assert "<<<<<<<" in result.diff  # the conflict as the merge would leave it
    assert OUR_ROUTE.strip() not in result.diff  # the team's edits are not the template's


def test_changing_decisions_adds_and_removes_files_and_keeps_edited_ones(
    template_copy: Callable[[str], Path], generate: Callable[..., Path]
) -> None:
    template = template_copy("template")
    project = generate(template)
    tasks, worker = f"src/{PACKAGE}/catalog/tasks.py", f"src/{PACKAGE}/worker.py"
    append(project / tasks, "\n# our job tweak\n")
    team_commit(project)

    changes = ["queue=none", "cache=memcached", "modules=catalog,billing"]
    result = update_project(project, sets=changes, template=template)

    assert not (project / worker).exists(), "an unedited file the old answers made is removed"
    assert f"D {worker}" in result.changed_files
    assert _read(project, tasks).endswith("\n# our job tweak\n"), "an edited one is kept"
    assert result.conflicts == (tasks,), "… and reported as a conflict"
    assert (project / f"src/{PACKAGE}/billing/router.py").is_file()  # the new module
    assert "memcache" in _read(project, "pyproject.toml").lower()
    answers = _answers(project)
    assert (answers["queue"], answers["cache"], answers["modules"]) == (
        "none",
        "memcached",
        ["catalog", "billing"],
    )
    changed = {change.key: (change.old, change.new) for change in result.answer_changes}
    assert changed["queue"] == ("taskiq", "none") and changed["cache"] == ("redis", "memcached")
    # Answers given now are answers; the rest stay defaults (see the next test).
    defaulted = answers["_scalekit_defaulted"]
    assert "framework" in defaulted and not {"queue", "cache", "modules"} & set(defaulted)


def test_defaulted_answers_follow_the_new_default_and_chosen_ones_stay(
    template_copy: Callable[[str], Path],
    generate: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    template = template_copy("template")
    project = generate(template, "deploy=compose")  # chosen; ci is taken by default
    assert "ci" in _answers(project)["_scalekit_defaulted"]
    assert (project / ".github" / "workflows" / "ci.yml").is_file()
    fitting_default = catalog.fitting_default

    def next_defaults(key: str, answers: Any) -> Any:  # scalekit N+1 changed two defaults
        changed = {"ci": "gitlab", "deploy": "compose+kubernetes"}
        return changed.get(key) or fitting_default(key, answers)

    monkeypatch.setattr(catalog, "fitting_default", next_defaults)
    result = update_project(project, sets=[], template=template)

    answers = _answers(project)
    assert (answers["ci"], answers["deploy"]) == ("gitlab", "compose")
    assert "ci" in answers["_scalekit_defaulted"] and "deploy" not in answers["_scalekit_defaulted"]
    assert (project / ".gitlab-ci.yml").is_file() and not (project / "deploy/kubernetes").exists()
    assert not (project / ".github" / "workflows" / "ci.yml").exists()
    assert result.conflicts == ()


def test_answers_file_names_the_package_version_and_the_command(
    template_copy: Callable[[str], Path], generate: Callable[..., Path]
) -> None:
    project = generate(template_copy("template"))
    answers = _answers(project)
    assert (answers["_src_path"], answers["_commit"]) == ("scalekit-gen", __version__)
    header = _read(project, ".copier-answers.yml").split("\n_", 1)[0]
    assert "scalekit update" in header and "copier update" not in header
    message = git(project, "log", "-1", "--format=%B")
    assert f"{PRISTINE_TRAILER}: {__version__}" in message


def test_without_a_baseline_it_says_how_to_name_one(
    template_copy: Callable[[str], Path], generate: Callable[..., Path]
) -> None:
    old, new = template_copy("template-n"), template_copy("template-n+1")
    project = generate(old, git=False)  # scalekit new --no-git; the team made the repository
    git(project, "init", "-q", "-b", "main")
    team_commit(project, "generated")
    append(project / ROUTER, OUR_ROUTE)
    team_commit(project)
    _next_version(new)
    with pytest.raises(UpdateError, match="--baseline COMMIT"):
        update_project(project, sets=[], template=new)

    result = update_project(project, sets=[], template=new, baseline="HEAD~1")
    assert result.conflicts == () and _read(project, ROUTER).endswith(OUR_ROUTE)
    team_commit(project, "template N+1")
    assert update_project(project, sets=[], template=new).up_to_date  # found in history now


def test_bad_answers_are_refused_as_new_refuses_them(
    template_copy: Callable[[str], Path], generate: Callable[..., Path]
) -> None:
    template = template_copy("template")
    project = generate(template)
    with pytest.raises(BlueprintError, match="rq needs concurrency: sync"):
        update_project(project, sets=["queue=rq", "concurrency=async"], template=template)
    assert git(project, "status", "--porcelain") == "" and not _merging(project)


@pytest.mark.parametrize("where", ["no-git", "subdirectory"], ids=lambda v: f"project={v}")
def test_a_project_git_cannot_merge_into_is_refused(
    where: str, template_copy: Callable[[str], Path], generate: Callable[..., Path]
) -> None:
    template = template_copy("template")
    project = generate(template, git=where == "subdirectory")
    target = project / "src" if where == "subdirectory" else project
    with pytest.raises(UpdateError, match=r"not a git repository|not at its top"):
        update_project(target, sets=[], template=template)


def test_a_change_the_project_already_made_still_moves_the_baseline(
    template_copy: Callable[[str], Path], generate: Callable[..., Path]
) -> None:
    old, new = template_copy("template-n"), template_copy("template-n+1")
    project = generate(old)
    append(project / "Makefile", MAKEFILE_LINE)  # the team did what N+1 does, by hand
    team_commit(project)
    append(new / T_MAKEFILE, MAKEFILE_LINE)

    result = update_project(project, sets=[], template=new)

    assert not result.up_to_date and result.changed_files == () and result.conflicts == ()
    assert _merging(project), "the merge records N+1's render as the next baseline"
    team_commit(project, "template N+1")
    assert update_project(project, sets=[], template=new).up_to_date


def test_a_rebased_or_cherry_picked_render_is_not_taken_for_the_base(
    template_copy: Callable[[str], Path], generate: Callable[..., Path]
) -> None:
    """Rebase-and-merge copies the render commit, marker and all, onto the team's code; the
    copy must not become the base, or the next update would undo the team's edits."""
    template = template_copy("template")
    project = generate(template)
    readme = project / "README.md"
    title = readme.read_text("utf-8").splitlines()[0]
    edit(readme, title + "\n", "# Acme's shop, as the team calls it\n")
    team_commit(project)

    update_project(project, sets=["load_tests=locust+k6"], template=template)
    render = git(project, "rev-parse", "MERGE_HEAD").strip()
    git(project, "merge", "--abort")
    git(project, "cherry-pick", render)  # what a rebase-and-merge of the update leaves
    assert PRISTINE_TRAILER in git(project, "log", "-1", "--format=%B")

    update_project(project, sets=["load_tests=locust"], template=template)

    assert _read(project, "README.md").startswith("# Acme's shop, as the team calls it\n")


def test_an_unfinished_cherry_pick_is_refused(
    template_copy: Callable[[str], Path], generate: Callable[..., Path]
) -> None:
    template = template_copy("template")
    project = generate(template)
    append(project / "README.md", "\nours\n")
    team_commit(project)
    git(project, "checkout", "-q", "-b", "other", "HEAD~1")
    append(project / "README.md", "\ntheirs\n")
    team_commit(project, "their edits")
    theirs = git(project, "rev-parse", "HEAD").strip()
    git(project, "checkout", "-q", "-")
    subprocess.run(["git", "-C", str(project), "cherry-pick", theirs], capture_output=True)
    git(project, "add", "-A")  # the conflict marked resolved, the cherry-pick not finished

    with pytest.raises(UpdateError, match="a cherry-pick is in progress"):
        update_project(project, sets=[], template=template)


T_ENV = "includes/env.jinja"
NEW_SETTINGS = "# Added in template N+1.\nPAYMENTS_API_KEY=change-me\nEXPORT_BATCH_SIZE=100\n"


@pytest.mark.parametrize("dry_run", [False, True], ids=lambda v: f"dry_run={v}")
def test_settings_new_in_env_example_are_listed_and_env_is_left_alone(
    dry_run: bool, template_copy: Callable[[str], Path], generate: Callable[..., Path]
) -> None:
    """A setting the template now needs would leave the project failing at start: the update
    names every new one, and those the team's .env lacks, and never writes .env."""
    old, new = template_copy("template-n"), template_copy("template-n+1")
    project = generate(old)
    env = project / ".env"
    assert env.is_file() and git(project, "status", "--porcelain") == ""  # .env is ignored
    append(env, "EXPORT_BATCH_SIZE=500  # ours already\n")
    ours = env.read_bytes()
    edit(new / T_ENV, "LOG_LEVEL=INFO\n", f"LOG_LEVEL=INFO\n{NEW_SETTINGS}")

    result = update_project(project, sets=["cache=memcached"], dry_run=dry_run, template=new)

    # memcached's CACHE_URL is new too; REDIS_CACHE_URL, dropped, and the old ones are not.
    assert set(result.new_settings) == {"PAYMENTS_API_KEY", "EXPORT_BATCH_SIZE", "CACHE_URL"}
    assert result.new_settings.index("PAYMENTS_API_KEY") < result.new_settings.index(
        "EXPORT_BATCH_SIZE"
    ), "in .env.example's order"
    assert set(result.unset_settings) == {"PAYMENTS_API_KEY", "CACHE_URL"}
    assert env.read_bytes() == ours
    if not dry_run:
        assert "PAYMENTS_API_KEY=change-me" in _read(project, ".env.example")


def test_without_a_env_every_new_setting_is_unset(
    template_copy: Callable[[str], Path], generate: Callable[..., Path]
) -> None:
    old, new = template_copy("template-n"), template_copy("template-n+1")
    project = generate(old)
    (project / ".env").unlink()
    edit(new / T_ENV, "LOG_LEVEL=INFO\n", f"LOG_LEVEL=INFO\n{NEW_SETTINGS}")

    result = update_project(project, sets=[], template=new)

    assert result.new_settings == result.unset_settings == ("PAYMENTS_API_KEY", "EXPORT_BATCH_SIZE")
    assert not (project / ".env").exists()


def test_an_update_without_new_settings_lists_none(
    template_copy: Callable[[str], Path], generate: Callable[..., Path]
) -> None:
    old, new = template_copy("template-n"), template_copy("template-n+1")
    project = generate(old)
    _next_version(new)

    result = update_project(project, sets=[], template=new)

    assert (result.new_settings, result.unset_settings) == ((), ())
