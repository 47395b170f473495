"""The Blueprint: one validated, immutable answer set, and everything derived from it.

Answers arrive in layers — catalog defaults, a preset, an answers file, `--set` flags, the
wizard — and every path goes through `build_blueprint`, so a value is checked the same way
whether it was typed, piped or read from a platform team's preset. All problems are collected
and raised together.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from types import MappingProxyType
from typing import Any

from scalekit_gen import catalog
from scalekit_gen.catalog import DECISION_LIST, DECISIONS, Decision, Kind
from scalekit_gen.errors import BlueprintError, MissingAnswersError, Problem
from scalekit_gen.sizing import Sizing, size

DEFAULT_SOURCE = "default"
NOT_APPLICABLE = "not applicable"
_OWNER = re.compile(r"^(@[A-Za-z0-9][\w.-]*(/[\w.-]+)?|[^@\s]+@[^@\s]+\.[^@\s]+)$")
_SUFFIXES = {"k": 1_000, "m": 1_000_000}


@dataclass(frozen=True)
class AnswerLayer:
    """Answers from one source; later layers win. `source` is shown in every error."""

    source: str
    values: Mapping[str, Any]


@dataclass(frozen=True)
class Blueprint:
    answers: Mapping[str, Any]  # every decision in catalog order; None where it does not apply
    sources: Mapping[str, str]  # where each answer came from
    project_slug: str
    package_name: str
    sizing: Sizing
    consequences: tuple[str, ...]
    owners: Mapping[str, str] = field(default_factory=dict)  # module -> owner, fallback filled

    def __getitem__(self, key: str) -> Any:
        return self.answers[key]

    @property
    def copier_data(self) -> dict[str, Any]:
        """The answers as Copier questions take them (applicable decisions only)."""
        return {key: plain(value) for key, value in self.answers.items() if value is not None}

    @property
    def defaulted(self) -> tuple[str, ...]:
        """Applicable decisions no answer source chose: recorded as defaults, never as answers."""
        return tuple(
            key
            for key, value in self.answers.items()
            if value is not None and self.sources[key] == DEFAULT_SOURCE
        )

    @property
    def facts(self) -> Derived:
        """What the answers imply, each named once (see `Derived`)."""
        return derive(self.answers, self.project_slug, self.package_name, self.owners)

    def derived(self) -> dict[str, Any]:
        """The facts as the plan document and the templates read them."""
        return asdict(self.facts)


@dataclass(frozen=True)
class Derived:
    """Facts computed from the answers — the one place each is computed.

    The plan document (`derived`), `scalekit plan`'s views, the Copier extension and through
    it every template read these; none of them recomputes one.
    """

    project_slug: str
    package_name: str
    owners: dict[str, str]  # every module's owner, the fallback ("*") filled in
    is_fastapi: bool
    is_django: bool
    is_async: bool
    is_sync: bool
    # Who may write: "users-jwt" signs people in, "api-keys" admits other services.
    uses_jwt: bool
    uses_api_keys: bool
    has_auth: bool  # writes need a credential
    has_queue: bool
    # The queue's client sends with blocking I/O (all but taskiq): core/send_limit.py runs
    # the request's sends on threads of their own to bound the wait.
    queue_client_blocks: bool
    has_replicas: bool
    uses_pgbouncer: bool
    pgbouncer_pool_mode: str | None  # "transaction" / "session", None without PgBouncer
    # PgBouncer lends a server connection per transaction: no named prepared statements.
    uses_transaction_pooling: bool
    db_driver: str
    # Django keeps psycopg's pool in each process unless PgBouncer is there and gunicorn's
    # threads can each keep their connection (WSGI); the catalog's pooling consequences say why.
    django_db_pool: bool
    uses_redis_cache: bool
    uses_memcached: bool
    uses_rabbitmq: bool
    uses_kubernetes: bool
    uses_k6: bool
    uses_prometheus: bool
    uses_sentry: bool
    uses_opentelemetry: bool
    uses_github_ci: bool
    uses_gitlab_ci: bool
    # GitLab reads .gitlab/CODEOWNERS; GitHub (and no CI) .github/CODEOWNERS.
    codeowners_dir: str
    codeowners_path: str


def derive(
    answers: Mapping[str, Any], slug: str, package: str, owners: Mapping[str, str]
) -> Derived:
    a = answers
    fastapi, async_ = a["framework"] == "fastapi", a["concurrency"] == "async"
    pgbouncer = a["pooling"] != "app-pool-only"
    codeowners_dir = ".gitlab" if a["ci"] == "gitlab" else ".github"
    return Derived(
        project_slug=slug,
        package_name=package,
        owners=dict(owners),
        is_fastapi=fastapi,
        is_django=not fastapi,
        is_async=async_,
        is_sync=not async_,
        uses_jwt=a["auth"] == "users-jwt",
        uses_api_keys=a["auth"] == "api-keys",
        has_auth=a["auth"] != "none",
        has_queue=a["queue"] != "none",
        queue_client_blocks=a["queue"] not in ("none", "taskiq"),
        has_replicas=a["read_replicas"] > 0,
        uses_pgbouncer=pgbouncer,
        pgbouncer_pool_mode=a["pooling"].removeprefix("pgbouncer-") if pgbouncer else None,
        uses_transaction_pooling=a["pooling"] == "pgbouncer-transaction",
        db_driver=("asyncpg" if async_ else "psycopg") if fastapi else "psycopg",
        django_db_pool=not fastapi and (async_ or not pgbouncer),
        uses_redis_cache=a["cache"] in ("redis", "redis+memcached"),
        uses_memcached=a["cache"] in ("memcached", "redis+memcached"),
        uses_rabbitmq=a["broker"] == "rabbitmq",
        uses_kubernetes=a["deploy"] == "compose+kubernetes",
        uses_k6=a["load_tests"] == "locust+k6",
        uses_prometheus="prometheus" in a["observability"],
        uses_sentry="sentry" in a["observability"],
        uses_opentelemetry="opentelemetry" in a["observability"],
        uses_github_ci=a["ci"] == "github",
        uses_gitlab_ci=a["ci"] == "gitlab",
        codeowners_dir=codeowners_dir,
        codeowners_path=f"{codeowners_dir}/CODEOWNERS",
    )


def plain(value: Any) -> Any:
    """Tuples and read-only mappings as the lists and dicts YAML, JSON and Jinja expect."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple):
        return list(value)
    return value


# --------------------------------------------------------------------------- coercion


def coerce(decision: Decision, raw: Any) -> Any:
    """Turn a raw answer (typed YAML or a `--set` string) into the catalog's type.

    Raises ValueError with a message that says what would be accepted.
    """
    parse = _PARSERS[decision.kind]
    return parse(decision, raw)


def _parse_text(decision: Decision, raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError("must be a non-empty text, e.g. acme-shop")
    text = catalog.text_from_os(raw).strip()
    if decision.key == "project_name" and (problem := catalog.project_name_problem(text)):
        raise ValueError(problem)
    return text


def _parse_choice(decision: Decision, raw: Any) -> str:
    if not isinstance(raw, str | bool | int):
        raise ValueError(f"{raw!r} is not an option — choose one of {', '.join(decision.values)}")
    value = str(raw).strip().lower()
    if value in decision.refused:
        raise ValueError(decision.refused[value])
    if value not in decision.values:
        raise ValueError(f"{raw!r} is not an option — choose one of {', '.join(decision.values)}")
    return str(value)


def _split(raw: Any) -> list[Any]:
    if isinstance(raw, str):
        return [part.strip() for part in raw.split(",") if part.strip()]
    if isinstance(raw, list | tuple):
        return list(raw)
    raise ValueError("must be a list, or a comma-separated text")


def _parse_multi(decision: Decision, raw: Any) -> tuple[str, ...]:
    chosen = {_parse_choice(decision, item) for item in _split(raw)}
    return tuple(value for value in decision.values if value in chosen)


def _parse_integer(decision: Decision, raw: Any) -> int:
    value = _to_int(raw)
    low, high = decision.minimum, decision.maximum
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{value} is out of range — use a number from {low} to {high}")
    return value


def _to_int(raw: Any) -> int:
    if isinstance(raw, bool):
        raise ValueError("must be a whole number, e.g. 10000 or 10k")
    if isinstance(raw, int):
        return raw
    text = str(raw).strip().lower().replace("_", "").replace(",", "")
    factor = _SUFFIXES.get(text[-1:], 1)
    number = text[:-1] if factor > 1 else text
    try:
        return int(float(number) * factor) if factor > 1 else int(number)
    except (ValueError, OverflowError):
        raise ValueError(f"{raw!r} is not a whole number — e.g. 10000, 10k or 2m") from None


def _parse_names(decision: Decision, raw: Any) -> tuple[str, ...]:
    names = [str(name).strip() for name in _split(raw)]
    if not names:
        raise ValueError("needs at least one module, e.g. catalog")
    if decision.maximum is not None and len(names) > decision.maximum:
        raise ValueError(
            f"{len(names)} modules is more than {decision.maximum} — group related domains "
            "into one module (a module is a business domain, not an entity), or split the "
            "backend into services"
        )
    problems = [p for name in names if (p := catalog.module_name_problem(name))]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        problems.append(f"listed more than once: {', '.join(duplicates)}")
    if problems:
        raise ValueError("; ".join(problems))
    return tuple(names)


def _parse_owners(decision: Decision, raw: Any) -> dict[str, str]:
    if isinstance(raw, str):
        pairs = [item.partition(":") for item in _split(raw)]
        if any(not sep for _, sep, _ in pairs):
            raise ValueError(
                "write owners as module:@handle pairs, e.g. *:@acme/backend,billing:@acme/payments"
            )
        raw = {key.strip(): value.strip() for key, _, value in pairs}
    if not isinstance(raw, Mapping):
        raise ValueError("must map modules to owners, e.g. {'*': '@acme/backend'}")
    bad = [f"{owner!r}" for owner in raw.values() if not _OWNER.match(str(owner))]
    if bad:
        raise ValueError(
            f"{', '.join(bad)} is not a GitHub/GitLab handle (@user or @org/team) "
            "or an email address"
        )
    return {str(key): str(value) for key, value in raw.items()}


_PARSERS = {
    Kind.TEXT: _parse_text,
    Kind.CHOICE: _parse_choice,
    Kind.MULTI: _parse_multi,
    Kind.INTEGER: _parse_integer,
    Kind.NAMES: _parse_names,
    Kind.OWNERS: _parse_owners,
}


# --------------------------------------------------------------------------- resolution


@dataclass
class Resolution:
    """Layers merged and coerced, before defaults: what was given, by whom, what is wrong."""

    given: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def resolve(layers: Iterable[AnswerLayer]) -> Resolution:
    result = Resolution()
    for layer in layers:
        for key, raw in layer.values.items():
            decision = DECISIONS.get(key)
            if decision is None:
                result.problems.append(Problem(key, _unknown_key_message(key), layer.source))
                continue
            try:
                result.given[key] = coerce(decision, raw)
            except ValueError as error:
                result.problems.append(Problem(key, str(error), layer.source))
                continue
            result.sources[key] = layer.source
    return result


def _unknown_key_message(key: str) -> str:
    import difflib

    close = difflib.get_close_matches(key, DECISIONS, n=1)
    hint = f" — did you mean {close[0]}?" if close else "."
    return f"unknown decision{hint} Known decisions: {', '.join(DECISIONS)}"


def pending(given: Mapping[str, Any]) -> list[Decision]:
    """Decisions that apply (given the answers so far) and have no answer yet, in order."""
    _, defaulted = complete(given)
    return [decision for decision in DECISION_LIST if decision.key in defaulted]


def complete(given: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Fill every applicable, unanswered decision with its default, in catalog order."""
    answers: dict[str, Any] = {}
    defaulted: dict[str, str] = {}
    for decision in DECISION_LIST:
        if not decision.applies_to(answers):
            answers[decision.key] = None
        elif decision.key in given:
            answers[decision.key] = given[decision.key]
        else:
            default = catalog.fitting_default(decision.key, {**given, **answers})
            answers[decision.key] = coerce(decision, plain(default))
            defaulted[decision.key] = DEFAULT_SOURCE
    return answers, defaulted


def build_blueprint(layers: Sequence[AnswerLayer], *, use_defaults: bool = True) -> Blueprint:
    """Validate layered answers into a Blueprint, or raise with every problem listed.

    With `use_defaults=False`, an applicable decision that no layer answers is an error
    (`MissingAnswersError`) rather than silently defaulted.
    """
    resolution = resolve(layers)
    if resolution.problems:
        raise BlueprintError(resolution.problems)
    if not use_defaults and (missing := pending(resolution.given)):
        raise MissingAnswersError([decision.key for decision in missing])
    answers, defaulted = complete(resolution.given)
    sources = {**defaulted, **resolution.sources}
    problems = _rule_problems(answers, sources) + _owner_problems(answers, sources)
    if problems:
        raise BlueprintError(problems)
    return _assemble(answers, sources)


def _rule_problems(answers: Mapping[str, Any], sources: Mapping[str, str]) -> list[Problem]:
    return [
        Problem(rule.key, message, _blame(rule.key, rule.other, sources))
        for rule, message in catalog.rule_violations(answers)
    ]


def _is_given(sources: Mapping[str, str], key: str) -> bool:
    return sources.get(key, DEFAULT_SOURCE) != DEFAULT_SOURCE


def _blame(key: str, other: str, sources: Mapping[str, str]) -> str:
    """Name where the clashing answers came from (defaults are not worth naming)."""
    given = {k: sources[k] for k in (key, other) if _is_given(sources, k)}
    if len(set(given.values())) == 1:
        return next(iter(given.values()))
    return ", ".join(f"{k} from {source}" for k, source in given.items())


def _owner_problems(answers: Mapping[str, Any], sources: Mapping[str, str]) -> list[Problem]:
    unknown = sorted(set(answers["owners"]) - set(answers["modules"]) - {"*"})
    if not unknown:
        return []
    message = (
        f"owners name modules that do not exist: {', '.join(unknown)} — add them to modules "
        f"({', '.join(answers['modules'])}) or drop their owner lines"
    )
    return [Problem("owners", message, sources.get("owners", DEFAULT_SOURCE))]


def _source(key: str, answers: Mapping[str, Any], sources: Mapping[str, str]) -> str:
    if answers[key] is None:
        return NOT_APPLICABLE  # an answer given for it was dropped, not used
    return sources.get(key, DEFAULT_SOURCE)


def _assemble(answers: dict[str, Any], sources: dict[str, str]) -> Blueprint:
    slug = catalog.slugify(answers["project_name"])
    fallback = answers["owners"].get("*") or catalog.DECISIONS["owners"].default_for(answers)["*"]
    owners = {module: answers["owners"].get(module, fallback) for module in answers["modules"]}
    sizing = size(
        concurrency=answers["concurrency"],
        pooling=answers["pooling"],
        queue=answers["queue"],
        target_users=answers["target_users"],
        peak_rps=answers["peak_rps"],
        read_replicas=answers["read_replicas"],
    )
    frozen = {
        k: MappingProxyType(dict(v)) if isinstance(v, Mapping) else v for k, v in answers.items()
    }
    return Blueprint(
        answers=MappingProxyType(frozen),
        sources=MappingProxyType({key: _source(key, answers, sources) for key in answers}),
        project_slug=slug,
        package_name=catalog.package_name(slug),
        sizing=sizing,
        consequences=tuple(catalog.consequences_for(answers)),
        owners=MappingProxyType({"*": fallback, **owners}),
    )
