"""Blueprint -> project on disk, all or nothing.

Copier renders into a staging directory on the destination's own file system; the finished
tree is moved into place with renames, which never cross devices. A new destination is staged
next to it and renamed in one step. An existing empty destination (the directory the user
stands in, a mount point, a writable directory in a read-only parent) is staged inside itself
and filled entry by entry. A failure or Ctrl-C at any point removes the staging directory and
any parent directories this run created, and an existing non-empty destination is refused
before anything is written. Nothing the user already had is ever touched.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from scalekit_gen import __version__
from scalekit_gen.blueprint import Blueprint
from scalekit_gen.errors import DestinationError, RenderError
from scalekit_gen.paths import path_length_problem, template_dir

STAGING_SUFFIX = ".scalekit-partial"
STAGING_LABEL_BYTES = 64
# Render data beside the answers (not a question, so Copier does not record it itself): the
# decisions taken by default, which the answers file lists as _scalekit_defaulted.
DEFAULTED_DATA = "scalekit_defaulted"
# Render data for the answers file: where the template came from and its version. Copier
# would record the directory it rendered from (a site-packages path that is gone after an
# upgrade); what `scalekit update` needs is the package and version (see update.py).
SOURCE_DATA = "scalekit_source"
TEMPLATE_SOURCE = "scalekit-gen"
# The trailer that marks a commit holding exactly what the template rendered, before any
# edit: `scalekit new`'s first commit and each `scalekit update`'s render (see update.py).
PRISTINE_TRAILER = "Scalekit-Pristine"
# Room for the deepest file of a project below its directory (the longest is about 120
# bytes, with a package of MAX_SLUG_LENGTH characters; tests/cli/test_hardening.py checks it).
PROJECT_DEPTH = 256


@dataclass(frozen=True)
class RenderResult:
    destination: Path
    files: tuple[str, ...]  # relative paths, sorted
    git_commit: bool


def check_destination(dest: Path) -> None:
    """Refuse a destination we could only render into by touching the user's files."""
    problem = path_length_problem(dest, room=PROJECT_DEPTH)
    if problem is not None:
        raise DestinationError(problem)
    try:
        is_file = dest.is_symlink() or (dest.exists() and not dest.is_dir())
        entries = sorted(p.name for p in dest.iterdir()) if dest.is_dir() else []
    except OSError as error:
        raise DestinationError(f"cannot look at {dest}: {error.strerror}") from None
    if is_file:
        raise DestinationError(f"{dest} exists and is not a directory — choose another path")
    if entries and all(name.endswith(STAGING_SUFFIX) for name in entries):
        raise DestinationError(
            f"{dest} holds only {', '.join(entries)}, left by an interrupted scalekit run — "
            "delete it and run again"
        )
    if entries:
        raise DestinationError(
            f"{dest} already exists and is not empty — scalekit never writes into existing "
            "files; choose a new directory (to move a generated project to a newer template, "
            "run `scalekit update` inside it)"
        )


def render_project(
    blueprint: Blueprint,
    dest: Path,
    *,
    git: bool = True,
    dry_run: bool = False,
    template: Path | None = None,
) -> RenderResult:
    dest = Path(os.path.abspath(dest))
    check_destination(dest)
    template = template or template_dir()
    if dry_run:  # render where nothing of the user's can be touched, then throw it away
        with _staging(Path(tempfile.gettempdir()), dest.name) as staging:
            _copier_render(blueprint, template, staging / dest.name)
            return RenderResult(dest, _files(staging / dest.name), git_commit=False)
    # An existing (empty) destination holds its own staging directory: renaming from there
    # cannot cross a device (a mount point) and needs no write access to the parent.
    stage_in = dest if dest.is_dir() else dest.parent
    with (
        _created_parents(dest.parent),
        _times_kept_on_failure(stage_in),
        _staging(stage_in, dest.name) as staging,
    ):
        out = staging / dest.name
        _copier_render(blueprint, template, out)
        files = _files(out)
        committed = git and _git_init(out)
        _move_into_place(out, dest)
    return RenderResult(dest, files, committed)


@contextmanager
def _created_parents(parent: Path) -> Iterator[Path]:
    """Create missing parent directories; remove exactly those again if rendering fails."""
    try:
        missing = [p for p in (parent, *parent.parents) if not p.exists()]
        blocking = next(
            (p for p in (parent, *parent.parents) if p.exists() and not p.is_dir()), None
        )
    except OSError as error:
        raise DestinationError(f"cannot look at {parent}: {error.strerror}") from None
    if blocking is not None:
        raise DestinationError(f"{blocking} is a file, so no directory can be created under it")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DestinationError(f"cannot create {parent}: {error.strerror}") from None
    try:
        yield parent
    except BaseException:
        for path in missing:  # deepest first
            with suppress(OSError):
                path.rmdir()
        raise


@contextmanager
def _times_kept_on_failure(directory: Path) -> Iterator[None]:
    """Give `directory` its timestamps back if rendering fails: the staging directory made
    and removed in it changed its mtime, and a failed run leaves nothing changed."""
    try:
        before = directory.stat()
    except OSError:  # not there yet: _created_parents removes it again
        yield
        return
    try:
        yield
    except BaseException:
        with suppress(OSError):
            os.utime(directory, ns=(before.st_atime_ns, before.st_mtime_ns))
        raise


@contextmanager
def _staging(parent: Path, name: str) -> Iterator[Path]:
    # The name only tells a person whose leftover this is; cut so the whole stays < NAME_MAX.
    label = os.fsdecode(os.fsencode(name)[:STAGING_LABEL_BYTES])
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{label}.", suffix=STAGING_SUFFIX, dir=parent))
    except OSError as error:
        raise DestinationError(f"cannot write in {parent}: {error.strerror}") from None
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _copier_render(blueprint: Blueprint, template: Path, out: Path) -> None:
    import copier  # imported on use: the heaviest import of the CLI

    try:
        with _no_git_index_probe():
            copier.run_copy(
                str(template),
                out,
                # Which answers were defaults: the answers file lists them as
                # _scalekit_defaulted, so a project seeded from it (`--answers`) takes its own
                # defaults, not these. (Not a question: Copier does not record it itself.)
                data={
                    **blueprint.copier_data,
                    DEFAULTED_DATA: list(blueprint.defaulted),
                    SOURCE_DATA: {"_src_path": TEMPLATE_SOURCE, "_commit": __version__},
                },
                defaults=True,  # never prompt: the blueprint already holds every answer
                quiet=True,
                unsafe=True,  # our own template loads our own Jinja extension
                overwrite=False,
                skip_tasks=True,
            )
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as error:
        raise RenderError(f"rendering the template failed: {error}") from error


@contextmanager
def _no_git_index_probe() -> Iterator[None]:
    """Skip Copier's per-file `git config core.fileMode` subprocess while we render.

    Copier (9.12 and later) runs it for every rendered file to sync executable bits into the
    destination's git index; it is a documented no-op for files git does not track yet, and
    everything we render is new and untracked (the staging directory is fresh, git init
    comes later). It costs a subprocess per file, about a quarter of a render. The module
    patched is the one that defines the public `copier.run_copy`, whatever Copier calls it;
    a Copier without the probe (or with the hook renamed) renders unchanged, only slower.
    """
    import inspect

    import copier

    module = inspect.getmodule(copier.run_copy)
    original = getattr(module, "is_git_available", None)
    if module is None or original is None:
        yield
        return
    setattr(module, "is_git_available", lambda: False)  # noqa: B010 (not typed)
    try:
        yield
    finally:
        setattr(module, "is_git_available", original)  # noqa: B010


def _files(root: Path) -> tuple[str, ...]:
    """Every rendered file, relative and sorted (git's own files excluded)."""
    return tuple(
        sorted(
            path.relative_to(root).as_posix()
            for path in root.rglob("*")
            if path.is_file() and ".git" not in path.relative_to(root).parts
        )
    )


def _move_into_place(out: Path, dest: Path) -> None:
    try:
        if dest.is_dir():
            _move_entries(out, dest)
        else:
            os.rename(out, dest)  # one atomic step for a new directory
    except OSError as error:
        raise DestinationError(
            f"cannot move the rendered project into {dest}: {error.strerror}; nothing was "
            "written there"
        ) from None


def _move_entries(out: Path, dest: Path) -> None:
    """Fill an existing empty directory entry by entry, keeping the directory itself.

    The user may be standing in it (`scalekit new .`), or it is a mount point, so it must
    not be replaced. If an entry appeared there meanwhile, everything moved so far goes back
    and nothing is lost.
    """
    moved: list[Path] = []
    try:
        for entry in sorted(out.iterdir()):
            target = dest / entry.name
            if target.exists() or target.is_symlink():
                raise FileExistsError(errno.EEXIST, "a file appeared there meanwhile")
            os.rename(entry, target)
            moved.append(target)
    except BaseException:
        for target in moved:
            os.rename(target, out / target.name)
        raise


def pristine_message(subject: str) -> str:
    """A commit message that marks the commit as the template's untouched render."""
    return f"{subject}\n\n{PRISTINE_TRAILER}: {__version__}\n"


def git_identity_env() -> dict[str, str]:
    """os.environ for a git that commits: the user's identity, else scalekit's."""
    git = shutil.which("git") or "git"
    return {**os.environ, **_fallback_identity(git)}


# `git add` of a render takes exactly what the template's own .gitignore lets through, so the
# first commit and every later pristine render (update.py) hold the same kind of tree.
NO_PERSONAL_EXCLUDES = ("-c", f"core.excludesFile={os.devnull}")


def _git_init(root: Path) -> bool:
    """`git init` and a first commit, marked as the pristine render `scalekit update` starts
    from; quietly skipped when git is missing or fails."""
    git = shutil.which("git")
    if git is None:
        return False
    env = git_identity_env()
    message = pristine_message(f"Initial commit from scalekit {__version__}")
    steps = (
        ["init", "-q", "-b", "main"],
        [*NO_PERSONAL_EXCLUDES, "add", "-A"],
        ["commit", "-q", "--no-verify", "-m", message],
    )
    for step in steps:
        done = subprocess.run([git, *step], cwd=root, env=env, capture_output=True, check=False)
        if done.returncode != 0:
            shutil.rmtree(root / ".git", ignore_errors=True)
            return False
    return True


def _fallback_identity(git: str) -> dict[str, str]:
    """Commit as the user when git knows them, otherwise as scalekit (a fresh CI box)."""
    known = subprocess.run(
        [git, "config", "user.email"], capture_output=True, text=True, check=False
    ).stdout.strip()
    if known:
        return {}
    return {
        "GIT_AUTHOR_NAME": "scalekit",
        "GIT_AUTHOR_EMAIL": "scalekit@localhost",
        "GIT_COMMITTER_NAME": "scalekit",
        "GIT_COMMITTER_EMAIL": "scalekit@localhost",
    }
