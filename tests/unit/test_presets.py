"""Presets and answers files: loading, `extends`, errors that point at the file, derivation."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from scalekit_gen.blueprint import AnswerLayer, build_blueprint
from scalekit_gen.catalog import DECISIONS
from scalekit_gen.errors import BlueprintError, PresetError
from scalekit_gen.paths import presets_dir
from scalekit_gen.presets import (
    collect_layers,
    derive_preset,
    find_preset,
    list_presets,
    load_answers,
    load_preset,
    parse_set_options,
    read_document,
)

SHIPPED = sorted(path.stem for path in presets_dir().glob("*.yml"))


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- shipped presets


def test_presets_are_shipped():
    assert len(SHIPPED) >= 5
    assert [info.name for info in list_presets()] == SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_preset_builds_a_valid_blueprint(name):
    layers = load_preset(name)
    assert [layer.source for layer in layers] == [f"preset {name}"]
    blueprint = build_blueprint(layers)
    given = layers[0].values
    assert given, f"{name} answers nothing"
    for key in given:
        assert blueprint.sources[key] == f"preset {name}"
    assert blueprint["framework"] == given["framework"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_preset_answers_only_catalog_decisions(name):
    values = yaml.safe_load((presets_dir() / f"{name}.yml").read_text(encoding="utf-8"))
    assert set(values) <= set(DECISIONS)


@pytest.mark.parametrize("info", list_presets(), ids=lambda info: info.name)
def test_shipped_preset_has_a_summary(info):
    assert info.summary
    assert not info.summary.startswith("#")
    assert info.path == find_preset(info.name)


# --------------------------------------------------------------------------- extends


def test_extends_chain_layers_base_first(tmp_path):
    _write(tmp_path / "base.yml", "queue: celery\nconcurrency: sync\ncache: memcached\n")
    _write(tmp_path / "sub" / "mid.yml", "extends: ../base.yml\ncache: none\nci: gitlab\n")
    top = _write(tmp_path / "top.yml", "extends: sub/mid.yml\nci: none\n")

    layers = load_preset(str(top))
    assert [Path(layer.source).name for layer in layers] == ["base.yml", "mid.yml", "top.yml"]
    assert all("extends" not in layer.values for layer in layers)

    blueprint = build_blueprint(layers)
    assert blueprint["queue"] == "celery"
    assert blueprint["cache"] == "none"
    assert blueprint["ci"] == "none"
    assert Path(blueprint.sources["queue"]).name == "base.yml"
    assert Path(blueprint.sources["cache"]).name == "mid.yml"
    assert Path(blueprint.sources["ci"]).name == "top.yml"


def test_extends_a_shipped_preset_by_name(tmp_path):
    acme = _write(tmp_path / "acme.yml", "extends: django-platform\nread_replicas: 2\n")
    layers = load_preset(str(acme))
    assert layers[0].source == "preset django-platform"
    blueprint = build_blueprint(layers)
    assert blueprint["framework"] == "django"
    assert blueprint["read_replicas"] == 2


@pytest.mark.parametrize(
    "files",
    [
        {"a.yml": "extends: a.yml\n"},
        {"a.yml": "extends: b.yml\n", "b.yml": "extends: a.yml\n"},
        {"a.yml": "extends: b.yml\n", "b.yml": "extends: c.yml\n", "c.yml": "extends: b.yml\n"},
    ],
    ids=["self", "two", "tail"],
)
def test_extends_cycle_is_detected(tmp_path, files):
    for name, text in files.items():
        _write(tmp_path / name, text)
    with pytest.raises(PresetError, match="in a circle") as caught:
        load_preset(str(tmp_path / "a.yml"))
    assert "->" in str(caught.value)


def test_extends_a_missing_file(tmp_path):
    top = _write(tmp_path / "top.yml", "extends: nowhere.yml\n")
    with pytest.raises(PresetError, match=r"nowhere\.yml does not exist"):
        load_preset(str(top))


def test_unknown_preset_name_lists_shipped_ones():
    with pytest.raises(PresetError) as caught:
        load_preset("acme-standard")
    message = str(caught.value)
    assert "'acme-standard'" in message
    for name in SHIPPED:
        assert name in message


# --------------------------------------------------------------------------- errors name the file


def test_invalid_value_in_a_preset_names_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "presets" / "acme.yml", "framework: flask\nqueue: celery\n")
    layers = load_preset("presets/acme.yml")
    with pytest.raises(BlueprintError) as caught:
        build_blueprint(layers)
    (problem,) = caught.value.problems
    assert problem.source == "presets/acme.yml"
    assert str(problem).startswith("presets/acme.yml: framework: 'flask' is not an option")


def test_preset_outside_cwd_is_named_by_absolute_path(tmp_path):
    acme = _write(tmp_path / "acme.yml", "cache: redis-cluster\n")
    with pytest.raises(BlueprintError) as caught:
        build_blueprint(load_preset(str(acme)))
    assert caught.value.problems[0].source == str(acme.resolve())


def test_list_value_for_a_choice_is_a_problem_not_a_crash(tmp_path):
    acme = _write(tmp_path / "acme.yml", "queue: [celery]\n")
    with pytest.raises(BlueprintError) as caught:
        build_blueprint(load_preset(str(acme)))
    assert caught.value.problems[0].key == "queue"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("framework: fastapi\nqueue: [celery,\ncache: redis\n", 4),
        ("framework: fastapi\n  queue: celery\n", 2),
        ("framework: fastapi\nframework: django\n", 2),
    ],
    ids=["unclosed-list", "bad-indent", "duplicate-key"],
)
def test_invalid_yaml_reports_the_line(tmp_path, text, line):
    path = _write(tmp_path / "broken.yml", text)
    with pytest.raises(PresetError) as caught:
        read_document(path)
    message = str(caught.value)
    assert message.startswith(f"{path} (line {line}) is not valid YAML")


@pytest.mark.parametrize(
    "text", ["- fastapi\n- celery\n", "just text\n", "42\n"], ids=["list", "string", "number"]
)
def test_non_mapping_yaml_is_refused(tmp_path, text):
    path = _write(tmp_path / "odd.yml", text)
    with pytest.raises(PresetError, match="must be a YAML mapping"):
        load_preset(str(path))
    with pytest.raises(PresetError, match="must be a YAML mapping"):
        load_answers(path)


def test_empty_file_is_an_empty_layer(tmp_path):
    path = _write(tmp_path / "empty.yml", "# nothing decided yet\n")
    assert load_answers(path).values == {}
    assert load_preset(str(path))[-1].values == {}


def test_unreadable_file(tmp_path):
    with pytest.raises(PresetError, match="cannot read"):
        read_document(tmp_path)


# --------------------------------------------------------------------------- answers files


def test_load_answers_ignores_copier_keys(tmp_path):
    path = _write(
        tmp_path / ".copier-answers.yml",
        """\
        # Changes here will be overwritten by Copier
        _commit: v0.1.0
        _src_path: gh:acme/scalekit
        project_name: other-service
        queue: dramatiq
        modules:
          - accounts
          - billing
        """,
    )
    layer = load_answers(path)
    assert layer.source == str(path)
    assert layer.values == {
        "project_name": "other-service",
        "queue": "dramatiq",
        "modules": ["accounts", "billing"],
    }
    assert type(layer.values["modules"]) is list
    assert build_blueprint([layer])["modules"] == ("accounts", "billing")


def test_load_answers_custom_source(tmp_path):
    path = _write(tmp_path / "a.yml", "queue: rq\n")
    assert load_answers(path, source="answers").source == "answers"


def test_answers_file_cannot_extend(tmp_path):
    path = _write(tmp_path / "a.yml", "extends: fastapi-async\n")
    with pytest.raises(PresetError, match="'extends' only works in presets"):
        load_answers(path)


# --------------------------------------------------------------------------- derive_preset


def _comment_lines(text: str) -> list[str]:
    return [line[line.index("#") :].rstrip() for line in text.splitlines() if "#" in line]


@pytest.mark.parametrize("name", SHIPPED)
def test_derive_preset_keeps_every_comment(name):
    original = (presets_dir() / f"{name}.yml").read_text(encoding="utf-8")
    assert _comment_lines(original), f"{name} has no comments to keep"
    changes = {"queue": "celery", "concurrency": "sync", "target_users": 5000}
    derived = derive_preset(name, changes, target=Path("new.yml"))

    before = yaml.safe_load(original)
    changed = [key for key, value in changes.items() if key in before and before[key] != value]
    kept = "\n".join(line for line in original.splitlines() if not line.startswith(tuple(changed)))
    for comment in _comment_lines(kept):  # a changed value's own comment may go
        assert comment in derived, comment
    values = yaml.safe_load(derived)
    assert values["queue"] == "celery"
    assert values["concurrency"] == "sync"
    assert values["target_users"] == 5000
    assert any(line.startswith("queue: celery") for line in derived.splitlines())
    build_blueprint([AnswerLayer("derived", values)])


def test_derive_preset_keeps_key_order_and_appends_new_keys():
    derived = derive_preset(
        "lean-api", {"cache": "none", "target_users": 5000}, target=Path("new.yml")
    )
    keys = [line.split(":")[0] for line in derived.splitlines() if line and line[0].isalpha()]
    original = yaml.safe_load((presets_dir() / "lean-api.yml").read_text(encoding="utf-8"))
    assert keys == [*original, "target_users"]


def test_derive_preset_keeps_what_the_base_extends(tmp_path):
    base = _write(tmp_path / "acme.yml", "# Acme standard\nextends: fastapi-sync\nci: gitlab\n")
    derived = derive_preset(str(base), {"cache": "none"}, target=tmp_path / "team.yml")
    assert yaml.safe_load(derived)["extends"] == "fastapi-sync"  # a shipped name stays a name
    assert "# Acme standard" in derived


def test_derive_preset_rebases_a_relative_extends(tmp_path):
    _write(tmp_path / "org" / "base.yml", "framework: django\n")
    child = _write(tmp_path / "org" / "acme.yml", "extends: base.yml\nci: gitlab\n")
    target = tmp_path / "teams" / "payments" / "preset.yml"
    derived = derive_preset(str(child), {"cache": "none"}, target=target)
    assert yaml.safe_load(derived)["extends"] == "../../org/base.yml"


def test_derive_preset_without_a_base():
    derived = derive_preset(
        None, {"framework": "django", "modules": ["accounts"]}, target=Path("new.yml")
    )
    assert yaml.safe_load(derived) == {"framework": "django", "modules": ["accounts"]}


# --------------------------------------------------------------------------- --set and layering


def test_parse_set_options():
    layer = parse_set_options(["queue=celery", " cache = none ", "owners=*:@a/b,x:@c", "ci="])
    assert layer.source == "--set"
    assert layer.values == {"queue": "celery", "cache": "none", "owners": "*:@a/b,x:@c", "ci": ""}


@pytest.mark.parametrize("pair", ["novalue", "=celery", " =x"], ids=repr)
def test_parse_set_options_rejects_malformed_pairs(pair):
    with pytest.raises(PresetError, match="KEY=VALUE") as caught:
        parse_set_options(["queue=celery", pair])
    assert repr(pair) in str(caught.value)


def test_parse_set_options_later_flag_wins():
    assert parse_set_options(["queue=rq", "queue=celery"]).values == {"queue": "celery"}


def test_collect_layers_precedence(tmp_path):
    answers = _write(tmp_path / "answers.yml", "project_name: copied\ncache: none\nqueue: rq\n")
    layers = collect_layers(
        preset="fastapi-sync",
        answers_file=answers,
        sets=["cache=memcached"],
        project_name="dest-dir",
    )
    assert [layer.source for layer in layers] == [
        "preset fastapi-sync",
        str(answers),
        "destination name",
        "--set",
    ]
    blueprint = build_blueprint(layers)
    assert blueprint["project_name"] == "dest-dir"
    assert blueprint["cache"] == "memcached"
    assert blueprint["queue"] == "rq"
    assert blueprint["framework"] == "fastapi"


def test_set_beats_destination_name():
    layers = collect_layers(project_name="dest-dir", sets=["project_name=chosen"])
    assert build_blueprint(layers)["project_name"] == "chosen"


def test_collect_layers_with_nothing():
    assert collect_layers() == []


def test_derive_preset_drops_only_the_comment_of_a_changed_value():
    text = derive_preset(
        "fastapi-async", {"concurrency": "sync", "queue": "celery"}, target=Path("new.yml")
    )
    lines = text.splitlines()
    assert "concurrency: sync" in lines  # its comment described async
    assert "queue: celery" in lines
    assert any(line.startswith("pooling: pgbouncer-transaction") for line in lines)
    assert "read_replicas: 0          # reads already go through the repository" in text
    assert text.startswith("# FastAPI, async all the way down")


def test_load_answers_leaves_out_what_the_file_marks_as_defaulted(tmp_path):
    path = _write(
        tmp_path / ".copier-answers.yml",
        "_src_path: x\nowners:\n  '*': '@other/backend'\ncache: memcached\n"
        "_scalekit_defaulted:\n- owners\n",
    )
    assert load_answers(path).values == {"cache": "memcached"}


def test_load_answers_refuses_a_defaulted_marker_that_is_not_a_list(tmp_path):
    path = _write(tmp_path / "a.yml", "_scalekit_defaulted: owners\n")
    with pytest.raises(PresetError, match="must be a list"):
        load_answers(path)


def test_values_are_plain_python_not_ruamel_nodes(tmp_path):
    path = _write(tmp_path / "a.yml", "read_replicas: 2\nflag: true\nratio: 1.5\nname: 'x'\n")
    values = load_answers(path).values
    assert [type(values[k]) for k in ("read_replicas", "flag", "ratio", "name")] == [
        int,
        bool,
        float,
        str,
    ]
