"""Presets and answers files: commented YAML read and written with ruamel.yaml round-trip.

A preset is an answers file with a name. Shipped presets and a platform team's own file go
through the same loader and the same blueprint validation. A preset may start from another
with `extends: NAME-or-PATH`, so an organisation standard can be a few lines on top of ours.
"""

from __future__ import annotations

import io
import os
import shlex
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from scalekit_gen.blueprint import AnswerLayer
from scalekit_gen.errors import PresetError
from scalekit_gen.paths import path_length_problem, presets_dir

EXTENDS = "extends"
# The answers file's list of decisions taken by default (see render._copier_render).
DEFAULTED_KEY = "_scalekit_defaulted"
_SUFFIXES = (".yml", ".yaml")
# The largest shipped preset is about 3 KB; the limits only stop a wrong file early.
MAX_DOCUMENT_BYTES = 1024 * 1024
MAX_DOCUMENT_DEPTH = 8  # decision: {owner mapping} is 2; the rest is room
_FOREIGN_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)


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
    if looks_like_path(name_or_path):
        problem = readable_file_problem(candidate)
        if problem is not None:
            raise PresetError(f"preset {problem}")
        return candidate
    shipped = presets_dir() / f"{name_or_path}.yml"
    if path_length_problem(shipped) is None and shipped.is_file():
        return shipped
    names = ", ".join(info.name for info in list_presets())
    here = ""
    if os.path.lexists(candidate):  # `--preset acme` with ./acme present: say what it is
        problem = readable_file_problem(candidate)
        here = f" ({problem or f'a file {candidate} exists: pass it as ./{name_or_path}'})"
    raise PresetError(
        f"no preset named {name_or_path!r}{here} — shipped presets: {names}; "
        "or pass the path of a YAML file"
    )


def looks_like_path(name_or_path: str) -> bool:
    """A preset reference is a file when it has a YAML suffix (any case) or a slash."""
    return has_yaml_suffix(Path(name_or_path)) or "/" in name_or_path or os.sep in name_or_path


def has_yaml_suffix(path: Path) -> bool:
    return path.suffix.lower() in _SUFFIXES


def new_preset_path_problem(path: Path) -> str | None:
    """Why a new preset cannot be written at `path`, or None (checked before writing)."""
    if not has_yaml_suffix(path):
        return (
            f"{path}: a preset file ends in .yml or .yaml, or --preset would look for a shipped "
            f"preset of that name — e.g. {path.name}.yml"
        )
    too_long = path_length_problem(path.absolute())
    if too_long is not None:
        return too_long
    if os.path.lexists(path):
        return f"{path} already exists — scalekit never overwrites a file; choose another name"
    return None


def preset_reference(path: Path) -> str:
    """How to name the preset file at `path` so that `--preset` finds that very file."""
    reference = str(path)
    return reference if looks_like_path(reference) else f"./{reference}"


def readable_file_problem(path: Path) -> str | None:
    """Why `path` cannot be read as a YAML document, or None.

    Regular files and pipes (`--answers <(envsubst < answers.yml)`) are read; a directory,
    a device or a socket is named as what it is rather than reported missing.
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return f"file {path} does not exist"
    except OSError as error:
        return f"file {path} cannot be read: {error.strerror}"
    if stat.S_ISREG(mode) or stat.S_ISFIFO(mode):
        return None
    if stat.S_ISDIR(mode):
        found = sorted(p.name for p in path.iterdir() if has_yaml_suffix(p))[:3]
        hint = f" (it holds {', '.join(found)})" if found else ""
        return f"{path} is a directory, not a YAML file{hint} — pass the file itself"
    kind = "a socket" if stat.S_ISSOCK(mode) else "a device"
    return f"{path} is {kind}, not a YAML file — pass a regular file (or a pipe)"


def read_document(path: Path) -> Any:
    """Parse a YAML answers document, keeping comments; errors name the file and line.

    Answers are a few lines of plain YAML, so anything else is refused before it is parsed:
    a file over MAX_DOCUMENT_BYTES, text that is not UTF-8, and anchors or aliases (a few
    hundred bytes of nested aliases expand to gigabytes: the "billion laughs").
    """
    from ruamel.yaml.error import YAMLError

    text = read_text(path)
    try:
        _refuse_aliases_and_depth(path, text)
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


def read_text(path: Path) -> str:
    """A preset or answers file as text: at most MAX_DOCUMENT_BYTES of UTF-8."""
    problem = readable_file_problem(path)
    if problem is not None:
        raise PresetError(f"cannot read {problem.removeprefix('file ')}")
    try:
        with path.open("rb") as handle:  # a pipe has no size to check first: read one more
            data = handle.read(MAX_DOCUMENT_BYTES + 1)
    except OSError as error:
        raise PresetError(f"cannot read {path}: {error.strerror}") from None
    if len(data) > MAX_DOCUMENT_BYTES:
        raise PresetError(
            f"{path} is larger than {MAX_DOCUMENT_BYTES // 1024} KiB — an answers file or "
            "preset is a few lines of decision: answer; is this the right file?"
        )
    return decode_utf8(path, data)


def decode_utf8(path: Path, data: bytes) -> str:
    """UTF-8 (a byte-order mark is allowed), or a message naming the encoding fix."""
    for bom, encoding in _FOREIGN_BOMS:
        if data.startswith(bom):
            return _not_utf8(path, f"it is {encoding} (byte-order mark)", encoding)
    if b"\x00" in data:
        return _not_utf8(path, "it holds NUL bytes, as UTF-16 text does", "UTF-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        found = f"byte 0x{data[error.start]:02x} on line {line} is not UTF-8"
        return _not_utf8(path, f"{found}; Latin-1 or Windows-1252 text looks like this", "LATIN1")


def _not_utf8(path: Path, why: str, encoding: str) -> NoReturn:
    quoted = shlex.quote(str(path))
    raise PresetError(
        f"{path} is not UTF-8 text ({why}) — save it as UTF-8, e.g. "
        f"`iconv -f {encoding} -t UTF-8 {quoted} > fixed.yml`, or choose UTF-8 in your "
        "editor's save dialog"
    )


def _refuse_aliases_and_depth(path: Path, text: str) -> None:
    """Scan the event stream (nothing is expanded) for anchors, aliases and deep nesting."""
    from ruamel.yaml.events import AliasEvent, CollectionEndEvent, CollectionStartEvent, NodeEvent

    depth = 0
    for event in _yaml().parse(text):
        if isinstance(event, AliasEvent) or (
            isinstance(event, NodeEvent) and event.anchor is not None
        ):
            line = event.start_mark.line + 1 if event.start_mark is not None else "?"
            raise PresetError(
                f"{path} (line {line}) uses a YAML anchor or alias (&name, *name or <<:) — "
                "answers files are plain YAML; write each value out"
            )
        if isinstance(event, CollectionStartEvent):
            depth += 1
            if depth > MAX_DOCUMENT_DEPTH:
                raise PresetError(
                    f"{path} nests more than {MAX_DOCUMENT_DEPTH} levels deep — an answers "
                    "file maps decisions to values, lists or owner mappings"
                )
        elif isinstance(event, CollectionEndEvent):
            depth -= 1


def _plain(node: Any) -> Any:
    """ruamel's round-trip nodes as plain Python (a ScalarInt is no int to a YAML dumper)."""
    if isinstance(node, Mapping):
        return {str(key): _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(item) for item in node]
    from ruamel.yaml.scalarbool import ScalarBoolean

    if isinstance(node, ScalarBoolean):  # an int subclass to Python
        return bool(node)
    for plain_type in (bool, str, int, float):  # bool first: it is an int too
        if isinstance(node, plain_type):
            return plain_type(node)
    return node


def load_answers(path: Path, *, source: str | None = None) -> AnswerLayer:
    """An answers file as one layer. Copier's own `_`-prefixed keys are ignored, so a
    project's `.copier-answers.yml` can seed another project; the answers it marks as taken
    by default (`_scalekit_defaulted`) are left out, so the new project takes its own."""
    document = _plain(read_document(path))
    defaulted = document.get(DEFAULTED_KEY) or []
    if not isinstance(defaulted, list):
        raise PresetError(f"{path}: {DEFAULTED_KEY} must be a list of decision names")
    values = {
        key: value
        for key, value in document.items()
        if not key.startswith("_") and key not in defaulted
    }
    if EXTENDS in values:
        raise PresetError(f"{path}: 'extends' only works in presets (--preset), not answers files")
    return AnswerLayer(source or str(path), values)


def load_preset(
    name_or_path: str, *, relative_to: Path | None = None, _seen: tuple[Path, ...] = ()
) -> list[AnswerLayer]:
    """A preset and the presets it extends, base first."""
    found = find_preset(name_or_path, relative_to=relative_to)
    path = found.resolve()
    if path in _seen:
        chain = " -> ".join(str(p) for p in (*_seen, path))
        raise PresetError(f"presets extend each other in a circle: {chain}")
    # Read what was named: a pipe's resolved name (/proc/self/fd/pipe:[…]) cannot be opened.
    values = _plain(read_document(found))
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
    if not looks_like_path(reference) or candidate.is_absolute():
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
    flags = parse_set_options(sets) if sets else None
    # A --set project_name replaces the directory's name as the answer (and its problems:
    # `new <a 240-character directory> --set project_name=shop` is fine).
    if project_name and not (flags and "project_name" in flags.values):
        layers.append(AnswerLayer("destination name", {"project_name": project_name}))
    if flags is not None:
        layers.append(flags)
    return layers
