"""Combinations of answers derived from the catalog render and pass the battery.

The set is the defaults with one answer changed (every option of every decision, integer
bounds, names and owners), plus a greedy pairwise fill over the choice decisions. The
refusals along the way must be exactly the ones the catalog's rules explain.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from scalekit_gen.blueprint import Blueprint, complete, resolve
from scalekit_gen.catalog import DECISIONS, REQUIREMENTS, Kind, rule_violations
from scalekit_gen.errors import BlueprintError

from .battery import check_rendered_project, parse_env
from .combinations import (
    WORKER_KEYS,
    Combination,
    all_pairs,
    classify,
    coverable_pairs,
    held,
    pairs_in,
    pairwise_fill,
    single_value_candidates,
    worker_combinations,
    worker_fill,
)
from .support import RenderFn

CANDIDATES = single_value_candidates()
ACCEPTED, REFUSED = classify(CANDIDATES)
PAIRWISE = [(c, c.build()) for c in pairwise_fill(blueprint for _, blueprint in ACCEPTED)]
WORKERS = [(c, c.build()) for c in worker_fill(blueprint for _, blueprint in ACCEPTED + PAIRWISE)]
RENDERED: list[tuple[Combination, Blueprint]] = ACCEPTED + PAIRWISE + WORKERS
# ~0.4 s a render; the whole render suite should stay well under 90 s. 64: the auth decision's
# three options added their single-value renders (61 with them).
RENDER_BUDGET = 64


def _example(root: Path) -> dict[str, str]:
    return dict(parse_env((root / ".env.example").read_text("utf-8")))


def _replicas(root: Path) -> None:
    urls = _example(root)["DATABASE_REPLICA_URLS"].split(",")
    assert len(urls) == 2, urls


def _memcached(root: Path) -> None:
    assert _example(root)["CACHE_URL"].startswith("memcached://")


def _rabbitmq(root: Path) -> None:
    assert _example(root)["BROKER_URL"].startswith("amqp://")


def _no_queue(root: Path) -> None:
    assert "BROKER_URL" not in _example(root)
    assert not list((root / "docs/decisions").glob("*broker*"))
    assert "BROKER_URL" not in (root / "README.md").read_text("utf-8")


def _no_auth(root: Path) -> None:
    """FastAPI with auth none: no identity module, no credential anywhere, writes open."""
    assert not (root / "src/acme_shop/identity").exists()
    assert "createsuperuser" not in (root / "Makefile").read_text("utf-8")
    router = (root / "src/acme_shop/catalog/router.py").read_text("utf-8")
    assert "dependencies=[WRITE_LIMIT]" in router
    assert "identity" not in router


def _api_keys(root: Path) -> None:
    """FastAPI with API keys: keys minted and revoked by make, sent on writes; no users."""
    identity = root / "src/acme_shop/identity"
    assert (identity / "access.py").is_file()
    assert not (identity / "router.py").exists()
    makefile = (root / "Makefile").read_text("utf-8")
    assert "api-key:" in makefile and "revoke-api-key:" in makefile
    assert "createsuperuser" not in makefile
    assert "dependencies=[WRITE_ACCESS]" in (root / "src/acme_shop/catalog/router.py").read_text(
        "utf-8"
    )
    assert "LOADTEST_API_KEY" in (root / "loadtests/locustfile.py").read_text("utf-8")


def _gitlab(root: Path) -> None:
    assert (root / ".gitlab/CODEOWNERS").is_file()
    assert not (root / ".github").exists()


def _owners(root: Path) -> None:
    lines = (root / ".github/CODEOWNERS").read_text("utf-8").splitlines()
    assert "/src/acme_shop/billing/    @acme/payments" in lines
    assert "/src/acme_shop/accounts/    accounts@acme.example" in lines
    assert "/src/acme_shop/search/    @acme/platform" in lines  # the fallback owner


def _no_observability(root: Path) -> None:
    assert "# Observability: none" in (root / "docs/decisions/0009-observability.md").read_text(
        "utf-8"
    )


# Literal expectations for the cases the brief names, on top of the battery (which derives
# its expectations from the plan): if the plan itself were wrong, these still catch it.
NAMED: dict[str, Callable[[Path], None]] = {
    "read_replicas=2": _replicas,
    "cache=memcached": _memcached,
    "broker=rabbitmq": _rabbitmq,
    "queue=none": _no_queue,
    "ci=gitlab": _gitlab,
    "owners=per-module": _owners,
    "observability=none": _no_observability,
    "auth=none": _no_auth,
    "auth=api-keys": _api_keys,
}


@pytest.mark.parametrize(("combination", "blueprint"), RENDERED, ids=[c.id for c, _ in RENDERED])
def test_combination_renders_and_passes_the_battery(
    combination: Combination, blueprint: Blueprint, render: RenderFn
) -> None:
    root, result = render(blueprint)
    project = check_rendered_project(root, blueprint)
    assert list(result.files) == project.files
    assert result.destination == root
    assert not result.git_commit
    if combination.id in NAMED:
        NAMED[combination.id](root)


def test_the_named_cases_are_rendered() -> None:
    ids = {c.id for c, _ in RENDERED}
    assert set(NAMED) <= ids, sorted(set(NAMED) - ids)


def _rule_messages(values: dict[str, object]) -> list[str]:
    """The messages the catalog's rules give for `values` completed with defaults."""
    given = resolve([Combination("probe", values).layer()])
    assert not given.problems, given.problems
    answers, _ = complete(given.given)
    return [message for _, message in rule_violations(answers)]


def _check_refusal(values: dict[str, object]) -> bool:
    """build_blueprint refuses `values` exactly when the rules say why; returns refused."""
    expected = _rule_messages(values)
    try:
        blueprint = Combination("probe", values).build()
    except BlueprintError as error:
        assert [p.message for p in error.problems] == expected, values
        assert expected, f"{values} refused without a rule violation: {error}"
        return True
    assert expected == [], f"{values} accepted although the rules say: {expected}"
    assert rule_violations(blueprint.answers) == []
    return False


def test_refused_single_values_are_exactly_the_rule_violations() -> None:
    refused = {c.id for c in CANDIDATES if _check_refusal(dict(c.values))}
    assert refused == {c.id for c, _ in REFUSED}


def test_refused_pairs_are_exactly_the_rule_violations() -> None:
    refused = [pair for pair in all_pairs() if _check_refusal(dict(pair))]
    # Every rule of the catalog refuses the pairs that break it, naming both decisions.
    for rule in REQUIREMENTS:
        for other in DECISIONS[rule.other].values:
            applies = DECISIONS[rule.key].applies_to({rule.other: other})
            if other in rule.allowed or not applies:
                continue  # allowed, or the rule's decision does not apply (broker, queue none)
            pair = {rule.key: rule.value, rule.other: other}
            with pytest.raises(BlueprintError) as raised:
                Combination("probe", pair).build()
            text = str(raised.value)
            assert f"{rule.key}: {rule.value} needs {rule.other}" in text, text
            assert tuple(sorted(pair.items())) in {tuple(sorted(p)) for p in refused}


def test_every_option_and_every_coverable_pair_is_rendered() -> None:
    answers = [blueprint.answers for _, blueprint in RENDERED]
    covered = set().union(*(pairs_in(a) for a in answers))
    missing = coverable_pairs() - covered
    assert not missing, sorted(missing)
    for decision in DECISIONS.values():
        if decision.kind is Kind.CHOICE:
            seen = {a[decision.key] for a in answers}
        elif decision.kind is Kind.MULTI:
            seen = {v for a in answers for v in a[decision.key]}
        else:
            continue
        assert set(decision.values) <= seen, (decision.key, set(decision.values) - seen)


def test_every_worker_combination_is_rendered() -> None:
    rendered = {held(blueprint.answers, WORKER_KEYS) for _, blueprint in RENDERED}
    assert worker_combinations() <= rendered, sorted(worker_combinations() - rendered, key=str)
    assert ("fastapi", "sync", "dramatiq", "redis") in rendered
    assert ("django", "async", "celery", "rabbitmq") in rendered


def test_render_budget() -> None:
    assert len(RENDERED) <= RENDER_BUDGET, (
        f"{len(RENDERED)} combinations to render; trim the candidates or raise the budget "
        "knowingly (each render costs ~0.4 s)"
    )
