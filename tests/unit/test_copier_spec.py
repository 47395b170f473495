"""The template's copier.yml is generated from the catalog."""

from __future__ import annotations

import pytest
import yaml

from scalekit_gen import copier_spec
from scalekit_gen.blueprint import coerce, plain
from scalekit_gen.catalog import DECISION_LIST, Kind
from scalekit_gen.paths import template_dir

ROOT = template_dir()
COPIER_TYPES = {
    Kind.TEXT: "str",
    Kind.CHOICE: "str",
    Kind.MULTI: "str",
    Kind.INTEGER: "int",
    Kind.NAMES: "yaml",
    Kind.OWNERS: "yaml",
}


@pytest.fixture(scope="module")
def copier_yml():
    return yaml.safe_load((ROOT / "copier.yml").read_text(encoding="utf-8"))


def test_checked_in_copier_yml_is_generated_from_the_catalog():
    text = (ROOT / "copier.yml").read_text(encoding="utf-8")
    assert text == copier_spec.copier_yml(), "run: python -m scalekit_gen.copier_spec"


def test_check_passes_on_the_checked_in_template():
    assert copier_spec.stale(ROOT) == []
    assert copier_spec.main(["--check"]) == 0


def test_settings_come_first(copier_yml):
    assert list(copier_yml)[: len(copier_spec.SETTINGS)] == list(copier_spec.SETTINGS)
    for key, value in copier_spec.SETTINGS.items():
        assert copier_yml[key] == value
    assert ".env" in copier_yml["_skip_if_exists"]


def test_questions_are_the_catalog_in_order(copier_yml):
    questions = [key for key in copier_yml if not key.startswith("_")]
    assert questions == [d.key for d in DECISION_LIST]


@pytest.mark.parametrize("decision", DECISION_LIST, ids=lambda d: d.key)
def test_question_matches_decision(copier_yml, decision):
    question = copier_yml[decision.key]
    assert question["help"] == decision.question
    assert question["type"] == COPIER_TYPES[decision.kind]
    assert question["validator"] == f"{{{{ scalekit_validate('{decision.key}') }}}}"

    if decision.options:
        assert list(question["choices"].values()) == list(decision.values)
        for label, value in question["choices"].items():
            assert label == f"{value} — {decision.option(value).choose_when}"
    else:
        assert "choices" not in question
    assert question.get("multiselect", False) is (decision.kind is Kind.MULTI)

    if decision.applies is None:
        assert "when" not in question
    else:
        assert question["when"] == f"{{{{ scalekit_applies('{decision.key}') }}}}"


@pytest.mark.parametrize("decision", DECISION_LIST, ids=lambda d: d.key)
def test_question_default_matches_decision(copier_yml, decision):
    default = copier_yml[decision.key]["default"]
    if decision.has_computed_default:
        assert default == f"{{{{ scalekit_default('{decision.key}') }}}}"
    else:
        if decision.kind is Kind.NAMES:  # a YAML answer: Copier parses the text into a list
            default = yaml.safe_load(default)
            assert isinstance(default, list)
        assert coerce(decision, default) == coerce(decision, plain(decision.default))
        if decision.kind is not Kind.NAMES:
            assert default == plain(decision.default)


def test_header_says_the_file_is_generated():
    text = (ROOT / "copier.yml").read_text(encoding="utf-8")
    assert text.startswith(copier_spec.HEADER)
    assert "GENERATED" in text.splitlines()[0]


def test_write_brings_a_stale_copy_up_to_date(tmp_path):
    (tmp_path / "copier.yml").write_text("drifted\n", encoding="utf-8")

    assert copier_spec.stale(tmp_path) == [tmp_path / "copier.yml"]
    assert copier_spec.write(tmp_path) == [tmp_path / "copier.yml"]
    assert copier_spec.stale(tmp_path) == []
    assert (tmp_path / "copier.yml").read_text(encoding="utf-8") == copier_spec.copier_yml()


def test_write_creates_a_missing_copier_yml(tmp_path):
    assert copier_spec.write(tmp_path) == [tmp_path / "copier.yml"]
    assert copier_spec.stale(tmp_path) == []
