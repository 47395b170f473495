"""Two renders of the same blueprint: fresh secrets each time, everything else identical."""

from __future__ import annotations

from pathlib import Path

import pytest

from scalekit_gen import copier_ext
from scalekit_gen.blueprint import Blueprint
from scalekit_gen.render import render_project

from .battery import check_rendered_project, parse_env, secrets_of
from .support import block_network, blueprint_for

SECRET_FILE = ".env"


@pytest.fixture(scope="module")
def twins(tmp_path_factory: pytest.TempPathFactory) -> tuple[Blueprint, Path, Path]:
    """The same blueprint rendered twice (a non-default one: more of the template runs)."""
    blueprint = blueprint_for(
        {
            "framework": "django",
            "read_replicas": 2,
            "cache": "redis+memcached",
            "broker": "rabbitmq",
            "modules": ["billing", "accounts"],
            "owners": {"*": "@acme/platform", "billing": "@acme/payments"},
        }
    )
    base = tmp_path_factory.mktemp("twins")
    with block_network() as attempts:
        for name in ("first", "second"):
            copier_ext._vocabulary_for.cache_clear()  # the second render computes its plan anew
            render_project(blueprint, base / name / "acme-shop", git=False)
    assert not attempts
    return blueprint, base / "first" / "acme-shop", base / "second" / "acme-shop"


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_both_renders_pass_the_battery(twins: tuple[Blueprint, Path, Path]) -> None:
    blueprint, first, second = twins
    check_rendered_project(first, blueprint)
    check_rendered_project(second, blueprint)


def test_two_renders_never_share_a_secret(twins: tuple[Blueprint, Path, Path]) -> None:
    _, first, second = twins
    one = secrets_of(parse_env((first / SECRET_FILE).read_text("utf-8")))
    two = secrets_of(parse_env((second / SECRET_FILE).read_text("utf-8")))
    assert set(one) >= {"SECRET_KEY", "db password", "migrations password", "superuser password"}
    for name in one:
        assert one[name] and two[name], name
        assert one[name] != two[name], f"both renders got the same {name}"
    assert not set(one.values()) & set(two.values())


def test_renders_are_identical_except_for_secrets(twins: tuple[Blueprint, Path, Path]) -> None:
    _, first, second = twins
    assert _files(first) == _files(second)
    different = [
        name
        for name in _files(first)
        if name != SECRET_FILE and (first / name).read_bytes() != (second / name).read_bytes()
    ]
    assert different == []
    # .env differs in its secrets and nothing else.
    texts = []
    for root in (first, second):
        text = (root / SECRET_FILE).read_text("utf-8")
        for secret in secrets_of(parse_env(text)).values():
            text = text.replace(secret, "<secret>")
        texts.append(text)
    assert texts[0] == texts[1]
    assert "<secret>" in texts[0]
