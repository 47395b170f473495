"""Rules between decisions, derived from the catalog: every refusal names both choices and a fix."""

from __future__ import annotations

import itertools

import pytest

from scalekit_gen.blueprint import AnswerLayer, build_blueprint
from scalekit_gen.catalog import DECISION_LIST, DECISIONS, REQUIREMENTS, Requirement
from scalekit_gen.errors import BlueprintError, Problem

RULE_KEYS = ("framework", "concurrency", "queue", "broker")


def _refused_cases():
    """For every rule, each value of `other` outside `allowed` that keeps the rule in force."""
    for rule in REQUIREMENTS:
        for other_value in DECISIONS[rule.other].values:
            if other_value in rule.allowed:
                continue
            if not DECISIONS[rule.key].applies_to({rule.other: other_value}):
                continue  # e.g. broker with queue: none is not asked at all
            yield pytest.param(
                rule,
                {rule.key: rule.value, rule.other: other_value},
                id=f"{rule.key}={rule.value}+{rule.other}={other_value}",
            )


REFUSED_CASES = list(_refused_cases())


def _combos() -> list[dict[str, str]]:
    """Every applicable combination of framework × concurrency × queue × broker."""
    combos = []
    for framework, concurrency, queue in itertools.product(
        DECISIONS["framework"].values, DECISIONS["concurrency"].values, DECISIONS["queue"].values
    ):
        answers = {"framework": framework, "concurrency": concurrency, "queue": queue}
        if DECISIONS["broker"].applies_to(answers):
            combos.extend({**answers, "broker": b} for b in DECISIONS["broker"].values)
        else:
            combos.append(answers)
    return combos


COMBOS = _combos()


def _combo_id(combo: dict[str, str]) -> str:
    return "-".join(combo[key] for key in RULE_KEYS if key in combo)


def _broken_rules(combo: dict[str, str]) -> list[Requirement]:
    return [rule for rule in REQUIREMENTS if rule.violated_by(combo)]


def _builds(combo: dict[str, str]) -> bool:
    try:
        build_blueprint([AnswerLayer("--set", combo)])
    except BlueprintError:
        return False
    return True


def test_rules_are_the_needs_written_on_options_in_catalog_order():
    written = [
        (decision.key, option.value, need.other, need.allowed, need.why)
        for decision in DECISION_LIST
        for option in decision.options
        for need in option.requires
    ]
    assert written, "no option needs anything: the rules test nothing"
    assert [(r.key, r.value, r.other, r.allowed, r.why) for r in REQUIREMENTS] == written


def test_every_rule_has_a_refused_case():
    ruled = {id(case.values[0]) for case in REFUSED_CASES}
    assert ruled == {id(rule) for rule in REQUIREMENTS}


@pytest.mark.parametrize(("rule", "answers"), REFUSED_CASES)
def test_refused_combination_names_both_choices_and_a_fix(rule, answers):
    with pytest.raises(BlueprintError) as caught:
        build_blueprint([AnswerLayer("--set", answers)])

    other_value = answers[rule.other]
    problems = [
        p for p in caught.value.problems if p.message.startswith(f"{rule.key}: {rule.value}")
    ]
    assert len(problems) == 1, caught.value.problems
    problem = problems[0]
    assert problem.key == rule.key
    assert problem.source == "--set"
    message = str(problem)
    assert f"{rule.key}: {rule.value}" in message
    assert f"{rule.other} is {other_value}" in message
    assert f"{rule.other}: {rule.allowed[0]}" in message
    assert rule.why in message
    assert "Fix: set " in message
    assert message in str(caught.value)


@pytest.mark.parametrize(("rule", "answers"), REFUSED_CASES)
def test_both_ways_out_named_by_the_fix_build(rule, answers):
    with pytest.raises(BlueprintError) as caught:
        build_blueprint([AnswerLayer("--set", answers)])
    problem = next(p for p in caught.value.problems if p.key == rule.key)
    fix = problem.message.split("Fix: ", 1)[1]
    assert fix.startswith(f"set {rule.other}: {rule.allowed[0]}, or choose {rule.key}: ")
    offered = fix.split(f", or choose {rule.key}: ", 1)[1].split(" / ")
    assert rule.value not in offered
    assert set(offered) <= set(DECISIONS[rule.key].values)

    build_blueprint([AnswerLayer("--set", {**answers, rule.other: rule.allowed[0]})])
    for value in offered:
        build_blueprint([AnswerLayer("--set", {**answers, rule.key: value})])


def test_rule_problem_blames_both_sources_when_they_differ():
    layers = [
        AnswerLayer("presets/acme.yml", {"queue": "rq"}),
        AnswerLayer("--set", {"concurrency": "async"}),
    ]
    with pytest.raises(BlueprintError) as caught:
        build_blueprint(layers)
    (problem,) = caught.value.problems
    assert problem.source == "queue from presets/acme.yml, concurrency from --set"
    assert str(problem).startswith("queue from presets/acme.yml, concurrency from --set: queue: rq")


def test_default_is_not_blamed_when_only_one_side_was_given():
    layers = [AnswerLayer("presets/acme.yml", {"queue": "taskiq", "framework": "django"})]
    with pytest.raises(BlueprintError) as caught:
        build_blueprint(layers)
    assert [p.source for p in caught.value.problems] == ["presets/acme.yml"]


@pytest.mark.parametrize("raw", ["memcached", "Memcached", " memcached "], ids=repr)
def test_memcached_is_never_a_broker(raw):
    with pytest.raises(BlueprintError) as caught:
        build_blueprint([AnswerLayer("--set", {"queue": "celery", "broker": raw})])
    (problem,) = caught.value.problems
    assert problem.key == "broker"
    assert problem.source == "--set"
    assert "memcached" in problem.message
    assert "never a broker" in problem.message
    assert "broker: redis" in problem.message
    assert "broker: rabbitmq" in problem.message


def test_combination_space_is_non_trivial():
    refused = [c for c in COMBOS if _broken_rules(c)]
    assert refused, "no combination is refused: the rules test nothing"
    assert len(refused) < len(COMBOS)


def test_refused_combinations_are_exactly_those_a_rule_explains():
    by_rules = {_combo_id(c) for c in COMBOS if _broken_rules(c)}
    by_blueprint = {_combo_id(c) for c in COMBOS if not _builds(c)}
    assert by_blueprint == by_rules


@pytest.mark.parametrize("combo", COMBOS, ids=_combo_id)
def test_combination_builds_unless_a_rule_refuses_it(combo):
    broken = _broken_rules(combo)
    if not broken:
        blueprint = build_blueprint([AnswerLayer("--set", combo)])
        for key in RULE_KEYS:
            assert blueprint[key] == combo.get(key)
        return
    with pytest.raises(BlueprintError) as caught:
        build_blueprint([AnswerLayer("--set", combo)])
    assert sorted(p.message for p in caught.value.problems) == sorted(
        rule.message(combo) for rule in broken
    )


# --------------------------------------------------------------------------- problem reporting


def test_all_problems_are_reported_at_once():
    layer = AnswerLayer("--set", {"quue": "celery", "framework": "flask", "target_users": "lots"})
    with pytest.raises(BlueprintError) as caught:
        build_blueprint([layer])
    error = caught.value
    assert [p.key for p in error.problems] == ["quue", "framework", "target_users"]
    assert str(error).startswith("3 problems with the answers:")
    assert "did you mean queue?" in error.problems[0].message
    assert "fastapi, django" in error.problems[1].message
    assert "10k" in error.problems[2].message


def test_problems_from_several_layers_carry_their_own_source():
    layers = [
        AnswerLayer("presets/acme.yml", {"framework": "flask", "cache": "redis"}),
        AnswerLayer("--set", {"read_replicas": "99"}),
    ]
    with pytest.raises(BlueprintError) as caught:
        build_blueprint(layers)
    sources = {p.key: p.source for p in caught.value.problems}
    assert sources == {"framework": "presets/acme.yml", "read_replicas": "--set"}
    text = str(caught.value)
    assert "presets/acme.yml: framework: 'flask' is not an option" in text
    assert "--set: read_replicas: 99 is out of range — use a number from 0 to 15" in text


def test_one_problem_is_singular():
    with pytest.raises(BlueprintError, match=r"^1 problem with the answers:"):
        build_blueprint([AnswerLayer("--set", {"ci": "jenkins"})])


def test_unknown_key_without_a_close_match_lists_known_decisions():
    with pytest.raises(BlueprintError) as caught:
        build_blueprint([AnswerLayer("--set", {"zzzzzz": "1"})])
    message = caught.value.problems[0].message
    assert "did you mean" not in message
    for key in DECISIONS:
        assert key in message


@pytest.mark.parametrize(
    ("problem", "text"),
    [
        (Problem("queue", "queue: rq needs x", "--set"), "--set: queue: rq needs x"),
        (Problem("queue", "is wrong", "--set"), "--set: queue: is wrong"),
        (Problem("queue", "is wrong"), "queue: is wrong"),
    ],
    ids=["rule-message-keeps-one-key", "value-message-gets-key", "no-source"],
)
def test_problem_text(problem, text):
    assert str(problem) == text
