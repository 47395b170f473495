"""The YAML loaders of the static checks: each file read as its consumer reads it."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest
from ruamel.yaml import YAML

from scalekit_gen.matrix.schemas import (
    compose_errors,
    schema_errors,
    yaml_1_1_documents,
    yaml_1_2_documents,
)

#: A plain scalar of each kind of YAML 1.2's core schema, and YAML 1.1's traps.
SCALARS = [
    "yes", "on", "off", "No", "true", "True", "FALSE", "~", "null", "Null", "",
    "010", "0o17", "0x1F", "-3", "+12", "1e3", "1.5", ".5", "5.", "-.inf", ".NaN",
    "1:20", "0.1.2", "3.12", "'quoted'", '"8000:8000"', "[]", "{}",
]  # fmt: skip


def _plain(value: Any) -> Any:
    return "nan" if isinstance(value, float) and math.isnan(value) else value


@pytest.mark.parametrize("scalar", SCALARS, ids=[f"scalar={s!r}" for s in SCALARS])
def test_yaml_1_2_scalars_resolve_as_ruamel_yaml_resolves_them(scalar: str) -> None:
    text = f"key: {scalar}\n"
    expected = YAML(typ="safe", pure=True).load(text)
    assert {k: _plain(v) for k, v in yaml_1_2_documents(text)[0].items()} == {
        k: _plain(v) for k, v in expected.items()
    }


def test_yaml_1_2_keeps_1_1_booleans_and_octals_as_1_2_reads_them() -> None:
    text = "on: push\nenabled: yes\nmode: 010\nmask: 0o17\n"
    assert yaml_1_2_documents(text) == [{"on": "push", "enabled": "yes", "mode": 10, "mask": 15}]
    assert yaml_1_1_documents(text) == [{True: "push", "enabled": True, "mode": 8, "mask": "0o17"}]


def test_merge_keys_and_empty_documents() -> None:
    text = "---\nbase: &base {a: 1}\nuse:\n  <<: *base\n  b: 2\n---\n"
    assert yaml_1_2_documents(text) == [{"base": {"a": 1}, "use": {"a": 1, "b": 2}}]


COMPOSE = {
    "name": "shop",
    "services": {
        "web": {"image": "shop:latest", "ports": ["8000:8000"], "depends_on": ["db"]},
        "db": {"image": "postgres:18", "healthcheck": {"test": ["CMD", "pg_isready"]}},
    },
    "volumes": {"data": {}},
}
#: Each a change to COMPOSE: (what it breaks, where).
BROKEN = {
    "service-field": lambda d: d["services"]["web"].update(restart_policy="always"),
    "service-type": lambda d: d["services"]["db"].update(ports="5432"),
    "service-name": lambda d: d["services"].update({"bad name!": {"image": "x"}}),
    "top-level-key": lambda d: d.update(service={}),
    "top-level-type": lambda d: d.update(volumes=[]),
    "two-at-once": lambda d: (d.update(name=3), d["services"]["web"].update(ports=8000)),
}


@pytest.mark.parametrize("change", [None, *BROKEN], ids=lambda c: f"compose={c or 'valid'}")
def test_compose_checked_a_service_at_a_time_says_what_the_whole_file_check_says(
    change: str | None,
) -> None:
    document = copy.deepcopy(COMPOSE)
    if change is not None:
        BROKEN[change](document)
    whole = schema_errors("compose-spec", document)
    assert compose_errors(document) == whole
    assert compose_errors(document) == whole  # and again, from the cache
    assert bool(whole) == (change is not None)
