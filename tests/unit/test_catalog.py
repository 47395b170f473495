"""The decision catalog as data: completeness, defaults, rule queries and naming helpers."""

from __future__ import annotations

import itertools
import keyword

import pytest

from scalekit_gen import catalog
from scalekit_gen.blueprint import AnswerLayer, build_blueprint, coerce, plain
from scalekit_gen.catalog import (
    CONSEQUENCES,
    DECISION_LIST,
    DECISIONS,
    RECORD_NUMBERS,
    REQUIREMENTS,
    Cost,
    Decision,
    Kind,
)
from scalekit_gen.catalog.types import Option, Reversal

OPTION_KINDS = (Kind.CHOICE, Kind.MULTI)
FRAMEWORKS = DECISIONS["framework"].values
CONCURRENCIES = DECISIONS["concurrency"].values
EARLY_COMBOS = [
    pytest.param({"framework": fw, "concurrency": conc}, id=f"{fw}-{conc}")
    for fw, conc in itertools.product(FRAMEWORKS, CONCURRENCIES)
]


def _options():
    for decision in DECISION_LIST:
        for option in decision.options:
            yield pytest.param(decision, option, id=f"{decision.key}={option.value}")


# --------------------------------------------------------------------------- shape


def test_catalog_keys_are_unique_and_indexed():
    keys = [decision.key for decision in DECISION_LIST]
    assert len(keys) == len(set(keys))
    assert list(DECISIONS) == keys


@pytest.mark.parametrize("decision", DECISION_LIST, ids=lambda d: d.key)
def test_decision_is_fully_described(decision):
    assert decision.key.isidentifier()
    assert decision.title.strip()
    assert decision.question.strip().endswith("?")
    assert decision.context.strip()
    assert isinstance(decision.kind, Kind)


@pytest.mark.parametrize("decision", DECISION_LIST, ids=lambda d: d.key)
def test_options_exist_exactly_for_choice_kinds(decision):
    if decision.kind in OPTION_KINDS:
        assert decision.options, f"{decision.key} is a {decision.kind} without options"
        assert len(decision.values) == len(set(decision.values))
    else:
        assert decision.options == ()
        assert decision.reversal is not None, f"{decision.key} has no reversal cost"
        assert isinstance(decision.reversal.cost, Cost)
        assert decision.reversal.reason.strip()


@pytest.mark.parametrize(("decision", "option"), list(_options()))
def test_every_option_says_when_and_what_reversal_costs(decision, option):
    assert decision.kind in OPTION_KINDS
    assert option.value == option.value.strip().lower()
    assert option.choose_when.strip()
    assert isinstance(option.reversal.cost, Cost)
    assert option.reversal.reason.strip()
    assert decision.option(option.value) is option


def _choice(*options: Option, option_reversal: Reversal | None = None) -> Decision:
    return Decision(
        key="x",
        title="X",
        question="X?",
        context="why x matters",
        kind=Kind.CHOICE,
        default="a",
        options=options,
        option_reversal=option_reversal,
    )


def test_option_without_its_own_reversal_inherits_its_decisions():
    shared = Reversal(Cost.MEDIUM, "shared by the options")
    own = Reversal(Cost.HIGH, "this option's own")
    decision = _choice(Option("a", "when a"), Option("b", "when b", own), option_reversal=shared)
    assert decision.option("a").reversal is shared
    assert decision.option("b").reversal is own


def test_catalog_options_inherit_their_decisions_reversal():
    framework = DECISIONS["framework"]
    assert framework.option_reversal is not None
    assert framework.option_reversal.cost is Cost.MAJOR
    assert all(option.reversal is framework.option_reversal for option in framework.options)


def test_option_without_any_reversal_is_refused():
    with pytest.raises(ValueError, match=r"x: \['a'\] have no reversal"):
        _choice(Option("a", "when a"), Option("b", "when b", Reversal(Cost.LOW, "b")))


@pytest.mark.parametrize("decision", DECISION_LIST, ids=lambda d: d.key)
def test_options_write_a_shared_reversal_once(decision):
    own = [
        option.reversal.reason
        for option in decision.options
        if option.reversal is not decision.option_reversal
    ]
    assert len(own) == len(set(own)), f"{decision.key}: options repeat a reversal text"
    if decision.option_reversal is not None:
        assert decision.option_reversal.reason not in own
        assert len(own) < len(decision.options), f"{decision.key}: no option inherits"


def test_option_lookup_of_unknown_value_raises_key_error():
    with pytest.raises(KeyError, match="queue has no option 'kafka'"):
        DECISIONS["queue"].option("kafka")


def test_cost_rank_follows_declaration_order():
    assert [cost.rank for cost in Cost] == list(range(len(Cost)))
    assert Cost.LOW.rank < Cost.MEDIUM.rank < Cost.HIGH.rank < Cost.MAJOR.rank
    assert Cost.CATASTROPHIC.rank == max(cost.rank for cost in Cost)


@pytest.mark.parametrize("decision", DECISION_LIST, ids=lambda d: d.key)
def test_notes_accompany_computed_defaults_and_conditions(decision):
    assert bool(decision.default_note) == decision.has_computed_default
    assert bool(decision.applies_note) == (decision.applies is not None)


@pytest.mark.parametrize("decision", DECISION_LIST, ids=lambda d: d.key)
def test_refused_values_are_not_options_and_explain_themselves(decision):
    for value, message in decision.refused.items():
        assert value not in decision.values
        assert value in message


@pytest.mark.parametrize("decision", DECISION_LIST, ids=lambda d: d.key)
def test_integer_bounds(decision):
    if decision.kind is Kind.INTEGER:
        assert decision.minimum is not None and decision.maximum is not None
        assert decision.minimum <= decision.default <= decision.maximum
    elif decision.kind is Kind.NAMES:  # how many names: one template slot each
        assert decision.minimum is None and decision.maximum is not None
        assert len(decision.default) <= decision.maximum
    else:
        assert decision.minimum is None and decision.maximum is None


# The numbers projects were rendered with before `auth` joined the catalog: a record keeps its
# file name across `scalekit update`, so these never change; a new decision takes the next one.
_FIRST_RECORD_NUMBERS = [
    "framework",
    "concurrency",
    "database",
    "read_replicas",
    "pooling",
    "queue",
    "broker",
    "cache",
    "observability",
    "load_tests",
    "deploy",
    "ci",
    "modules",
    "owners",
    "target_users",
    "peak_rps",
]


def test_record_numbers_never_change_meaning():
    recorded = {d.key for d in DECISION_LIST if d.recorded}
    assert set(RECORD_NUMBERS) == recorded
    assert sorted(RECORD_NUMBERS.values()) == list(range(1, len(recorded) + 1))
    assert "project_name" not in RECORD_NUMBERS
    for number, key in enumerate(_FIRST_RECORD_NUMBERS, start=1):
        assert RECORD_NUMBERS[key] == number, key
    assert RECORD_NUMBERS["auth"] == len(_FIRST_RECORD_NUMBERS) + 1


@pytest.mark.parametrize("rule", REQUIREMENTS, ids=lambda r: f"{r.key}={r.value}->{r.other}")
def test_requirements_name_real_decisions_and_options(rule):
    assert rule.value in DECISIONS[rule.key].values
    assert rule.allowed
    assert set(rule.allowed) <= set(DECISIONS[rule.other].values)
    assert set(rule.allowed) != set(DECISIONS[rule.other].values), "a rule that allows all"
    assert rule.why.strip()


def test_consequences_are_those_written_beside_the_decisions_in_catalog_order():
    written = tuple(c for decision in DECISION_LIST for c in decision.consequences)
    assert written == CONSEQUENCES


@pytest.mark.parametrize("consequence", CONSEQUENCES, ids=lambda c: ",".join(c.when))
def test_consequences_name_real_decisions_and_options(consequence):
    assert consequence.note.strip()
    for key, values in consequence.when.items():
        assert set(values) <= set(DECISIONS[key].values), key


# --------------------------------------------------------------------------- defaults


@pytest.mark.parametrize("earlier", EARLY_COMBOS)
@pytest.mark.parametrize("decision", DECISION_LIST, ids=lambda d: d.key)
def test_default_is_a_valid_value(decision, earlier):
    default = decision.default_for(earlier)
    assert coerce(decision, plain(default)) == coerce(decision, default)
    fitted = catalog.fitting_default(decision.key, earlier)
    coerce(decision, plain(fitted))
    if decision.kind is Kind.CHOICE:
        assert fitted in catalog.allowed_values(decision.key, earlier)


@pytest.mark.parametrize("earlier", EARLY_COMBOS)
def test_defaults_for_every_framework_and_concurrency_build(earlier):
    blueprint = build_blueprint([AnswerLayer("--set", earlier)])
    for key, value in earlier.items():
        assert blueprint[key] == value


@pytest.mark.parametrize(
    ("framework", "concurrency", "queue"),
    [
        ("fastapi", "async", "taskiq"),
        ("fastapi", "sync", "celery"),
        ("django", "sync", "celery"),
        ("django", "async", "celery"),
    ],
    ids=lambda v: v,
)
def test_queue_default_follows_framework_and_concurrency(framework, concurrency, queue):
    answers = {"framework": framework, "concurrency": concurrency}
    assert DECISIONS["queue"].default_for(answers) == queue
    blueprint = build_blueprint([AnswerLayer("--set", answers)])
    assert blueprint["queue"] == queue
    assert blueprint.sources["queue"] == "default"


@pytest.mark.parametrize(
    ("answers", "queue"),
    [({}, "taskiq"), ({"framework": "fastapi"}, "taskiq"), ({"framework": "django"}, "celery")],
    ids=["nothing", "fastapi", "django"],
)
def test_queue_default_assumes_concurrency_default_when_unanswered(answers, queue):
    assert DECISIONS["queue"].default_for(answers) == queue


@pytest.mark.parametrize(
    ("answers", "concurrency"),
    [({}, "async"), ({"framework": "fastapi"}, "async"), ({"framework": "django"}, "sync")],
    ids=["nothing", "fastapi", "django"],
)
def test_concurrency_default_follows_framework(answers, concurrency):
    assert DECISIONS["concurrency"].default_for(answers) == concurrency


def test_owners_default_uses_project_slug():
    owners = DECISIONS["owners"]
    assert owners.default_for({"project_name": "Acme Shop!"}) == {"*": "@acme-shop/backend"}
    assert owners.default_for({}) == {"*": "@service/backend"}


def test_broker_applies_only_with_a_queue():
    broker = DECISIONS["broker"]
    assert broker.applies_to({"queue": "celery"})
    assert not broker.applies_to({"queue": "none"})
    assert DECISIONS["framework"].applies_to({})


@pytest.mark.parametrize(
    ("key", "answers", "expected"),
    [
        ("concurrency", {"queue": "rq"}, "sync"),
        ("concurrency", {"queue": "taskiq", "framework": "django"}, "async"),
        ("queue", {"framework": "fastapi", "concurrency": "async"}, "taskiq"),
        ("broker", {"queue": "rq"}, "redis"),
    ],
    ids=["rq-gets-sync", "taskiq-gets-async", "plain-default", "default-already-fits"],
)
def test_fitting_default_avoids_a_refused_default(key, answers, expected):
    assert catalog.fitting_default(key, answers) == expected
    assert not catalog.conflicts(key, expected, answers)


# --------------------------------------------------------------------------- rule queries


@pytest.mark.parametrize(
    ("key", "answers", "expected"),
    [
        (
            "queue",
            {"framework": "fastapi", "concurrency": "async"},
            ("celery", "dramatiq", "taskiq", "none"),
        ),
        (
            "queue",
            {"framework": "fastapi", "concurrency": "sync"},
            ("celery", "dramatiq", "rq", "none"),
        ),
        ("queue", {"framework": "django", "concurrency": "async"}, ("celery", "dramatiq", "none")),
        # queue: none is fine: the broker then does not apply at all
        ("queue", {"broker": "rabbitmq", "concurrency": "sync"}, ("celery", "dramatiq", "none")),
        ("concurrency", {"queue": "taskiq"}, ("async",)),
        ("concurrency", {"queue": "rq"}, ("sync",)),
        ("concurrency", {"queue": "celery"}, ("async", "sync")),
        ("framework", {"queue": "taskiq"}, ("fastapi",)),
        ("broker", {"queue": "rq"}, ("redis",)),
        ("broker", {"queue": "celery"}, ("redis", "rabbitmq")),
        ("cache", {}, DECISIONS["cache"].values),
    ],
    ids=[
        "queue-fastapi-async",
        "queue-fastapi-sync",
        "queue-django-async",
        "queue-rabbitmq-sync",
        "concurrency-taskiq",
        "concurrency-rq",
        "concurrency-celery",
        "framework-taskiq",
        "broker-rq",
        "broker-celery",
        "cache-unconstrained",
    ],
)
def test_allowed_values(key, answers, expected):
    assert catalog.allowed_values(key, answers) == expected


def test_conflicts_names_the_rule_from_either_side():
    from_queue = catalog.conflicts("queue", "rq", {"concurrency": "async"})
    from_concurrency = catalog.conflicts("concurrency", "async", {"queue": "rq"})
    assert len(from_queue) == 1
    assert from_queue == from_concurrency
    assert "queue: rq needs concurrency: sync" in from_queue[0]
    assert "concurrency is async" in from_queue[0]
    assert "Fix:" in from_queue[0]


def test_conflicts_lists_every_broken_rule():
    messages = catalog.conflicts("queue", "taskiq", {"framework": "django", "concurrency": "sync"})
    assert len(messages) == 2
    assert any("framework: fastapi" in m for m in messages)
    assert any("concurrency: async" in m for m in messages)


def test_no_conflicts_for_a_fitting_value_or_unrelated_key():
    assert catalog.conflicts("queue", "celery", {"concurrency": "async"}) == []
    assert catalog.conflicts("cache", "none", {"queue": "rq", "concurrency": "async"}) == []


def test_rule_ignores_an_inapplicable_other_answer():
    rule = next(r for r in REQUIREMENTS if r.key == "broker")
    assert not rule.violated_by({"broker": "rabbitmq", "queue": None})
    assert not rule.violated_by({"broker": "rabbitmq"})
    assert rule.violated_by({"broker": "rabbitmq", "queue": "rq"})


def test_consequences_for_selects_matching_notes():
    notes = catalog.consequences_for(
        {
            "framework": "fastapi",
            "concurrency": "async",
            "pooling": "pgbouncer-transaction",
            "cache": "redis",
        }
    )
    assert any("statement_cache_size=0" in note for note in notes)
    assert not any("psycopg 3" in note for note in notes)
    assert not any("Redis still runs" in note for note in notes)


# --------------------------------------------------------------------------- naming helpers


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("Acme Shop!", "acme-shop"),
        ("  --Hello__World--  ", "hello-world"),
        ("my-service", "my-service"),
        ("a   b", "a-b"),
        ("ÀBC", "abc"),
        ("Ça va", "ca-va"),
        ("日本", ""),
        ("!!!", ""),
        ("", ""),
        ("2fast", "2fast"),
        ("Class", "class"),
    ],
    ids=[
        "punctuation",
        "edge-dashes",
        "already-slug",
        "collapsed",
        "leading-unicode",
        "unicode-inside",
        "only-unicode",
        "only-punctuation",
        "empty",
        "leading-digit",
        "keyword",
    ],
)
def test_slugify(text, slug):
    assert catalog.slugify(text) == slug


@pytest.mark.parametrize(
    ("slug", "package"),
    [
        ("acme-shop", "acme_shop"),
        ("2fast", "svc_2fast"),
        ("123", "svc_123"),
        ("class", "class_svc"),
        ("import", "import_svc"),
        ("none", "none"),
        ("a-b-c", "a_b_c"),
    ],
    ids=[
        "dashes",
        "leading-digit",
        "all-digits",
        "keyword",
        "keyword-import",
        "not-keyword",
        "many-dashes",
    ],
)
def test_package_name(slug, package):
    assert catalog.package_name(slug) == package
    assert package.isidentifier()
    assert not keyword.iskeyword(package)


@pytest.mark.parametrize(
    "text",
    ["Acme Shop!", "2 Fast 2 Furious", "class", "For", "Ça va 123", "x" * 80, "9"],
)
def test_package_name_of_any_slug_is_importable(text):
    name = catalog.package_name(catalog.slugify(text))
    assert name.isidentifier()
    assert not keyword.iskeyword(name)


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("Billing", "lowercase Python identifier"),
        ("1billing", "lowercase Python identifier"),
        ("bill-ing", "lowercase Python identifier"),
        ("_private", "lowercase Python identifier"),
        ("café", "lowercase Python identifier"),
        ("", "lowercase Python identifier"),
        ("class", "Python keyword"),
        ("import", "Python keyword"),
        *[
            (name, "used by the generated project")
            for name in sorted(catalog.RESERVED_MODULE_NAMES)
        ],
    ],
    ids=lambda v: v if isinstance(v, str) and " " not in v else None,
)
def test_module_name_problem(name, fragment):
    problem = catalog.module_name_problem(name)
    assert problem is not None
    assert fragment in problem
    assert repr(name) in problem


@pytest.mark.parametrize("name", ["billing", "accounts", "billing_v2", "a", "catalog"])
def test_module_name_problem_accepts_domain_names(name):
    assert catalog.module_name_problem(name) is None


def test_default_modules_are_valid_names():
    for name in DECISIONS["modules"].default:
        assert catalog.module_name_problem(name) is None
