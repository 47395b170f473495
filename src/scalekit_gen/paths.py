"""Where the template and the shipped presets live, installed or in a checkout."""

from __future__ import annotations

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
