"""Presets and answers files: commented YAML read and written with ruamel.yaml round-trip.

A preset is an answers file with a name. Shipped presets and a platform team's own file go
through the same loader and the same blueprint validation. A preset may start from another
with `extends: NAME-or-PATH`, so an organisation standard can be a few lines on top of ours.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scalekit_gen.blueprint import AnswerLayer
from scalekit_gen.errors import PresetError
from scalekit_gen.paths import presets_dir

EXTENDS = "extends"
_SUFFIXES = (".yml", ".yaml")


@dataclass(frozen=True)
class PresetInfo:
    name: str
    path: Path
    summary: str


def _yaml() -> Any:
    from ruamel.yaml import YAML  # imported on use: keeps CLI start-up fast

    yaml = YAML()  # round-trip mode: comments and key order survive a load/dump
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.preserve_quotes = True
    return yaml


def list_presets() -> list[PresetInfo]:
    return [
        PresetInfo(path.stem, path, _summary(path.read_text(encoding="utf-8")))
        for path in sorted(presets_dir().glob("*.yml"))
    ]


def _summary(text: str) -> str:
    for line in text.splitlines():
        if line.startswith("#") and line.lstrip("# ").strip():
            return line.lstrip("# ").strip()
    return ""


def find_preset(name_or_path: str, *, relative_to: Path | None = None) -> Path:
    """A shipped preset by name, or a file by path (relative to the file that extends it)."""
    candidate = Path(name_or_path).expanduser()
    if relative_to is not None and not candidate.is_absolute():
        candidate = relative_to / candidate
    looks_like_path = candidate.suffix in _SUFFIXES or "/" in name_or_path
    if looks_like_path:
        if candidate.is_file():
            return candidate
        raise PresetError(f"preset file {name_or_path} does not exist")
    shipped = presets_dir() / f"{name_or_path}.yml"
    if shipped.is_file():
        return shipped
    names = ", ".join(info.name for info in list_presets())
    raise PresetError(
        f"no preset named {name_or_path!r} — shipped presets: {names}; "
        "or pass the path of a YAML file"
    )


def read_document(path: Path) -> Any:
    """Parse a YAML answers document, keeping comments; errors name the file and line."""
    from ruamel.yaml.error import YAMLError

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise PresetError(f"cannot read {path}: {error.strerror}") from None
    try:
        document = _yaml().load(text)
    except YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise PresetError(f"{path}{where} is not valid YAML: {error}") from None
    if document is None:
        return _yaml().load("{}")
    if not isinstance(document, Mapping):
        raise PresetError(f"{path} must be a YAML mapping of decision: answer")
    return document


def _plain(node: Any) -> Any:
    if isinstance(node, Mapping):
        return {str(key): _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(item) for item in node]
    return node


def load_answers(path: Path, *, source: str | None = None) -> AnswerLayer:
    """An answers file as one layer. Copier's own `_`-prefixed keys are ignored, so a
    project's `.copier-answers.yml` can seed another project."""
    document = read_document(path)
    values = {key: value for key, value in _plain(document).items() if not key.startswith("_")}
    if EXTENDS in values:
        raise PresetError(f"{path}: 'extends' only works in presets (--preset), not answers files")
    return AnswerLayer(source or str(path), values)


def load_preset(
    name_or_path: str, *, relative_to: Path | None = None, _seen: tuple[Path, ...] = ()
) -> list[AnswerLayer]:
    """A preset and the presets it extends, base first."""
    path = find_preset(name_or_path, relative_to=relative_to).resolve()
    if path in _seen:
        chain = " -> ".join(str(p) for p in (*_seen, path))
        raise PresetError(f"presets extend each other in a circle: {chain}")
    values = _plain(read_document(path))
    label = _label(path)
    base = values.pop(EXTENDS, None)
    layers: list[AnswerLayer] = []
    if base is not None:
        layers = load_preset(str(base), relative_to=path.parent, _seen=(*_seen, path))
    return [*layers, AnswerLayer(label, values)]


def _label(path: Path) -> str:
    shipped = presets_dir().resolve()
    if path.parent == shipped:
        return f"preset {path.stem}"
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _rebase(reference: str, old_dir: Path, new_dir: Path) -> str:
    """An `extends` value as seen from `new_dir`; shipped names stay names."""
    candidate = Path(reference).expanduser()
    if not (candidate.suffix in _SUFFIXES or "/" in reference) or candidate.is_absolute():
        return reference
    return os.path.relpath((old_dir / candidate).resolve(), new_dir.resolve())


def _drop_line_comment(document: Any, key: str) -> None:
    # ruamel keeps a key's end-of-line comment together with the full-line comments that
    # follow it in one token; keep those, drop only the first line.
    slots = document.ca.items.get(key)
    token = slots[2] if slots and len(slots) > 2 else None
    if token is not None:
        _, _, following = token.value.partition("\n")
        token.value = "\n" + following


def derive_preset(base: str | None, changes: Mapping[str, Any], *, target: Path) -> str:
    """The text of a new preset at `target`: a base preset's document with changes.

    Every comment of the base survives, except the end-of-line comment of a changed key,
    which described the old value. New keys are appended. If the base extends another
    preset, so does the copy (a relative path is rewritten for the new file's folder).
    """
    base_path = find_preset(base) if base else None
    document = read_document(base_path) if base_path else _yaml().load("{}")
    if base_path is not None and EXTENDS in document:
        document[EXTENDS] = _rebase(str(document[EXTENDS]), base_path.parent, target.parent)
    for key, value in changes.items():
        if key in document and document[key] != value:
            _drop_line_comment(document, key)
        document[key] = value
    buffer = io.StringIO()
    _yaml().dump(document, buffer)
    return buffer.getvalue()


def parse_set_options(pairs: list[str]) -> AnswerLayer:
    """`--set key=value` flags as one layer; the value is parsed by the blueprint."""
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise PresetError(f"--set {pair!r}: write it as KEY=VALUE, e.g. --set queue=celery")
        values[key.strip()] = value.strip()
    return AnswerLayer("--set", values)


def collect_layers(
    *,
    preset: str | None = None,
    answers_file: Path | None = None,
    sets: list[str] | None = None,
    project_name: str | None = None,
) -> list[AnswerLayer]:
    """Every answer source in precedence order: later layers win.

    The destination's name answers project_name above a preset or answers file (a copied
    `.copier-answers.yml` names the other project) but below an explicit --set.
    """
    layers: list[AnswerLayer] = []
    if preset:
        layers += load_preset(preset)
    if answers_file is not None:
        layers.append(load_answers(answers_file))
    if project_name:
        layers.append(AnswerLayer("destination name", {"project_name": project_name}))
    if sets:
        layers.append(parse_set_options(sets))
    return layers
