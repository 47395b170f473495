"""The manual's reference pages are generated from the catalog, the sizing model and the
shipped presets, and the committed copies may not drift from them."""

from __future__ import annotations

import re
from dataclasses import fields, replace

import pytest

from scalekit_gen import reference
from scalekit_gen.catalog import DECISION_LIST, REQUIREMENTS, Decision
from scalekit_gen.catalog.types import Reversal
from scalekit_gen.paths import docs_dir
from scalekit_gen.presets import list_presets
from scalekit_gen.sizing import DEFAULT_ASSUMPTIONS, FORMULAS

DOCS = docs_dir()
DECISIONS_MD = DOCS / "reference" / "decisions.md"
HEADING = re.compile(r"^## .+ \{#(?P<key>[a-z_]+)\}$", re.MULTILINE)


def _sections(text: str) -> dict[str, str]:
    """The committed decision page, cut into its `## Title {#key}` sections."""
    heads = list(HEADING.finditer(text))
    ends = [head.start() for head in heads[1:]] + [len(text)]
    return {head["key"]: text[head.end() : end] for head, end in zip(heads, ends, strict=True)}


@pytest.fixture(scope="module")
def committed_sections() -> dict[str, str]:
    return _sections(DECISIONS_MD.read_text(encoding="utf-8"))


def test_committed_reference_is_what_the_code_produces():
    assert reference.stale(DOCS) == [], "run: python -m scalekit_gen.reference"
    assert reference.main(["--check"]) == 0


def test_every_decision_has_one_section_in_catalog_order(committed_sections):
    assert list(committed_sections) == [decision.key for decision in DECISION_LIST]


@pytest.mark.parametrize("decision", DECISION_LIST, ids=lambda d: f"decision={d.key}")
def test_every_option_is_listed_with_its_reversal(committed_sections, decision: Decision):
    section = committed_sections[decision.key]
    assert decision.question in section
    assert decision.context in section
    for option in decision.options:
        row = (
            f"| `{option.value}` | {option.choose_when} | **{option.reversal.cost.value}** "
            f"| {option.reversal.reason} |"
        )
        assert row in section, f"{decision.key}: {option.value} is missing or differs"
    if not decision.options:
        assert decision.reversal is not None
        assert f"**{decision.reversal.cost.value}** — {decision.reversal.reason}" in section
    if decision.default_note:
        assert f"computed: {decision.default_note}" in section


@pytest.mark.parametrize("rule", REQUIREMENTS, ids=lambda r: f"{r.key}={r.value}->{r.other}")
def test_every_rule_is_listed_under_both_decisions(committed_sections, rule):
    for key in (rule.key, rule.other):
        assert f"`{rule.key}: {rule.value}` needs" in committed_sections[key]
        assert rule.why in committed_sections[key]


def _with_reason(decision_key: str, option_value: str, reason: str) -> tuple[Decision, ...]:
    """The catalog with one option's reversal reason rewritten."""

    def changed(decision: Decision) -> Decision:
        if decision.key != decision_key:
            return decision
        options = tuple(
            replace(option, reversal=Reversal(option.reversal.cost, reason))
            if option.value == option_value
            else option
            for option in decision.options
        )
        return replace(decision, options=options)

    return tuple(changed(decision) for decision in DECISION_LIST)


def test_a_changed_reversal_text_fails_the_check(monkeypatch, capsys):
    new_reason = "rewritten in the catalog, not yet in the docs"
    monkeypatch.setattr(
        reference, "DECISION_LIST", _with_reason("pooling", "app-pool-only", new_reason)
    )

    assert reference.stale(DOCS) == [DECISIONS_MD]
    assert reference.main(["--check"]) == 1
    assert "out of date" in capsys.readouterr().err
    assert new_reason in reference.decisions_page()


def test_write_brings_stale_pages_up_to_date(tmp_path):
    (tmp_path / "reference").mkdir()
    (tmp_path / "reference" / "decisions.md").write_text("drifted\n", encoding="utf-8")

    written = reference.write(tmp_path)

    assert set(written) == {tmp_path / relative for relative in reference.pages()}
    assert reference.stale(tmp_path) == []
    assert reference.write(tmp_path) == []


def test_sizing_page_renders_the_formula_table_and_every_assumption():
    page = reference.sizing_page()
    for what, formula in FORMULAS:
        assert f"| {what} | {formula} |" in page
    for field in fields(DEFAULT_ASSUMPTIONS):
        assert f"| `{field.name}` | {getattr(DEFAULT_ASSUMPTIONS, field.name)} |" in page


def test_presets_page_shows_every_shipped_preset_whole():
    page = reference.presets_page()
    for info in list_presets():
        assert f"## {info.name} {{#{info.name}}}" in page
        assert info.path.read_text(encoding="utf-8").rstrip("\n") in page


def test_wizard_walk_is_the_real_wizard_answering_the_script():
    walk = reference.wizard_walk()
    total = sum(1 for decision in DECISION_LIST if decision.key != "project_name")
    assert f"[1/{total}] Application framework" in walk
    assert "framework (fastapi): django" in walk  # the echoed answer
    assert "queue: taskiq needs framework: fastapi, but framework is django" in walk
    assert "owner of billing (@shop/backend): @shop/payments" in walk
    assert "Render the project into shop? [y/n] (y): y" in walk


def test_a_walk_that_no_longer_fits_the_wizard_fails_loudly(monkeypatch):
    monkeypatch.setattr(reference, "WALK", (("concurrency", ""), *reference.WALK[1:]))
    with pytest.raises(AssertionError, match="WALK answers 'concurrency'"):
        reference.wizard_walk()
