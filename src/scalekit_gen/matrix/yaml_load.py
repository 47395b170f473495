"""YAML parsed fast, as its consumer parses it: 1.1 (PyYAML's safe schema) or 1.2 (the core
schema), both on libyaml's C parser when PyYAML has it.

The static proof parses tens of thousands of rendered files. The pure-Python parsers took
about 100 ms per docker-compose.yml, two thirds of the proof's checking time (profiled on
2026-12-06); libyaml parses the same file in a tenth of that. PyYAML resolves YAML 1.1's
plain scalars (`on` a boolean, `010` octal), and the maintained 1.2 loader, ruamel.yaml, has
no C parser installed here; so YAML 1.2 is libyaml's parsing with the core schema's
resolver below (spec 1.2.2, 10.3.2), plus merge keys (`<<`, which go-yaml v3 keeps).
tests/unit/test_matrix_schemas.py checks it against ruamel.yaml on each kind of scalar, and
tests/render/test_render_schemas.py on the rendered Compose and GitHub files.

PyYAML comes with the `test` extra; `scalekit matrix` imports this module on use.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.nodes import ScalarNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

CORE_SCHEMA = (
    ("null", r"~|null|Null|NULL|", "~nN"),
    ("bool", r"true|True|TRUE|false|False|FALSE", "tTfF"),
    ("int", r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+", "-+0123456789"),
    (
        "float",
        r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
        "-+.0123456789",
    ),
    ("merge", r"<<", "<"),
)


class _PythonParser(Reader, Scanner, Parser, Composer):
    """yaml.SafeLoader's parsing, for a PyYAML built without libyaml."""

    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)


try:
    from yaml._yaml import CParser as _Parser
except ImportError:  # PyYAML built without libyaml
    _Parser = _PythonParser  # type: ignore[assignment,misc]
_Loader11: Any = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader


class _CoreSchema(BaseResolver):
    pass


for _name, _pattern, _first in CORE_SCHEMA:
    _CoreSchema.add_implicit_resolver(
        f"tag:yaml.org,2002:{_name}",
        re.compile(f"^(?:{_pattern})$"),
        [*_first, ""] if _name == "null" else list(_first),
    )


def _core_int(constructor: SafeConstructor, node: ScalarNode) -> int:
    """1.2 integers: decimal (a leading zero is still decimal), 0o octal, 0x hex."""
    value = str(constructor.construct_scalar(node))
    if value.startswith(("0o", "0x")):
        return int(value[2:], 8 if value[1] == "o" else 16)
    return int(value, 10)


class _CoreConstructor(SafeConstructor):
    yaml_constructors: ClassVar[dict[Any, Any]] = {
        **SafeConstructor.yaml_constructors,
        "tag:yaml.org,2002:int": _core_int,
    }


class _Loader12(_Parser, _CoreConstructor, _CoreSchema):
    def __init__(self, stream: str) -> None:
        _Parser.__init__(self, stream)
        _CoreConstructor.__init__(self)
        _CoreSchema.__init__(self)


def documents(text: str, *, version: tuple[int, int]) -> list[Any]:
    """The non-empty documents of `text`, read as YAML `version` (1.1 or 1.2) reads them."""
    loader = (_Loader12 if version == (1, 2) else _Loader11)(text)
    try:  # yaml.load_all's loop, whose annotations admit only PyYAML's own loaders
        found = []
        while loader.check_data():
            document = loader.get_data()
            if document is not None:
                found.append(document)
        return found
    finally:
        loader.dispose()
