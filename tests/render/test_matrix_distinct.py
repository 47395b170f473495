"""The dependency analysis behind the static proof (`matrix.distinct`), checked against what
Copier really renders: two blueprints that differ in one decision render byte-identical
files wherever the analysis says a file does not depend on that decision."""

from __future__ import annotations

from pathlib import Path

import pytest

from scalekit_gen.matrix import cover, distinct, space
from scalekit_gen.matrix.space import AXIS_KEYS, Row
from scalekit_gen.paths import template_dir
from scalekit_gen.render import render_project

# Files that differ on every render whatever the answers: fresh secrets.
SECRETS = (".env",)


@pytest.fixture(scope="module")
def analysis() -> tuple[dict[str, tuple[str, ...]], dict[str, frozenset[str]]]:
    files, bound = distinct.template_files(template_dir())
    rows = space.valid_rows()
    variables = distinct.variable_axes(cover.cover(rows, 2), rows)
    return distinct.file_axes(files, variables, bound), variables


def test_derived_facts_depend_on_the_decisions_they_come_from(
    analysis: tuple[dict[str, tuple[str, ...]], dict[str, frozenset[str]]],
) -> None:
    _, variables = analysis
    assert variables["uses_rabbitmq"] == {"queue", "broker"}
    assert variables["is_fastapi"] == {"framework"}
    assert variables["db_driver"] == {"framework", "concurrency"}
    assert variables["codeowners_path"] == {"ci"}
    assert variables["package"] == frozenset()  # free-form: held fixed by the matrix
    assert variables["plan.assumptions"] == frozenset()


def test_files_depend_on_what_they_read(
    analysis: tuple[dict[str, tuple[str, ...]], dict[str, frozenset[str]]],
) -> None:
    axes, _ = analysis
    assert axes[".editorconfig"] == ()
    pdb = "{% if uses_kubernetes %}deploy{% endif %}/kubernetes/base/pdb.yaml.jinja"
    assert axes[pdb] == ("pooling", "deploy")  # the path's `deploy`, PgBouncer's budget
    # Through a dynamic include ("includes/" ~ framework ~ "/queue/" ~ queue ~ ...).
    assert {"framework", "queue"} <= set(axes["Makefile.jinja"])
    assert axes["{{ _copier_conf.answers_file }}.jinja"] == AXIS_KEYS


def test_the_proof_rows_hold_every_distinct_rendering_of_every_file(
    analysis: tuple[dict[str, tuple[str, ...]], dict[str, frozenset[str]]],
) -> None:
    # The files reading at most four decisions (README and the others that print every
    # answer need every row: docs/matrix.md says why they are left to an argument of their own).
    axes = {path: keys for path, keys in analysis[0].items() if len(keys) <= 4}
    rows = space.select(space.valid_rows(), only=["framework=django", "deploy=compose"])
    proof = distinct.prove(rows, axes)
    assert proof.blueprints == len(rows)
    assert len(proof.rows) < len(rows) / 10
    for path, keys in axes.items():
        positions = [AXIS_KEYS.index(key) for key in keys]
        wanted = {tuple(row[i] for i in positions) for row in rows}
        assert {tuple(row[i] for i in positions) for row in proof.rows} == wanted, path
        assert proof.renderings[path] == len(wanted)
    assert proof.distinct == sum(proof.renderings.values())


def test_an_unknown_variable_stops_the_proof() -> None:
    file = distinct.TemplateFile("x.jinja", frozenset({"not_in_the_context"}))
    with pytest.raises(distinct.UnknownVariableError, match="not_in_the_context"):
        distinct.file_axes([file], {}, frozenset())


def _neighbour(row: Row, key: str, value: object) -> Row:
    changed = list(row)
    changed[AXIS_KEYS.index(key)] = value
    assert space.is_valid(tuple(changed)), changed
    return tuple(changed)


def _files(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file()
    }


@pytest.mark.parametrize(
    ("key", "value"),
    [("cache", "memcached"), ("observability", ("sentry",)), ("ci", "gitlab")],
    ids=lambda v: str(v),
)
def test_files_that_do_not_depend_on_a_decision_render_the_same_without_it(
    key: str,
    value: object,
    analysis: tuple[dict[str, tuple[str, ...]], dict[str, frozenset[str]]],
    tmp_path: Path,
) -> None:
    axes, _ = analysis
    base = space.valid_rows()[0]
    other = _neighbour(base, key, value)
    before, after = tmp_path / "before", tmp_path / "after"
    render_project(space.blueprint_of(base), before, git=False)
    render_project(space.blueprint_of(other), after, git=False)
    one, two = _files(before), _files(after)
    assert distinct.rendered_paths(base, list(axes)) == sorted(one)  # the mapping is right
    independent = [template for template, keys in axes.items() if key not in keys]
    # A rendered file comes from the template file whose rendered path it is: compare the
    # files of templates that do not depend on `key`, found through the render itself.
    rendered_from = distinct.rendered_paths(base, independent)
    assert rendered_from, "no file is independent of the decision: the test proves nothing"
    changed = [
        path for path in rendered_from if path not in SECRETS and one.get(path) != two.get(path)
    ]
    assert not changed, f"{changed} changed with {key} but the analysis says they do not read it"


def test_branches_name_what_decides_each_branch(tmp_path: Path) -> None:
    """What the proof keys the files that print every answer by: each `if` with the tests
    around it, the name a dynamic include is chosen by, and the tests inside what it
    includes; printed names decide nothing."""
    (tmp_path / "project").mkdir()
    (tmp_path / "inc").mkdir()
    (tmp_path / "project/x.jinja").write_text(
        "{{ printed }}{% if a %}{% if b %}x{% else %}{{ 'y' if c else 'z' }}{% endif %}{% endif %}"
        "{% if plan.consequences %}{% endif %}"
        '{% include "inc/" ~ d ~ ".jinja" %}'
    )
    (tmp_path / "inc/one.jinja").write_text("{% if e %}1{% endif %}")
    (tmp_path / "inc/two.jinja").write_text("2")
    found = distinct._Reader(tmp_path).branches("project/x.jinja")
    expected = [{"a"}, {"a", "b"}, {"a", "b", "c"}, {"plan.consequences"}, {"d"}, {"d", "e"}]
    assert found == {frozenset(names) for names in expected}
