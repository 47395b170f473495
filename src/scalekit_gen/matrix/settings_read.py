"""The environment variables a rendered project's code reads: its settings.

Two ways a generated service reads one: a pydantic-settings class (FastAPI, and the
Sentry/OpenTelemetry settings), where every field is a variable named after it (upper case,
after the class's `env_prefix`), and a call (`env.int("NAME", …)` from django-environ,
`os.environ.get("NAME")`, `os.getenv("NAME")`). Both are read off the source without importing
it, so a render that does not install can still be checked.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator

# A read by name: env.str("X"), env.int("X"), os.environ.get("X"), os.getenv("X"), …
_CALL = re.compile(
    r"""(?:\benv\.\w+|\benv|environ\.get|environ\.setdefault|\bgetenv)\(\s*["']([A-Z][A-Z0-9_]*)["']"""
)
_SETTINGS_BASES = ("BaseSettings",)


def settings_read(sources: Iterable[tuple[str, str]]) -> dict[str, str]:
    """{variable: the first file that reads it} over (path, source text) pairs."""
    found: dict[str, str] = {}
    for path, text in sources:
        for name in _names_read(text):
            found.setdefault(name, path)
    return found


def _names_read(text: str) -> Iterator[str]:
    yield from (match.group(1) for match in _CALL.finditer(text))
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return  # the python-compile check reports it
    settings_classes = set(_SETTINGS_BASES)
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and _is_settings_class(node, settings_classes):
            settings_classes.add(node.name)  # a subclass in the same file reads its own too
            prefix = _env_prefix(node)
            for statement in node.body:
                if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
                    field = statement.target.id
                    if field != "model_config" and not field.startswith("_"):
                        yield (prefix + field).upper()


def _is_settings_class(node: ast.ClassDef, settings_classes: set[str]) -> bool:
    return any(
        (isinstance(base, ast.Name) and base.id in settings_classes)
        or (isinstance(base, ast.Attribute) and base.attr in settings_classes)
        for base in node.bases
    )


def _env_prefix(node: ast.ClassDef) -> str:
    for statement in node.body:
        if not (isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Call)):
            continue
        if not any(isinstance(t, ast.Name) and t.id == "model_config" for t in statement.targets):
            continue
        for keyword in statement.value.keywords:
            if keyword.arg == "env_prefix" and isinstance(keyword.value, ast.Constant):
                return str(keyword.value.value)
    return ""
