"""Inputs and environments an adversarial run found scalekit mishandling, one test each.

User mistakes exit 2 with a message that names the problem and the fix; output that cannot be
written exits 1 with a message; a reader that stops early exits 0 silently. Never a traceback.
"""

from __future__ import annotations

import errno
import os
import shlex
import subprocess
from pathlib import Path

import pytest

from scalekit_gen import render
from scalekit_gen.catalog.naming import MAX_MODULE_NAME_LENGTH, MAX_SLUG_LENGTH
from scalekit_gen.paths import NAME_MAX
from scalekit_gen.render import PROJECT_DEPTH

BILLION_LAUGHS = "\n".join(
    [
        'a: &a ["x","x","x","x","x","x","x","x","x"]',
        *(
            f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]"
            for prev, name in zip("abcdefg", "bcdefgh", strict=True)
        ),
        "project_name: [*h, *h, *h, *h, *h, *h, *h, *h, *h]",
    ]
)


def _no_traceback(result) -> None:
    assert "Traceback" not in result.output
    assert "hit a bug" not in result.output


# --------------------------------------------------------------------------- answers files


@pytest.mark.parametrize(
    ("data", "fragments"),
    [
        (
            "project_name: Café\n".encode("latin-1"),
            ["not UTF-8", "0xe9 on line 1", "iconv -f LATIN1"],
        ),
        ("project_name: shop\n".encode("utf-16"), ["not UTF-8", "UTF-16", "iconv -f UTF-16"]),
        ("project_name: shop\n".encode("utf-16-le"), ["NUL bytes", "iconv -f UTF-16"]),
    ],
    ids=["latin-1", "utf-16", "utf-16-without-bom"],
)
@pytest.mark.parametrize("option", ["--answers", "--preset"])
def test_a_file_that_is_not_utf8_is_refused_with_the_fix(cli, tmp_path, data, fragments, option):
    path = tmp_path / "answers.yml"
    path.write_bytes(data)
    result = cli("plan", option, path)
    assert result.exit_code == 2, result.output
    _no_traceback(result)
    for fragment in fragments:
        assert fragment in result.stderr


def test_a_utf8_file_with_a_byte_order_mark_is_read(cli, tmp_path):
    path = tmp_path / "answers.yml"
    path.write_bytes("project_name: Café\n".encode("utf-8-sig"))
    result = cli("plan", "--answers", path, "-f", "json")
    assert result.exit_code == 0, result.stderr
    assert '"project_name": "Café"' in result.stdout


@pytest.mark.parametrize("option", ["--answers", "--preset"])
def test_yaml_aliases_are_refused_before_they_expand(cli, tmp_path, option):
    path = tmp_path / "laughs.yml"
    path.write_text(BILLION_LAUGHS, encoding="utf-8")
    assert path.stat().st_size < 400
    result = cli("plan", option, path)
    assert result.exit_code == 2
    _no_traceback(result)
    assert "anchor or alias" in result.stderr
    assert "(line 1)" in result.stderr


def test_a_directory_given_as_preset_is_named_a_directory(cli, tmp_path):
    (tmp_path / "presets").mkdir()
    (tmp_path / "presets" / "acme.yml").write_text("queue: celery\n", encoding="utf-8")
    for reference in (f"{tmp_path}/presets", f"{tmp_path}/presets/"):
        result = cli("plan", "--preset", reference)
        assert result.exit_code == 2
        assert "is a directory, not a YAML file (it holds acme.yml)" in result.stderr
        assert "does not exist" not in result.stderr


def test_a_pipe_given_as_preset_is_read(cli, tmp_path):
    fifo = tmp_path / "preset.fifo"
    os.mkfifo(fifo)
    writer = subprocess.Popen(["sh", "-c", f"printf 'queue: celery\\n' > {shlex.quote(str(fifo))}"])
    try:
        result = cli("plan", "--preset", fifo, "-f", "json")
    finally:
        writer.wait(timeout=10)
    assert result.exit_code == 0, result.stderr
    assert '"queue": "celery"' in result.stdout


def test_a_device_given_as_preset_is_named_a_device(cli):
    result = cli("plan", "--preset", "/dev/zero")
    assert result.exit_code == 2
    assert "/dev/zero is a device, not a YAML file" in result.stderr


def test_presets_new_with_an_upper_case_suffix_prints_a_command_that_works(
    cli, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    made = cli("presets", "new", "Acme.YAML", "--set", "queue=celery")
    assert made.exit_code == 0, made.stderr
    command = made.stderr.split("Use it with: ", 1)[1].strip()
    assert command == "scalekit new --preset Acme.YAML"
    preset = shlex.split(command)[-1]
    used = cli("plan", "--preset", preset, "-f", "json")
    assert used.exit_code == 0, used.stderr
    assert '"queue": "celery"' in used.stdout


def test_presets_new_quotes_the_printed_path(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    made = cli("presets", "new", "my acme.yml")
    assert made.exit_code == 0, made.stderr
    assert "Use it with: scalekit new --preset 'my acme.yml'" in made.stderr


def test_presets_new_without_a_yaml_suffix_is_refused(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli("presets", "new", "acme")
    assert result.exit_code == 2
    assert "ends in .yml or .yaml" in result.stderr
    assert "acme.yml" in result.stderr
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("redis", "a library the generated project depends on"),
        ("celery", "a library the generated project depends on"),
        ("json", "a standard-library module"),
        ("typing", "a standard-library module"),
    ],
)
def test_a_name_that_shadows_an_import_is_refused(cli, tmp_path, name, fragment):
    result = cli("new", tmp_path / name, "--yes", "--no-git")
    assert result.exit_code == 2
    _no_traceback(result)
    assert fragment in result.stderr
    assert f"{name}-service" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("acme\nshop", "control character '\\n'"),
        ('acme"""shop', "docstrings"),
        ("acme\\shop", "docstrings"),
        ("a" * (MAX_SLUG_LENGTH + 1), f"at most {MAX_SLUG_LENGTH}"),
    ],
    ids=["newline", "triple-quote", "backslash", "too-long-for-kubernetes"],
)
def test_a_name_that_breaks_rendered_files_is_refused(cli, tmp_path, value, fragment):
    result = cli("new", tmp_path / "svc", "--yes", "--set", f"project_name={value}")
    assert result.exit_code == 2
    _no_traceback(result)
    assert fragment in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_directory_name_longer_than_the_file_system_allows(cli, tmp_path, monkeypatch):
    opened: list[str] = []
    monkeypatch.setattr(render.tempfile, "mkdtemp", lambda **kw: opened.append("x") or "")
    result = cli("new", tmp_path / ("a" * 300), "--yes", "--set", "project_name=shop")
    assert result.exit_code == 2
    _no_traceback(result)
    assert f"file systems allow {NAME_MAX} bytes per name" in result.stderr
    assert opened == []
    assert list(tmp_path.iterdir()) == []


def test_a_240_character_directory_renders(cli, tmp_path, leftovers):
    """The staging directory's name must not grow with the destination's (255 bytes)."""
    dest = tmp_path / ("a" * 240)
    result = cli("new", dest, "--yes", "--no-git", "--set", "project_name=shop")
    assert result.exit_code == 0, result.stderr
    assert (dest / "README.md").read_text("utf-8").startswith("# shop\n")
    assert leftovers(tmp_path) == []


def test_the_longest_names_fit_below_project_depth(cli, tmp_path):
    dest = tmp_path / "deep"
    result = cli(
        "new", dest, "--yes", "--no-git",
        "--set", f"project_name={'p' * MAX_SLUG_LENGTH}",
        "--set", f"modules={'m' * MAX_MODULE_NAME_LENGTH}",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    deepest = max(len(os.fsencode(p.relative_to(dest))) for p in dest.rglob("*"))
    assert deepest < PROJECT_DEPTH


# --------------------------------------------------------------------------- destinations


def test_an_empty_mount_point_renders(cli, tmp_path, monkeypatch, leftovers):
    """A mount point is its own device: a rename from anywhere outside it fails (EXDEV)."""
    dest = tmp_path / "mnt"
    dest.mkdir()
    real_rename = os.rename

    def rename_on_one_device(src, dst):
        if not (Path(src).is_relative_to(dest) and Path(dst).is_relative_to(dest)):
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))
        real_rename(src, dst)

    monkeypatch.setattr(render.os, "rename", rename_on_one_device)
    result = cli("new", dest, "--yes", "--no-git")
    assert result.exit_code == 0, result.stderr
    assert (dest / "README.md").is_file()
    assert leftovers(dest) == []
    assert list(tmp_path.iterdir()) == [dest]


def test_an_empty_directory_in_a_read_only_parent_renders(cli, tmp_path, monkeypatch):
    parent = tmp_path / "readonly"
    dest = parent / "svc"
    dest.mkdir(parents=True)
    real_mkdtemp = render.tempfile.mkdtemp

    def no_writes_in_parent(*args, **kwargs):
        if kwargs.get("dir") is not None and Path(kwargs["dir"]) == parent:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
        return real_mkdtemp(*args, **kwargs)

    monkeypatch.setattr(render.tempfile, "mkdtemp", no_writes_in_parent)
    result = cli("new", dest, "--yes", "--no-git")
    assert result.exit_code == 0, result.stderr
    assert (dest / "README.md").is_file()
    assert sorted(p.name for p in parent.iterdir()) == ["svc"]


def test_a_leftover_staging_directory_is_named(cli, tmp_path):
    dest = tmp_path / "svc"
    (dest / f".svc.abc{render.STAGING_SUFFIX}").mkdir(parents=True)
    result = cli("new", dest, "--yes")
    assert result.exit_code == 2
    assert "left by an interrupted scalekit run" in result.stderr


# --------------------------------------------------------------------------- defaults


def test_a_defaulted_owner_is_not_carried_to_a_project_seeded_from_the_answers(
    cli, tmp_path, read_answers
):
    first = tmp_path / "first-shop"
    assert cli("new", first, "--yes", "--no-git", "--set", "cache=memcached").exit_code == 0
    recorded = read_answers(first)
    assert recorded["owners"] == {"*": "@first-shop/backend"}
    assert "owners" in recorded["_scalekit_defaulted"]
    assert "cache" not in recorded["_scalekit_defaulted"]

    second = tmp_path / "second-shop"
    result = cli("new", second, "--yes", "--no-git", "--answers", first / ".copier-answers.yml")
    assert result.exit_code == 0, result.stderr
    seeded = read_answers(second)
    assert seeded["owners"] == {"*": "@second-shop/backend"}
    assert seeded["cache"] == "memcached"  # chosen in the first project: carried over
    assert "owners" in seeded["_scalekit_defaulted"]
    assert "cache" not in seeded["_scalekit_defaulted"]


# --------------------------------------------------------------------------- output


def _run(argv, env, cwd, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        env=env,
        cwd=cwd,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
        **kwargs,
    )


def test_a_full_stdout_is_reported(scalekit_argv, subprocess_env, tmp_path):
    with open("/dev/full", "w") as full:
        done = _run([*scalekit_argv, "plan", "-f", "json"], subprocess_env, tmp_path,
                    stdout=full, stderr=subprocess.PIPE)  # fmt: skip
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "Exception ignored" not in done.stderr
    assert "cannot write to standard output: No space left on device" in done.stderr


def test_a_closed_stdout_is_reported(scalekit_argv, subprocess_env, tmp_path):
    argv = ["sh", "-c", 'exec "$@" >&-', "sh", *scalekit_argv, "plan", "-f", "json"]
    done = _run(argv, subprocess_env, tmp_path, stderr=subprocess.PIPE)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "standard output is closed" in done.stderr


@pytest.mark.parametrize("args", [["plan", "-f", "yaml"], ["presets", "show", "fastapi-async"]])
def test_a_reader_that_stops_after_one_byte_is_not_an_error(
    scalekit_argv, subprocess_env, tmp_path, args
):
    command = " ".join(shlex.quote(a) for a in [*scalekit_argv, *args])
    done = _run(["bash", "-c", f"set -o pipefail; {command} | head -c1"], subprocess_env,
                tmp_path, capture_output=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert len(done.stdout) == 1


def test_an_ascii_locale_prints_the_plan(scalekit_argv, subprocess_env, tmp_path):
    env = {**subprocess_env, "LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0"}
    env.pop("PYTHONIOENCODING", None)
    table = _run([*scalekit_argv, "plan", "--set", "project_name=Café"], env, tmp_path,
                 capture_output=True)  # fmt: skip
    assert table.returncode == 0, table.stderr
    assert "Traceback" not in table.stderr
    assert "server connections <= " in table.stderr  # ≤ in ASCII
    as_json = _run([*scalekit_argv, "plan", "-f", "json", "--set", "project_name=Café"], env,
                   tmp_path, capture_output=True, encoding="utf-8")  # fmt: skip
    assert as_json.returncode == 0, as_json.stderr
    assert '"project_name": "Café"' in as_json.stdout  # UTF-8, as JSON is


@pytest.mark.parametrize("preset", ["fastapi-sync", "django-platform"])
def test_plan_as_yaml_from_a_preset_with_numbers(cli, preset):
    """Found by bench/fuzz_cli.py: ruamel's round-trip integers could not be dumped."""
    result = cli("plan", "--preset", preset, "-f", "yaml")
    assert result.exit_code == 0, result.output
    assert "read_replicas: " in result.stdout


def test_presets_show_a_name_too_long_for_the_file_system(cli):
    """Found by bench/fuzz_cli.py: the shipped-preset lookup raised ENAMETOOLONG."""
    result = cli("presets", "show", "b" * 300)
    assert result.exit_code == 2
    _no_traceback(result)
    assert "no preset named" in result.stderr


def test_presets_new_with_a_name_too_long_for_the_file_system(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli("presets", "new", "ä" * 200 + ".yaml")
    assert result.exit_code == 2
    _no_traceback(result)
    assert f"file systems allow {NAME_MAX} bytes per name" in result.stderr
