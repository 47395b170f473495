"""The manual's hand-written pages name only commands, options, make targets and settings
that exist. (The reference pages are generated and checked in test_reference.py; broken
links and pages missing from the navigation fail `mkdocs build --strict` in ./scripts/test.)"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer.main

from scalekit_gen.cli import app
from scalekit_gen.paths import docs_dir, template_dir

DOCS = docs_dir()
PAGES = sorted(DOCS.glob("*.md"))
FENCE = re.compile(r"```(?:bash|console)?\n(.*?)```", re.DOTALL)
INLINE = re.compile(r"`(scalekit [^`]+)`")


# Commands the manual mentions while other work builds them: their pages say so.
PLANNED = ("update", "matrix")


def _options_by_command() -> dict[tuple[str, ...], set[str]]:
    """Every command path of the CLI (`("presets", "new")`) with its option names."""
    found: dict[tuple[str, ...], set[str]] = {}

    def walk(command: object, path: tuple[str, ...]) -> None:
        params = getattr(command, "params", [])
        options = {opt for param in params for opt in param.opts if opt.startswith("-")}
        found[path] = options | {"--help"}
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, (*path, name))

    walk(typer.main.get_command(app), ())
    return found


OPTIONS = _options_by_command()


def _invocations(text: str) -> Iterator[str]:
    """`scalekit …` command lines in code blocks (continuations joined) and inline code."""
    for block in FENCE.findall(text):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip().removeprefix("$ ")
            if line.startswith("scalekit "):
                yield line
    yield from INLINE.findall(text)


def _command_and_options(line: str) -> tuple[tuple[str, ...], list[str], list[str]]:
    """The command path, the options and the other words of a `scalekit …` line."""
    words = shlex.split(line, comments=True)[1:]
    path: tuple[str, ...] = ()
    while words and (*path, words[0]) in OPTIONS:
        path = (*path, words.pop(0))
    options = [word.split("=")[0] for word in words if word.startswith("-")]
    return path, options, [word for word in words if not word.startswith("-")]


def _planned_and_missing(line: str) -> bool:
    words = line.split()
    return len(words) > 1 and words[1] in PLANNED and (words[1],) not in OPTIONS


CASES = [
    pytest.param(line, id=f"page={page.stem}:{line[:60]}")
    for page in PAGES
    for line in _invocations(page.read_text(encoding="utf-8"))
    if not _planned_and_missing(line)
]


@pytest.mark.parametrize("line", CASES)
def test_documented_command_exists_with_its_options(line: str):
    path, options, arguments = _command_and_options(line)
    assert path or not arguments, f"{line!r} names no scalekit command"
    unknown = [option for option in options if option not in OPTIONS[path]]
    assert not unknown, f"{line!r}: `scalekit {' '.join(path)}` has no {unknown}"


def test_the_pages_document_the_main_commands():
    documented = {_command_and_options(line)[0] for line, *_ in (case.values for case in CASES)}
    assert {("new",), ("plan",), ("presets",), ("presets", "new")} <= documented


@pytest.mark.parametrize("name", PLANNED, ids=lambda name: f"command={name}")
def test_a_planned_command_is_called_unavailable_exactly_while_it_is_missing(name: str):
    texts = {page.name: page.read_text(encoding="utf-8") for page in PAGES}
    says_missing = sorted(
        page
        for page, text in texts.items()
        if f"[not available yet]({name}.md)" in text
        or (page == f"{name}.md" and "**Not available yet.**" in text)
    )
    if (name,) in OPTIONS:
        assert not says_missing, f"`scalekit {name}` exists now; these pages say it does not"
    else:
        assert f"{name}.md" in says_missing
        mentions = [page for page, text in texts.items() if f"scalekit {name}" in text]
        assert set(mentions) <= set(says_missing), f"say it is not available yet: {mentions}"


def _template_text() -> str:
    return "\n".join(
        path.read_text(encoding="utf-8")
        for path in template_dir().rglob("*")
        if path.is_file() and path.suffix in (".jinja", ".yml", ".yaml", ".ini")
    )


def test_every_make_target_named_exists():
    makefile = (template_dir() / "project" / "Makefile.jinja").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z]+):", makefile, re.MULTILINE))
    in_code = re.compile(r"`make ([a-z]+)`|^make ([a-z]+)\b", re.MULTILINE)
    named = {
        target
        for page in PAGES
        for match in in_code.findall(page.read_text(encoding="utf-8"))
        for target in match
        if target
    }
    assert named, "the pages name no make target"
    assert named <= targets, f"not in the template's Makefile: {sorted(named - targets)}"


def test_every_setting_the_generated_project_page_names_is_in_the_template():
    page = (DOCS / "generated-project.md").read_text(encoding="utf-8")
    names = set(re.findall(r"`([A-Z][A-Z0-9_]{2,})`", page))
    templates = _template_text()
    missing = sorted(name for name in names if name not in templates)
    assert len(names) > 20, names
    assert not missing, f"the page names settings no template uses: {missing}"


def test_every_page_is_in_the_navigation():
    nav = Path(DOCS.parent / "mkdocs.yml").read_text(encoding="utf-8")
    pages = {path.relative_to(DOCS).as_posix() for path in DOCS.rglob("*.md")}
    assert pages == set(re.findall(r": ([\w/.-]+\.md)$", nav, re.MULTILINE))
