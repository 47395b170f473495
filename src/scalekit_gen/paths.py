"""Where the template and the shipped presets live, installed or in a checkout."""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_CHECKOUT = _PACKAGE.parent.parent  # src/scalekit_gen -> repository root


def _data_dir(name: str) -> Path:
    # A wheel carries them as package data; an editable install reads the checkout.
    installed = _PACKAGE / "_data" / name
    return installed if installed.is_dir() else _CHECKOUT / name


def template_dir() -> Path:
    return _data_dir("templates")


def presets_dir() -> Path:
    return _data_dir("presets")


# Limits of Linux's common file systems (ext4, XFS, btrfs, tmpfs) and macOS's APFS: the bytes
# of one name, and of a whole path.
NAME_MAX = 255
PATH_MAX = 4096


def path_length_problem(dest: Path, *, room: int = 0) -> str | None:
    """Why `dest` is too long for the file system, with `room` bytes of paths below it, or
    None. No I/O: checked before anything is touched, so a long name gets the rule rather
    than an OSError from the middle of a render."""
    for part in dest.parts:
        size = len(os.fsencode(part))
        if size > NAME_MAX:
            return (
                f"the directory name {part[:24]}… is {size} bytes; file systems allow "
                f"{NAME_MAX} bytes per name — choose a shorter name"
            )
    size = len(os.fsencode(dest))
    if size > PATH_MAX - room:
        return (
            f"{str(dest)[:24]}… is {size} bytes; with what goes below it that makes "
            f"{size + room} bytes and the system allows {PATH_MAX} — choose a shorter path"
        )
    return None


def docs_dir() -> Path:
    """The manual's sources (docs/): only a checkout has them; they are not in the wheel."""
    return _CHECKOUT / "docs"
