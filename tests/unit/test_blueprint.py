"""Coercion, layering, defaults and derived values of the Blueprint."""

from __future__ import annotations

import dataclasses

import pytest

from scalekit_gen.blueprint import (
    DEFAULT_SOURCE,
    NOT_APPLICABLE,
    AnswerLayer,
    Blueprint,
    build_blueprint,
    coerce,
    complete,
    pending,
    plain,
    resolve,
)
from scalekit_gen.catalog import DECISION_LIST, DECISIONS
from scalekit_gen.errors import BlueprintError, MissingAnswersError


def _build(**values) -> Blueprint:
    return build_blueprint([AnswerLayer("--set", values)])


def _cases(rows):
    """(key, raw, ...) rows as params named key=raw."""
    return [pytest.param(*row, id=f"{row[0]}={row[1]!r}") for row in rows]


# --------------------------------------------------------------------------- coercion


@pytest.mark.parametrize(
    ("key", "raw", "expected"),
    _cases(
        [
            # TEXT
            ("project_name", "Acme Shop", "Acme Shop"),
            ("project_name", "  acme  ", "acme"),
            # CHOICE
            ("queue", "celery", "celery"),
            ("queue", " Celery ", "celery"),
            ("framework", "FastAPI", "fastapi"),
            ("pooling", "app-pool-only", "app-pool-only"),
            # MULTI
            ("observability", "prometheus,sentry", ("prometheus", "sentry")),
            ("observability", "sentry, prometheus", ("prometheus", "sentry")),
            ("observability", "opentelemetry,opentelemetry", ("opentelemetry",)),
            ("observability", ["sentry", "opentelemetry"], ("sentry", "opentelemetry")),
            ("observability", ("prometheus",), ("prometheus",)),
            ("observability", "", ()),
            ("observability", [], ()),
            # INTEGER
            ("target_users", "10k", 10_000),
            ("target_users", "10K", 10_000),
            ("target_users", "2m", 2_000_000),
            ("target_users", "1.5k", 1_500),
            ("target_users", "1_000", 1_000),
            ("target_users", "1,000", 1_000),
            ("target_users", " 250 ", 250),
            ("target_users", 5000, 5000),
            ("peak_rps", "0", 0),
            ("read_replicas", 15, 15),
            # NAMES
            ("modules", "accounts,billing", ("accounts", "billing")),
            ("modules", " accounts , billing, ", ("accounts", "billing")),
            ("modules", ["accounts", "billing"], ("accounts", "billing")),
            ("modules", "billing_v2", ("billing_v2",)),
            # OWNERS
            (
                "owners",
                "*:@acme/backend,billing:@acme/pay",
                {"*": "@acme/backend", "billing": "@acme/pay"},
            ),
            ("owners", " * : @acme/backend ", {"*": "@acme/backend"}),
            ("owners", {"*": "@alice"}, {"*": "@alice"}),
            ("owners", {"billing": "pay-team@acme.com"}, {"billing": "pay-team@acme.com"}),
            ("owners", {"*": "@acme.io/back-end_1"}, {"*": "@acme.io/back-end_1"}),
        ]
    ),
)
def test_coerce_accepts(key, raw, expected):
    assert coerce(DECISIONS[key], raw) == expected


@pytest.mark.parametrize(
    ("key", "raw", "fragments"),
    _cases(
        [
            ("project_name", "", ["non-empty text"]),
            ("project_name", "   ", ["non-empty text"]),
            ("project_name", 42, ["non-empty text"]),
            ("project_name", "!!!", ["no letters or digits"]),
            ("project_name", "日本", ["no letters or digits"]),
            ("queue", "kafka", ["'kafka' is not an option", "celery, dramatiq, rq, taskiq, none"]),
            ("queue", True, ["not an option", "celery"]),
            ("queue", None, ["not an option", "celery"]),
            ("queue", ["celery"], ["not an option", "celery"]),
            ("queue", {"celery": 1}, ["not an option", "celery"]),
            ("observability", "prometheus,datadog", ["'datadog' is not an option", "prometheus"]),
            ("observability", [["sentry"]], ["not an option", "sentry"]),
            ("observability", 3, ["list", "comma-separated"]),
            ("target_users", "lots", ["'lots' is not a whole number", "10k", "2m"]),
            ("target_users", "1.5", ["not a whole number"]),
            ("target_users", "k", ["not a whole number"]),
            ("target_users", "", ["not a whole number"]),
            ("target_users", "nank", ["not a whole number"]),
            ("target_users", "infk", ["not a whole number"]),
            ("target_users", "1e400k", ["not a whole number"]),
            ("target_users", 2.5, ["not a whole number"]),
            ("target_users", True, ["whole number"]),
            ("target_users", "0", ["out of range", "from 1 to 1000000000"]),
            ("target_users", "2000m", ["out of range", "from 1 to 1000000000"]),
            ("read_replicas", -1, ["-1 is out of range", "from 0 to 15"]),
            ("read_replicas", "16", ["16 is out of range", "from 0 to 15"]),
            ("peak_rps", "11m", ["out of range", "from 0 to 10000000"]),
            ("modules", "", ["at least one module"]),
            ("modules", "Billing", ["lowercase Python identifier"]),
            ("modules", "billing,class", ["Python keyword"]),
            ("modules", "core", ["used by the generated project"]),
            ("modules", "billing,billing", ["listed more than once: billing"]),
            ("modules", {"billing": 1}, ["list", "comma-separated"]),
            ("owners", "billing", ["module:@handle"]),
            ("owners", "*:@acme/backend,billing", ["module:@handle"]),
            ("owners", "*:acme", ["'acme' is not a GitHub/GitLab handle", "email"]),
            ("owners", {"*": "@"}, ["not a GitHub/GitLab handle"]),
            ("owners", {"*": "@acme backend"}, ["not a GitHub/GitLab handle"]),
            ("owners", ["@acme"], ["must map modules to owners"]),
        ]
    ),
)
def test_coerce_refuses_with_what_is_accepted(key, raw, fragments):
    with pytest.raises(ValueError) as caught:
        coerce(DECISIONS[key], raw)
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_names_reports_every_bad_name_at_once():
    with pytest.raises(ValueError) as caught:
        coerce(DECISIONS["modules"], "Billing,class,core,ok,ok")
    message = str(caught.value)
    assert "'Billing'" in message
    assert "'class'" in message
    assert "'core'" in message
    assert "listed more than once: ok" in message


@pytest.mark.parametrize("decision", DECISION_LIST, ids=lambda d: d.key)
def test_coerce_is_idempotent_on_plain_defaults(decision):
    value = coerce(decision, plain(decision.default_for({})))
    assert coerce(decision, plain(value)) == value


# --------------------------------------------------------------------------- layers


def test_later_layer_wins_and_sources_are_recorded():
    blueprint = build_blueprint(
        [
            AnswerLayer("preset fastapi-sync", {"queue": "celery", "cache": "memcached"}),
            AnswerLayer("answers.yml", {"queue": "dramatiq"}),
            AnswerLayer("--set", {"cache": "none"}),
        ]
    )
    assert blueprint["queue"] == "dramatiq"
    assert blueprint["cache"] == "none"
    assert blueprint.sources["queue"] == "answers.yml"
    assert blueprint.sources["cache"] == "--set"
    assert blueprint.sources["framework"] == DEFAULT_SOURCE


def test_resolve_keeps_only_valid_answers_and_their_sources():
    resolution = resolve(
        [AnswerLayer("a", {"queue": "rq", "cache": "bogus"}), AnswerLayer("b", {"ci": "gitlab"})]
    )
    assert resolution.given == {"queue": "rq", "ci": "gitlab"}
    assert resolution.sources == {"queue": "a", "ci": "b"}
    assert [(p.key, p.source) for p in resolution.problems] == [("cache", "a")]


def test_no_layers_gives_the_catalog_defaults():
    blueprint = build_blueprint([])
    assert list(blueprint.answers) == [d.key for d in DECISION_LIST]
    assert set(blueprint.sources.values()) == {DEFAULT_SOURCE}
    for decision in DECISION_LIST:
        if decision.key != "owners":
            assert blueprint[decision.key] == coerce(decision, plain(decision.default_for({})))
    assert blueprint["owners"] == {"*": "@my-service/backend"}


def test_every_answer_has_a_source_in_catalog_order():
    blueprint = _build(queue="none")
    assert list(blueprint.sources) == list(blueprint.answers) == [d.key for d in DECISION_LIST]


@pytest.mark.parametrize(
    "layers",
    [
        [AnswerLayer("--set", {"queue": "none"})],
        [AnswerLayer("--set", {"queue": "none", "broker": "rabbitmq"})],
        [AnswerLayer("preset", {"broker": "rabbitmq"}), AnswerLayer("--set", {"queue": "none"})],
    ],
    ids=["not-given", "given-alongside", "given-in-earlier-layer"],
)
def test_inapplicable_decision_resolves_to_none(layers):
    blueprint = build_blueprint(layers)
    assert blueprint["broker"] is None
    assert "broker" not in blueprint.copier_data
    assert blueprint.derived()["uses_rabbitmq"] is False
    assert blueprint.sizing.worker_replicas == 0


# --------------------------------------------------------------------------- pending / missing


def test_pending_lists_everything_in_catalog_order_when_nothing_is_given():
    assert pending({}) == list(DECISION_LIST)


def test_pending_skips_given_and_respects_applies():
    remaining = [d.key for d in pending({"framework": "django", "queue": "none"})]
    assert "framework" not in remaining
    assert "queue" not in remaining
    assert "broker" not in remaining
    assert remaining == [
        d.key for d in DECISION_LIST if d.key not in ("framework", "queue", "broker")
    ]


def test_pending_includes_broker_when_the_default_queue_needs_one():
    assert "broker" in [d.key for d in pending({"framework": "django"})]


def test_pending_is_empty_when_everything_applicable_is_answered():
    answers, _ = complete({})
    given = {key: value for key, value in answers.items() if value is not None}
    assert pending(given) == []


def test_complete_marks_defaulted_keys():
    answers, defaulted = complete({"queue": "none"})
    assert answers["broker"] is None
    assert "queue" not in defaulted
    assert "broker" not in defaulted
    assert set(defaulted.values()) == {DEFAULT_SOURCE}
    assert set(defaulted) == {d.key for d in DECISION_LIST} - {"queue", "broker"}


def test_build_without_defaults_names_missing_keys():
    with pytest.raises(MissingAnswersError) as caught:
        build_blueprint([AnswerLayer("--set", {"framework": "django"})], use_defaults=False)
    expected = [d.key for d in DECISION_LIST if d.key != "framework"]
    assert list(caught.value.keys) == expected
    assert "missing answers for: project_name, concurrency" in str(caught.value)
    assert "--yes" in str(caught.value)


def test_build_without_defaults_succeeds_when_everything_is_given():
    answers, _ = complete({"queue": "none"})
    given = {key: plain(value) for key, value in answers.items() if value is not None}
    blueprint = build_blueprint([AnswerLayer("answers.yml", given)], use_defaults=False)
    assert set(blueprint.sources.values()) == {"answers.yml", NOT_APPLICABLE}
    assert blueprint.sources["broker"] == NOT_APPLICABLE  # no queue, so no broker


def test_value_problems_come_before_missing_answers():
    with pytest.raises(BlueprintError):
        build_blueprint([AnswerLayer("--set", {"queue": "kafka"})], use_defaults=False)


# --------------------------------------------------------------------------- owners


def test_owners_naming_an_unknown_module_is_an_error():
    with pytest.raises(BlueprintError) as caught:
        _build(modules="billing", owners="*:@acme/backend,payments:@acme/pay,zeta:@z")
    (problem,) = caught.value.problems
    assert problem.key == "owners"
    assert problem.source == "--set"
    assert "payments, zeta" in problem.message
    assert "(billing)" in problem.message


def test_owners_against_default_modules():
    with pytest.raises(BlueprintError, match="billing"):
        _build(owners="billing:@acme/pay")
    assert _build(owners="catalog:@acme/cat").owners["catalog"] == "@acme/cat"


# --------------------------------------------------------------------------- derived values


@pytest.mark.parametrize(
    ("name", "slug", "package"),
    [
        ("Acme Shop!", "acme-shop", "acme_shop"),
        ("2fast", "2fast", "svc_2fast"),
        ("Class", "class", "class_svc"),
        ("my-service", "my-service", "my_service"),
    ],
    ids=["punctuation", "leading-digit", "keyword", "plain"],
)
def test_project_slug_and_package_name(name, slug, package):
    blueprint = _build(project_name=name)
    assert blueprint["project_name"] == name
    assert blueprint.project_slug == slug
    assert blueprint.package_name == package
    assert blueprint.derived()["project_slug"] == slug
    assert blueprint.derived()["package_name"] == package


def test_owners_fall_back_to_project_backend_team():
    blueprint = _build(
        project_name="Acme Shop", modules="accounts,billing", owners="billing:@acme/pay"
    )
    assert dict(blueprint.owners) == {
        "*": "@acme-shop/backend",
        "accounts": "@acme-shop/backend",
        "billing": "@acme/pay",
    }
    assert blueprint["owners"] == {"billing": "@acme/pay"}


def test_owners_fall_back_to_given_star_owner():
    blueprint = _build(modules="accounts,billing", owners="*:@acme/core,billing:@acme/pay")
    assert dict(blueprint.owners) == {
        "*": "@acme/core",
        "accounts": "@acme/core",
        "billing": "@acme/pay",
    }


@pytest.mark.parametrize(
    ("ci", "path"),
    [
        ("github", ".github/CODEOWNERS"),
        ("gitlab", ".gitlab/CODEOWNERS"),
        ("none", ".github/CODEOWNERS"),
    ],
    ids=["github", "gitlab", "none"],
)
def test_codeowners_path_follows_ci(ci, path):
    derived = _build(ci=ci).derived()
    assert derived["codeowners_path"] == path
    assert derived["codeowners_dir"] == path.split("/")[0]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"framework": "fastapi", "concurrency": "async"}, {"db_driver": "asyncpg"}),
        ({"framework": "fastapi", "concurrency": "sync"}, {"db_driver": "psycopg"}),
        ({"framework": "django", "concurrency": "async"}, {"db_driver": "psycopg"}),
        ({"framework": "django", "concurrency": "async"}, {"django_db_pool": True}),
        ({"framework": "django", "concurrency": "sync"}, {"django_db_pool": False}),
        (
            {"framework": "django", "concurrency": "sync", "pooling": "app-pool-only"},
            {"django_db_pool": True},
        ),
        ({"framework": "fastapi", "pooling": "app-pool-only"}, {"django_db_pool": False}),
        ({"pooling": "app-pool-only"}, {"uses_pgbouncer": False, "pgbouncer_pool_mode": None}),
        (
            {"pooling": "pgbouncer-session"},
            {"uses_pgbouncer": True, "pgbouncer_pool_mode": "session"},
        ),
        ({"pooling": "pgbouncer-transaction"}, {"pgbouncer_pool_mode": "transaction"}),
        ({"cache": "redis+memcached"}, {"uses_redis_cache": True, "uses_memcached": True}),
        ({"cache": "memcached"}, {"uses_redis_cache": False, "uses_memcached": True}),
        ({"cache": "none"}, {"uses_redis_cache": False, "uses_memcached": False}),
        ({"queue": "celery", "broker": "rabbitmq"}, {"uses_rabbitmq": True}),
        ({"deploy": "compose"}, {"uses_kubernetes": False}),
        ({"load_tests": "locust+k6"}, {"uses_k6": True}),
        ({"load_tests": "locust"}, {"uses_k6": False}),
    ],
    ids=lambda v: ",".join(f"{k}={x}" for k, x in v.items()) if isinstance(v, dict) else None,
)
def test_derived_flags(values, expected):
    derived = _build(**values).derived()
    for key, value in expected.items():
        assert derived[key] == value, key


def test_consequences_are_recorded_on_the_blueprint():
    blueprint = _build(framework="django", pooling="pgbouncer-transaction", cache="none")
    assert any("DISABLE_SERVER_SIDE_CURSORS" in note for note in blueprint.consequences)
    assert any("Redis still runs" in note for note in blueprint.consequences)
    assert isinstance(blueprint.consequences, tuple)


def test_sizing_uses_the_answers():
    blueprint = _build(target_users="1m", concurrency="sync", queue="none")
    assert blueprint.sizing.peak_rps == 20_000
    assert blueprint.sizing.web_threads_per_process > 1
    assert blueprint.sizing.worker_replicas == 0


def test_copier_data_is_plain():
    data = _build(modules="accounts,billing").copier_data
    assert data["modules"] == ["accounts", "billing"]
    assert data["observability"] == ["prometheus", "sentry"]
    assert type(data["owners"]) is dict


# --------------------------------------------------------------------------- immutability


def test_blueprint_is_frozen():
    blueprint = _build()
    with pytest.raises(dataclasses.FrozenInstanceError):
        blueprint.project_slug = "other"  # type: ignore[misc]


@pytest.mark.parametrize("mapping", ["answers", "sources", "owners"])
def test_blueprint_mappings_are_read_only(mapping):
    blueprint = _build()
    with pytest.raises(TypeError):
        getattr(blueprint, mapping)["queue"] = "rq"


def test_multi_and_names_answers_are_tuples():
    blueprint = _build()
    assert isinstance(blueprint["observability"], tuple)
    assert isinstance(blueprint["modules"], tuple)


def test_owners_answer_cannot_be_changed_through_the_blueprint():
    blueprint = _build(owners="*:@acme/backend")
    with pytest.raises(TypeError):
        blueprint["owners"]["*"] = "@someone/else"
    assert blueprint["owners"] == {"*": "@acme/backend"}


def test_more_modules_than_the_product_limit_are_refused():
    names = ",".join(f"domain{n}" for n in range(DECISIONS["modules"].maximum + 1))
    with pytest.raises(BlueprintError) as caught:
        build_blueprint([AnswerLayer("--set", {"modules": names})])
    assert f"more than {DECISIONS['modules'].maximum}" in str(caught.value)
    assert "group related domains" in str(caught.value)
