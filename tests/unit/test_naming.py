"""Project names: every identifier rendered from one (package, slug, Kubernetes names, YAML and
Python text) is valid, or the name is refused with the rule before anything is written."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from scalekit_gen import catalog
from scalekit_gen.blueprint import AnswerLayer, build_blueprint
from scalekit_gen.catalog.naming import (
    DEPENDENCY_IMPORT_NAMES,
    DNS_LABEL_MAX,
    LONGEST_NAME_SUFFIX,
    MAX_MODULE_NAME_LENGTH,
    MAX_PROJECT_NAME_LENGTH,
    MAX_SLUG_LENGTH,
)
from scalekit_gen.errors import BlueprintError
from scalekit_gen.paths import template_dir

TEMPLATES = template_dir()


def _problem(name: str) -> str:
    problem = catalog.project_name_problem(name)
    assert problem is not None, f"{name!r} was accepted"
    return problem


@pytest.mark.parametrize(
    ("name", "fragments"),
    [
        ("redis", ["`redis`", "a library the generated project depends on", "redis-service"]),
        ("Celery", ["`celery`", "depends on"]),
        ("django", ["`django`", "depends on"]),
        ("fastapi", ["`fastapi`", "depends on"]),
        ("starlette", ["`starlette`", "depends on"]),  # pulled in by FastAPI, not pinned
        ("json", ["`json`", "standard-library module", "json-service"]),
        ("platform", ["`platform`", "standard-library"]),
        ("typing", ["`typing`", "standard-library"]),
        ("Asyncio!", ["`asyncio`", "standard-library"]),
        ("tests", ["`tests`", "beside its package"]),
    ],
)
def test_names_that_shadow_an_import_are_refused(name, fragments):
    problem = _problem(name)
    for fragment in fragments:
        assert fragment in problem


def test_every_stdlib_module_is_refused():
    for module in sorted(sys.stdlib_module_names):
        if module.startswith("_") or not module.isidentifier():
            continue  # no slug makes a package starting with _ (slugify drops it)
        # macOS and Windows file systems ignore case: `cprofile` would shadow cProfile there
        assert catalog.project_name_problem(module.lower()) is not None, module


@pytest.mark.parametrize(
    "name",
    ["Acme Shop", 'Café: "Shop" #2', "42", "redis-cache", "json-api", "my-service", "x"],
)
def test_ordinary_names_are_accepted(name):
    assert catalog.project_name_problem(name) is None


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("acme\nshop", "'\\n'"),
        ("acme\rshop", "'\\r'"),
        ("acme\tshop", "'\\t'"),
        ("acme\x00", "'\\x00'"),
        ("acme\u2028shop", "'\\u2028'"),  # LINE SEPARATOR: a newline to YAML and JavaScript
        ("acme\u200bshop", "'\\u200b'"),  # ZERO WIDTH SPACE
    ],
)
def test_control_characters_are_refused(name, shown):
    problem = _problem(name)
    assert "control character" in problem
    assert shown in problem


@pytest.mark.parametrize("name", ["acme\\shop", "acme\\N", 'a"""b'])
def test_text_that_ends_a_docstring_is_refused(name):
    assert "docstrings" in _problem(name)


def test_long_display_name_is_refused():
    problem = _problem("a " * MAX_PROJECT_NAME_LENGTH)
    assert f"at most {MAX_PROJECT_NAME_LENGTH}" in problem


def test_slug_keeps_room_for_every_kubernetes_name():
    assert catalog.project_name_problem("a" * MAX_SLUG_LENGTH) is None
    problem = _problem("a" * (MAX_SLUG_LENGTH + 1))
    assert f"at most {MAX_SLUG_LENGTH}" in problem
    assert str(DNS_LABEL_MAX) in problem


def test_every_slug_suffix_in_the_templates_fits_a_dns_label():
    suffixes = {
        match
        for path in TEMPLATES.rglob("*")
        if path.is_file()
        for match in re.findall(r"\{\{ ?slug ?\}\}(-[a-z0-9-]+)", path.read_text("utf-8"))
    }
    assert LONGEST_NAME_SUFFIX in suffixes
    assert max(suffixes, key=len) == LONGEST_NAME_SUFFIX, "update LONGEST_NAME_SUFFIX"
    assert MAX_SLUG_LENGTH + len(LONGEST_NAME_SUFFIX) <= DNS_LABEL_MAX


# Distribution names whose import name is not the distribution name with - turned into _.
_IMPORT_NAME = {
    "django-environ": "environ",
    "argon2-cffi": "argon2",
    "django-ninja": "ninja",
    "django-stubs": "mypy_django_plugin",
    "import-linter": "importlinter",
    "pyjwt": "jwt",
    "sentry-sdk": "sentry_sdk",
}


def _import_name(requirement: str) -> str:
    distribution = re.split(r"[\[=<>]", requirement, maxsplit=1)[0].lower()
    if distribution.startswith("opentelemetry-"):
        return "opentelemetry"
    return _IMPORT_NAME.get(distribution, distribution.replace("-", "_"))


def test_every_pinned_dependency_is_a_refused_name():
    pinned = {
        _import_name(requirement)
        for path in TEMPLATES.rglob("*")
        if path.is_file() and path.name.startswith(("pyproject.toml", "dependencies"))
        for requirement in re.findall(
            r'^\s*"([A-Za-z][\w.-]*)(?=[\[=]).*?==', path.read_text("utf-8"), re.M
        )
    }
    assert {"fastapi", "django", "celery", "dramatiq", "pika", "taskiq_redis", "asyncpg"} <= pinned
    assert sorted(pinned - DEPENDENCY_IMPORT_NAMES) == []


def test_blueprint_refuses_a_shadowing_name_with_its_source():
    with pytest.raises(BlueprintError) as caught:
        build_blueprint([AnswerLayer("destination name", {"project_name": "redis"})])
    (problem,) = caught.value.problems
    assert str(problem).startswith("destination name: project_name: 'redis' makes")


def test_accepted_names_render_valid_identifiers():
    for name in ['Café: "Shop" #2', "a" * MAX_SLUG_LENGTH, "9 lives", "Class"]:
        blueprint = build_blueprint([AnswerLayer("test", {"project_name": name})])
        assert re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?", blueprint.project_slug)
        assert len(blueprint.project_slug + LONGEST_NAME_SUFFIX) <= DNS_LABEL_MAX
        assert blueprint.package_name.isidentifier()
        assert Path(blueprint.project_slug).name == blueprint.project_slug


def test_module_names_keep_database_identifiers_within_63_bytes():
    quoted = re.compile(r"[\"']([a-z_]*)\{\{ ?module ?\}\}([a-z_]*)[\"']")
    affixes = {
        prefix + suffix
        for path in TEMPLATES.rglob("*")
        if path.is_file() and path.suffix in {".jinja", ".py"}
        for prefix, suffix in quoted.findall(path.read_text("utf-8"))
    }
    assert "ix__items_unpublished" in affixes
    assert MAX_MODULE_NAME_LENGTH + max(len(a) for a in affixes) == 63
    assert catalog.module_name_problem("m" * MAX_MODULE_NAME_LENGTH) is None
    problem = catalog.module_name_problem("m" * (MAX_MODULE_NAME_LENGTH + 1))
    assert problem is not None
    assert f"at most {MAX_MODULE_NAME_LENGTH}" in problem


def test_arguments_decoded_under_an_ascii_locale_are_read_as_utf8():
    typed = "Café Zürich"
    as_ascii_locale_sees_it = typed.encode("utf-8").decode("ascii", "surrogateescape")
    assert as_ascii_locale_sees_it != typed
    assert catalog.text_from_os(as_ascii_locale_sees_it) == typed
    blueprint = build_blueprint([AnswerLayer("--set", {"project_name": as_ascii_locale_sees_it})])
    assert blueprint["project_name"] == typed
    assert blueprint.project_slug == "cafe-zurich"


def test_bytes_that_are_not_utf8_are_refused_as_such():
    latin1 = "Café".encode("latin-1").decode("ascii", "surrogateescape")
    assert catalog.text_from_os(latin1) == latin1
    problem = _problem(catalog.text_from_os(latin1))
    assert "not UTF-8 text ('\\udce9')" in problem
