"""The battery every rendered project must pass, whatever the answers and however it was
rendered (`render_project`, plain `copier copy`, the installed wheel's `scalekit new`).

`check_rendered_project(root, blueprint)` runs every registered check and fails once with
*all* problems listed, so a failing render shows everything that is wrong with it, not just
the first thing. Extend it by adding a function decorated with `@check`: it receives a
`Rendered` (the project on disk, the blueprint it was rendered from and that blueprint's
plan) and yields one message per problem.

The expectations are derived from the blueprint and the catalog (`build_plan`, `sizing`),
never from the rendered files themselves, so the battery cannot agree with a wrong render.
"""

from __future__ import annotations

import configparser
import fnmatch
import json
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from scalekit_gen import views
from scalekit_gen.blueprint import Blueprint
from scalekit_gen.catalog import DECISION_LIST
from scalekit_gen.harness.project import find_python
from scalekit_gen.plan import build_plan, record_path
from scalekit_gen.render import STAGING_SUFFIX
from scalekit_gen.sizing import DEFAULT_ASSUMPTIONS, FORMULAS

PLACEHOLDER = "change-me"
JINJA_MARKERS = ("{{", "{%", "{#")
ANSWERS_FILE = ".copier-answers.yml"
# An .env value at least this long is distinctive enough that finding it in another file
# means it was copied there (short ones like `INFO`, `false` or `8000` could be chance).
DISTINCTIVE = 8
POSTGRES_URL_KEYS = ("DATABASE_URL", "DATABASE_MIGRATIONS_URL")
PGBOUNCER_PORT, POSTGRES_PORT = 6432, 5432


@dataclass
class Rendered:
    """A rendered project and what it was rendered from."""

    root: Path
    blueprint: Blueprint
    git: bool = False  # whether the render was asked to `git init`
    plan: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.plan = build_plan(self.blueprint)

    @property
    def answers(self) -> dict[str, Any]:
        return self.plan["answers"]

    @property
    def derived(self) -> dict[str, Any]:
        return self.plan["derived"]

    @property
    def sizing(self) -> dict[str, Any]:
        return self.plan["sizing"]

    @cached_property
    def files(self) -> list[str]:
        """Every file, relative POSIX paths, sorted; git's own files left out."""
        return sorted(
            path.relative_to(self.root).as_posix()
            for path in self.root.rglob("*")
            if path.is_file() and ".git" not in path.relative_to(self.root).parts
        )

    def text(self, relative: str) -> str:
        return (self.root / relative).read_text(encoding="utf-8")

    def env(self, relative: str) -> list[tuple[str, str]]:
        return parse_env(self.text(relative))


Check = Callable[[Rendered], Iterator[str]]
CHECKS: list[Check] = []


def check(function: Check) -> Check:
    """Register a check with the battery."""
    CHECKS.append(function)
    return function


def check_rendered_project(root: Path, blueprint: Blueprint, *, git: bool = False) -> Rendered:
    """Run every check on the project at `root`; fail listing every problem found."""
    project = Rendered(Path(root), blueprint, git)
    problems: list[str] = []
    for function in CHECKS:
        try:
            problems += [f"[{function.__name__}] {message}" for message in function(project)]
        except Exception as error:  # a crashing check (a missing file, ...) is a problem too
            problems.append(f"[{function.__name__}] crashed: {type(error).__name__}: {error}")
    assert not problems, (
        f"{len(problems)} problem(s) in the project rendered at {root}\n"
        f"answers: {blueprint.copier_data}\n  - " + "\n  - ".join(problems)
    )
    return project


# --------------------------------------------------------------------------- parsing helpers


def parse_env(text: str) -> list[tuple[str, str]]:
    """KEY=VALUE lines in order; comments and blank lines skipped."""
    pairs = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, value = stripped.partition("=")
        assert sep, f"not a KEY=VALUE line: {line!r}"
        pairs.append((key.strip(), value.strip()))
    return pairs


def sections(markdown: str) -> dict[str, str]:
    """Markdown text by `## ` heading (the text before the first heading is under "")."""
    out: dict[str, list[str]] = {"": []}
    current = ""
    for line in markdown.splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
            out[current] = []
        else:
            out[current].append(line)
    return {name: "\n".join(lines) for name, lines in out.items()}


def table_rows(markdown: str) -> list[list[str]]:
    """The body rows of every pipe table in `markdown`, cells stripped."""
    rows = []
    for line in markdown.splitlines():
        if not line.startswith("|") or set(line) <= set("|-: "):
            continue
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def gitignored(patterns: list[str], name: str) -> bool:
    """Whether a top-level file `name` is ignored (gitignore rules for basename patterns)."""
    ignored = False
    for raw in patterns:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line[1:] if negated else line
        if "/" in pattern.rstrip("/") or pattern.endswith("/"):
            continue  # directory patterns never match a plain top-level file
        if fnmatch.fnmatchcase(name, pattern):
            ignored = not negated
    return ignored


def secrets_of(env: list[tuple[str, str]]) -> dict[str, str]:
    """SECRET_KEY and the database roles' passwords of an env file: the application's (in
    DATABASE_URL), the migrations' (in DATABASE_MIGRATIONS_URL), the server's superuser's,
    and PgBouncer's stats user's when there is PgBouncer."""
    values = dict(env)
    found = {
        "SECRET_KEY": values.get("SECRET_KEY", ""),
        "db password": urlsplit(values.get("DATABASE_URL", "")).password or "",
        "migrations password": urlsplit(values.get("DATABASE_MIGRATIONS_URL", "")).password or "",
        "superuser password": values.get("POSTGRES_PASSWORD", ""),
    }
    if "RABBITMQ_PASSWORD" in values:  # only with RabbitMQ, which Compose starts with it
        found["rabbitmq password"] = values["RABBITMQ_PASSWORD"]
    if "PGBOUNCER_STATS_PASSWORD" in values:  # with PgBouncer only
        found["stats password"] = values["PGBOUNCER_STATS_PASSWORD"]
    return found


# --------------------------------------------------------------------------- the checks

# Files every project has, whatever the answers (CODEOWNERS is checked with its directory).
REQUIRED_FILES = (
    ANSWERS_FILE,
    ".env",
    ".env.example",
    ".gitignore",
    ".squawk.toml",  # the migration linter's rules (tests/test_migration_safety.py)
    "README.md",
    "docs/capacity.md",
)


@check
def required_files_exist(project: Rendered) -> Iterator[str]:
    missing = [name for name in REQUIRED_FILES if name not in project.files]
    if missing:
        yield f"missing {missing}; the project has {project.files}"


@check
def no_template_leftovers(project: Rendered) -> Iterator[str]:
    for relative in project.files:
        if any(marker in relative for marker in ("{{", "}}", "{%", "%}")):
            yield f"{relative}: a templated file name was not rendered"
        try:
            text = project.text(relative)
        except UnicodeDecodeError:
            continue  # binary files cannot hold Jinja leftovers that matter
        for number, line in enumerate(text.splitlines(), start=1):
            for marker in JINJA_MARKERS:
                if marker in line:
                    yield f"{relative}:{number}: Jinja leftover {marker!r}: {line.strip()!r}"


@check
def no_template_machinery(project: Rendered) -> Iterator[str]:
    root = project.root
    git_expected = project.git and shutil.which("git") is not None
    if (root / ".git").exists() != git_expected:
        yield f".git {'is missing' if git_expected else 'exists'} (git={project.git})"
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if ".git" in relative.parts:
            continue
        if path.name in ("copier.yml", "copier.yaml"):
            yield f"{relative}: the template's own copier.yml was copied"
        if path.is_dir() and path.name == "includes":
            yield f"{relative}: the template's includes/ was copied"
        if path.name.endswith(".jinja"):
            yield f"{relative}: a .jinja file was copied instead of rendered"
    staging = sorted(p.name for p in root.parent.glob(f"*{STAGING_SUFFIX}"))
    if staging:
        yield f"staging directories left next to the project: {staging}"


@check
def secrets_never_committed(project: Rendered) -> Iterator[str]:
    if not (project.root / ".git").is_dir() or shutil.which("git") is None:
        return
    done = subprocess.run(
        ["git", "ls-files"], cwd=project.root, capture_output=True, text=True, check=False
    )
    tracked = set(done.stdout.splitlines())
    if done.returncode != 0 or not tracked:
        yield f"git ls-files failed or the first commit is empty: {done.stderr.strip()}"
    if ".env" in tracked:
        yield "the first commit contains .env and its secrets"
    missing = sorted(set(project.files) - {".env"} - tracked)
    if missing:
        yield f"the first commit lacks {missing}"


@check
def yaml_files_parse(project: Rendered) -> Iterator[str]:
    for relative in project.files:
        if relative.endswith((".yml", ".yaml")):
            try:
                list(yaml.safe_load_all(project.text(relative)))
            except yaml.YAMLError as error:
                yield f"{relative} is not valid YAML: {error}"


@check
def answers_file_holds_the_answers(project: Rendered) -> Iterator[str]:
    text = project.text(ANSWERS_FILE)
    answers = yaml.safe_load(text)
    if not isinstance(answers, dict):
        yield f"{ANSWERS_FILE} is not a mapping: {answers!r}"
        return
    if "_src_path" not in answers:
        yield f"{ANSWERS_FILE} does not say which template it came from (_src_path)"
    expected = project.blueprint.copier_data
    for key, value in expected.items():
        if key not in answers:
            yield f"{ANSWERS_FILE} lacks the answer {key}: {value!r}"
        elif answers[key] != value:
            yield f"{ANSWERS_FILE} has {key}: {answers[key]!r}, the blueprint {value!r}"
    extra = sorted(k for k in answers if not k.startswith("_") and k not in expected)
    if extra:
        yield f"{ANSWERS_FILE} holds answers the blueprint does not have: {extra}"
    env = project.env(".env")
    leaked = sorted(key for key in answers if key in dict(env))
    if leaked:
        yield f"{ANSWERS_FILE} holds .env variables: {leaked}"
    for key, value in env:
        if len(value) >= DISTINCTIVE and value in text:
            yield f"{ANSWERS_FILE} contains the .env value of {key}"
    for name, secret in secrets_of(env).items():
        if secret and secret in text:
            yield f"{ANSWERS_FILE} contains the {name}"


@check
def env_is_gitignored(project: Rendered) -> Iterator[str]:
    patterns = project.text(".gitignore").splitlines()
    if ".env" not in (line.strip() for line in patterns):
        yield ".gitignore does not list .env"
    if not gitignored(patterns, ".env"):
        yield ".gitignore does not ignore .env"
    if gitignored(patterns, ".env.example"):
        yield ".gitignore ignores .env.example, which must be committed"


@check
def env_files_set_each_variable_once(project: Rendered) -> Iterator[str]:
    """A variable written twice takes the last value, and its first comment lies."""
    for relative in (".env", ".env.example"):
        names = [name for name, _ in project.env(relative)]
        for name in sorted({name for name in names if names.count(name) > 1}):
            yield f"{relative} sets {name} {names.count(name)} times"


@check
def env_files_have_secrets_and_placeholders(project: Rendered) -> Iterator[str]:
    env, example = project.env(".env"), project.env(".env.example")
    if [k for k, _ in env] != [k for k, _ in example]:
        yield (
            ".env and .env.example do not hold the same variables in the same order: "
            f"{[k for k, _ in env]} vs {[k for k, _ in example]}"
        )
    secrets, placeholders = secrets_of(env), secrets_of(example)
    for name, value in secrets.items():
        if not value:
            yield f".env has no {name}"
        elif value == PLACEHOLDER:
            yield f".env {name} is the placeholder {PLACEHOLDER!r}"
        elif len(value) < 16:
            yield f".env {name} is too short to be a generated secret: {value!r}"
        if value and value in project.text(".env.example"):
            yield f".env.example contains the .env {name}"
    shared = len(set(secrets.values())) < len(secrets)
    if shared:
        yield f".env uses one secret for two of {sorted(secrets)}: each must have its own"
    values = dict(env)
    if values.get("BROKER_URL", "").startswith("amqp://") and urlsplit(
        values["BROKER_URL"]
    ).password != secrets.get("rabbitmq password"):
        yield ".env BROKER_URL does not use RABBITMQ_PASSWORD (Compose creates the user with it)"
    for name, value in placeholders.items():
        if value != PLACEHOLDER:
            yield f".env.example {name} is {value!r}, not the placeholder {PLACEHOLDER!r}"
    for filename, pairs, found in ((".env", env, secrets), (".env.example", example, None)):
        for key, url in pairs:
            if url.startswith("postgresql://") or key in POSTGRES_URL_KEYS:
                role = "migrations password" if key == "DATABASE_MIGRATIONS_URL" else "db password"
                wanted = found[role] if found else PLACEHOLDER
                for one in url.split(","):
                    if urlsplit(one).password != wanted:
                        yield f"{filename} {key} does not use the {role} of its role"
        values = dict(pairs)
        for key, role in (
            ("DATABASE_APP_PASSWORD", "db password"),
            ("DATABASE_MIGRATIONS_PASSWORD", "migrations password"),
        ):
            wanted = found[role] if found else PLACEHOLDER
            if values.get(key) != wanted:
                yield f"{filename} {key} is not the {role} its URL holds"


# A URL as Compose writes it: `${...}` substitutions (passwords) taken out first.
_SUBSTITUTION = re.compile(r"\$\{[^}]*\}")
_LOOPBACK = {"localhost", "127.0.0.1"}


def _published_port(service: dict[str, Any], container_port: int) -> int | None:
    """The 127.0.0.1 port Compose publishes `container_port` of `service` on."""
    for mapping in service.get("ports") or []:
        host_ip, _, rest = str(mapping).partition(":")
        host_port, _, inner = rest.partition(":")
        if host_ip == "127.0.0.1" and inner == str(container_port):
            return int(host_port)
    return None


@check
def env_points_the_host_at_composes_services(project: Rendered) -> Iterator[str]:
    """Every service URL Compose gives the application, .env and .env.example set for the
    host to the same service on the port Compose publishes it on (what `make services` starts
    and `make run` uses): none left empty, which would quietly fall back to another server."""
    services = yaml.safe_load(project.text(COMPOSE_FILE))["services"]
    wanted: dict[str, tuple[str, int, str]] = {}  # key -> (scheme, host port, path)
    for consumer in ("web", "migrations"):
        for key, value in (services[consumer].get("environment") or {}).items():
            url = urlsplit(_SUBSTITUTION.sub("", str(value)))
            if not url.scheme or url.hostname not in services or url.port is None:
                continue
            port = _published_port(services[url.hostname], url.port)
            if port is None:
                yield f"{COMPOSE_FILE}: {url.hostname}:{url.port} ({key}) is not published"
                continue
            wanted[key] = (url.scheme, port, url.path)
    for filename in (".env", ".env.example"):
        values = dict(project.env(filename))
        for key, (scheme, port, path) in sorted(wanted.items()):
            url = urlsplit(values.get(key, ""))
            if (url.scheme, url.hostname in _LOOPBACK, url.port, url.path) != (
                scheme,
                True,
                port,
                path,
            ):
                yield (
                    f"{filename} {key}={values.get(key)!r}: want {scheme}://localhost:{port}"
                    f"{path}, the service Compose gives the application"
                )


@check
def env_matches_the_blueprint(project: Rendered) -> Iterator[str]:
    answers, package = project.answers, project.blueprint.package_name
    pgbouncer = answers["pooling"] != "app-pool-only"
    for filename in (".env", ".env.example"):
        values = dict(project.env(filename))
        app_port = PGBOUNCER_PORT if pgbouncer else POSTGRES_PORT
        for key, port, user in (
            ("DATABASE_URL", app_port, package),
            ("DATABASE_MIGRATIONS_URL", POSTGRES_PORT, f"{package}_migrations"),
        ):
            url = urlsplit(values.get(key, ""))
            if (url.scheme, url.port, url.username, url.path) != (
                "postgresql",
                port,
                user,
                f"/{package}",
            ):
                yield f"{filename} {key}={values.get(key)!r}: want port {port}, user {user}"
        if ("PGBOUNCER_STATS_PASSWORD" in values) != pgbouncer:
            yield f"{filename}: PGBOUNCER_STATS_PASSWORD with pooling={answers['pooling']}"
        replicas = [u for u in values.get("DATABASE_REPLICA_URLS", "").split(",") if u]
        if ("DATABASE_REPLICA_URLS" in values) != bool(answers["read_replicas"]):
            yield f"{filename}: DATABASE_REPLICA_URLS with read_replicas={answers['read_replicas']}"
        if len(replicas) != answers["read_replicas"]:
            yield f"{filename}: {len(replicas)} replica URLs for {answers['read_replicas']}"
        if ("CACHE_URL" in values) != (answers["cache"] in ("memcached", "redis+memcached")):
            yield f"{filename}: CACHE_URL presence does not match cache={answers['cache']}"
        if ("BROKER_URL" in values) != (answers["queue"] != "none"):
            yield f"{filename}: BROKER_URL presence does not match queue={answers['queue']}"
        if "BROKER_URL" in values:
            scheme = "amqp" if answers["broker"] == "rabbitmq" else "redis"
            if urlsplit(values["BROKER_URL"]).scheme != scheme:
                yield f"{filename}: BROKER_URL {values['BROKER_URL']!r} is not {scheme}://"
        if values.get("WEB_CONCURRENCY") != str(project.sizing["web_processes_per_pod"]):
            yield f"{filename}: WEB_CONCURRENCY={values.get('WEB_CONCURRENCY')!r}"
        if not {"SECRET_KEY", "REDIS_URL"} <= set(values):
            yield f"{filename} lacks SECRET_KEY or REDIS_URL"


@check
def codeowners_names_every_module(project: Rendered) -> Iterator[str]:
    answers, owners = project.answers, project.blueprint.owners
    directory = ".gitlab" if answers["ci"] == "gitlab" else ".github"
    other = ".github" if directory == ".gitlab" else ".gitlab"
    if (project.root / other / "CODEOWNERS").exists():
        yield f"{other}/CODEOWNERS exists although ci={answers['ci']}"
    path = f"{directory}/CODEOWNERS"
    if path not in project.files:
        yield f"{path} is missing (ci={answers['ci']})"
        return
    lines = [
        line.split()
        for line in project.text(path).splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    rules = [(parts[0], parts[1:]) for parts in lines]
    patterns = [pattern for pattern, _ in rules]
    if ("*", [owners["*"]]) not in rules:
        yield f"{path} has no fallback line `* {owners['*']}`"
    for module in answers["modules"]:
        pattern = f"/src/{project.blueprint.package_name}/{module}/"
        if (pattern, [owners[module]]) not in rules:
            yield f"{path} has no line `{pattern} {owners[module]}` for module {module}"
        elif "*" in patterns and patterns.index(pattern) < patterns.index("*"):
            yield f"{path}: {pattern} comes before `*`, so the fallback would win"


def expected_records(blueprint: Blueprint) -> list[str]:
    """Records derived from the catalog alone: recorded decisions that apply."""
    return sorted(
        record_path(d) for d in DECISION_LIST if d.recorded and blueprint.answers[d.key] is not None
    )


@check
def one_record_per_recorded_decision(project: Rendered) -> Iterator[str]:
    entries = [d for d in project.plan["decisions"] if d["record"]]
    expected = sorted(entry["record"] for entry in entries)
    if expected != expected_records(project.blueprint):
        yield f"the plan's records {expected} differ from the catalog's"
    actual = sorted(f for f in project.files if f.startswith("docs/decisions/"))
    if actual != expected:
        missing, extra = sorted(set(expected) - set(actual)), sorted(set(actual) - set(expected))
        yield f"docs/decisions: missing {missing}, unexpected {extra}"
    for entry in entries:
        if entry["record"] not in actual:
            continue
        text = project.text(entry["record"])
        if entry["display"] not in text:
            yield f"{entry['record']} does not mention the chosen value {entry['display']!r}"
        cost_line = next((line for line in text.splitlines() if "Cost to reverse" in line), "")
        if f"**{entry['cost']}**" not in cost_line:
            yield f"{entry['record']} does not state the cost to reverse {entry['cost']!r}"
        if entry["cost_reason"] and entry["cost_reason"] not in cost_line:
            yield f"{entry['record']} does not say why reversing costs {entry['cost']}"
        if entry["title"] not in text.splitlines()[0]:
            yield f"{entry['record']} does not open with its title {entry['title']!r}"


def _capacity_expectations(project: Rendered) -> list[tuple[str, str | None]]:
    """(label fragment, value) for the numbers table; value None: the row must be absent."""
    s, answers = project.sizing, project.answers
    pgbouncer = answers["pooling"] != "app-pool-only"
    queue = answers["queue"] != "none"
    sync = answers["concurrency"] == "sync"
    django = answers["framework"] == "django"

    def when(condition: bool, value: str) -> str | None:
        return value if condition else None

    return [
        ("WEB_CONCURRENCY", str(s["web_processes_per_pod"])),
        ("threads per web process", when(sync, str(s["web_threads_per_process"]))),
        ("web pod CPU / memory", f"{s['web_pod_cpu']} vCPU / {s['web_pod_memory_mib']} MiB"),
        ("HPA replicas", f"{s['hpa_min_replicas']} – {s['hpa_max_replicas']}"),
        ("DB pool per process", f"{s['db_pool_size']} + {s['db_max_overflow']} overflow"),
        ("worker concurrency", when(queue, str(s["worker_concurrency"]))),
        ("worker replicas", when(queue, str(s["worker_replicas"]))),
        (
            "worker pod CPU / memory",
            when(
                queue,
                f"{s['worker_pod_cpu_m']}m / {s['worker_pod_memory_mib']} MiB "
                f"({s['worker_processes_per_pod']} worker process"
                f"{'es' if s['worker_processes_per_pod'] > 1 else ''})",
            ),
        ),
        ("client connections", str(s["client_connections"])),
        ("PgBouncer replicas", when(pgbouncer, str(s["pgbouncer_replicas"]))),
        ("`max_client_conn`", when(pgbouncer, str(s["pgbouncer_max_client_conn"]))),
        (
            "`default_pool_size`",
            when(
                pgbouncer,
                f"{s['pgbouncer_default_pool_size']} / {s['pgbouncer_reserve_pool_size']}",
            ),
        ),
        ("server connections", str(s["server_connections"])),
        ("PostgreSQL `max_connections`", str(s["postgres_max_connections"])),
        ("reserved for migrations", str(s["postgres_reserved_connections"])),
        (
            "keep-alive",
            f"{s['server_keepalive_s']} s / {s['server_graceful_timeout_s']} s"
            + (f" / {s['server_timeout_s']} s" if django else ""),
        ),
        (
            "`statement_timeout` / `idle_in_transaction_session_timeout`",
            f"{s['db_statement_timeout_ms']} ms / {s['db_idle_in_transaction_timeout_ms']} ms",
        ),
        ("migrations' `lock_timeout`", f"{s['db_migration_lock_timeout_ms']} ms"),
        ("a migrate's wait for one already running", f"{s['db_migration_wait_s']} s"),
        (
            "PgBouncer `query_timeout`",
            when(
                pgbouncer,
                f"{s['pgbouncer_query_timeout_s']} s / "
                f"{s['pgbouncer_idle_transaction_timeout_s']} s",
            ),
        ),
        (
            "PgBouncer `query_wait_timeout`",
            when(
                pgbouncer,
                f"{s['pgbouncer_query_wait_timeout_s']} s / "
                f"{s['pgbouncer_server_login_retry_s']} s",
            ),
        ),
    ]


@check
def capacity_holds_the_sizing_and_formulas(project: Rendered) -> Iterator[str]:
    text = project.text("docs/capacity.md")
    parts = sections(text)
    s = project.sizing
    for what, number in (
        ("target users", project.answers["target_users"]),
        ("peak RPS", s["peak_rps"]),
        ("design RPS", s["design_rps"]),
    ):
        if f"**{number:,}" not in parts[""]:
            yield f"docs/capacity.md does not state the {what} {number:,}"
    numbers = table_rows(parts.get("The numbers", ""))
    for label, value in _capacity_expectations(project):
        rows = [row for row in numbers if label in row[0]]
        if value is None:
            if rows:
                yield f"docs/capacity.md has a {label!r} row that does not apply: {rows[0]}"
        elif len(rows) != 1:
            yield f"docs/capacity.md has {len(rows)} rows for {label!r}, want 1"
        elif rows[0][1] != value:
            yield f"docs/capacity.md {label!r} is {rows[0][1]!r}, the sizing says {value!r}"
    if s["server_connections"] + s["postgres_reserved_connections"] > s["postgres_max_connections"]:
        yield "the sizing breaks its invariant: server + reserved > max_connections"
    formulas = table_rows(parts.get("Formulas", ""))
    for what, formula in FORMULAS:
        if [what, formula] not in formulas:
            yield f"docs/capacity.md lacks the formula for {what!r}"
    assumptions = table_rows(parts.get("Assumptions", ""))
    for name, value in asdict(DEFAULT_ASSUMPTIONS).items():
        if [f"`{name}`", str(value)] not in assumptions:
            yield f"docs/capacity.md lacks the assumption {name} = {value}"
    for warning in s["warnings"]:
        if warning not in text:
            yield f"docs/capacity.md lacks the sizing warning {warning!r}"


LINK = re.compile(r"\]\(([^)\s]+)\)")


@check
def readme_names_the_project_and_links_every_record(project: Rendered) -> Iterator[str]:
    text = project.text("README.md")
    name = project.answers["project_name"]
    if text.splitlines()[0] != f"# {name}":
        yield f"README.md does not open with the project name {name!r}"
    links = LINK.findall(text)
    for record in expected_records(project.blueprint):
        if record not in links:
            yield f"README.md does not link the decision record {record}"
    for target in links:
        if "://" in target:
            continue
        if not (project.root / target.split("#")[0]).exists():
            yield f"README.md links {target}, which does not exist"
    if project.derived["codeowners_path"] not in links:
        yield "README.md does not link the CODEOWNERS file"
    rows = table_rows(sections(text).get("Decisions", ""))
    for entry in project.plan["decisions"]:
        if entry["record"]:
            link = f"[{entry['record'].rsplit('/', 1)[-1]}]({entry['record']})"
            want = [entry["title"], entry["display"], entry["cost"], link]
            if want not in rows:
                yield f"README.md decisions table has no row {want}"
    package, owners = project.blueprint.package_name, project.blueprint.owners
    for module in project.answers["modules"]:
        row = [f"`{package}.{module}`", owners[module]]
        if row not in table_rows(text):
            yield f"README.md has no row {row} for module {module}"


RUFF = Path(sys.executable).parent / "ruff"


def _scan_python_files(project: Rendered, script: str, what: str) -> Iterator[str]:
    """Run `script` with the projects' Python (>= 3.12, whose syntax ours, 3.11, cannot
    parse) over every .py file in one process; each line it prints is a problem."""
    sources = [relative for relative in project.files if relative.endswith(".py")]
    if not sources:
        return
    done = subprocess.run(
        [find_python(), "-c", script, *sources],
        cwd=project.root,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        yield f"{what} crashed: {done.stderr[-1000:]}"
    yield from done.stdout.splitlines()


@check
def python_files_compile(project: Rendered) -> Iterator[str]:
    """Every .py file compiles under the Python the projects run on."""
    yield from _scan_python_files(project, _COMPILE_EACH, "compiling")


# Prints one line per file that does not compile; run by the projects' Python.
_COMPILE_EACH = """
import sys
for path in sys.argv[1:]:
    try:
        compile(open(path, encoding="utf-8").read(), path, "exec")
    except SyntaxError as error:
        print(f"{path} does not compile: {error.msg} (line {error.lineno})")
"""


@check
def no_constant_guards(project: Rendered) -> Iterator[str]:
    """No module-level True/False constant that an `if` in the same module tests: that is an
    answer rendered as a value with the branch for the other answer left in, dead code the
    template should not have written (render the branch instead)."""
    yield from _scan_python_files(project, _CONSTANT_GUARDS, "the constant-guard scan")


# Prints one line per `if` on a module-level boolean constant; run by the projects' Python.
_CONSTANT_GUARDS = """
import ast
import sys

for path in sys.argv[1:]:
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    constants = set()
    for node in tree.body:
        value = getattr(node, "value", None)
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        if isinstance(value, ast.Constant) and isinstance(value.value, bool):
            constants |= {t.id for t in targets if isinstance(t, ast.Name)}
    for node in ast.walk(tree):
        if not isinstance(node, (ast.If, ast.IfExp, ast.While)):
            continue
        test = node.test.operand if isinstance(node.test, ast.UnaryOp) else node.test
        if isinstance(test, ast.Name) and test.id in constants:
            print(f"{path}:{node.lineno}: `if {test.id}` tests a constant the template rendered")
"""

# What a project must not mention when the option behind it was not chosen: settings, .env
# lines, imports, README sentences for someone else's stack. Decision records are exempt:
# they list the alternatives on purpose.
MEMCACHED_URL = re.compile(r"(?<!REDIS_)CACHE_URL")
UNCHOSEN_MARKERS: tuple[tuple[str, str, tuple[str | re.Pattern[str], ...]], ...] = (
    ("uses_sentry", "observability has no sentry", ("SENTRY_DSN", "sentry_sdk", "sentry-sdk")),
    ("uses_opentelemetry", "observability has no opentelemetry", ("OTEL_", "opentelemetry")),
    (
        "uses_prometheus",
        "observability has no prometheus",
        (
            "PROMETHEUS_MULTIPROC_DIR",
            "prometheus_client",
            "prometheus-client",
            "pgbouncer-exporter",
        ),
    ),
    # CACHE_URL, memcached's; not REDIS_CACHE_URL, the Redis cache's.
    ("uses_memcached", "the cache has no memcached", ("pymemcache", "memcached://", MEMCACHED_URL)),
    ("uses_rabbitmq", "the broker is not rabbitmq", ("amqp://", "RABBITMQ_")),
    ("has_queue", "there is no queue", ("BROKER_URL",)),
    ("uses_k6", "load tests have no k6", ("k6 run", "k6.js")),
    (
        "uses_jwt",
        "auth is not users-jwt",
        ("ACCESS_TOKEN_TTL_S", "REGISTRATION_OPEN", "LOADTEST_EMAIL", "/identity/token"),
    ),
    ("uses_api_keys", "auth is not api-keys", ("X-API-Key", "LOADTEST_API_KEY")),
    ("has_auth", "auth is none", ("WRITE_ACCESS", "WWW-Authenticate")),
)
# FastAPI projects keep no sessions: the files that describe the stack must not say so.
SESSIONS = re.compile(r"\bsessions\b(?! per)", re.IGNORECASE)
STACK_DESCRIPTIONS = ("README.md", "docker-compose.yml", ".env", ".env.example")


@check
def nothing_of_unchosen_options(project: Rendered) -> Iterator[str]:
    markers = [
        (marker, why)
        for flag, why, found in UNCHOSEN_MARKERS
        if not project.derived[flag]
        for marker in found
    ]
    for relative in project.files:
        if relative.startswith("docs/decisions/") or relative == ANSWERS_FILE:
            continue
        try:
            text = project.text(relative)
        except UnicodeDecodeError:
            continue
        for marker, why in markers:
            if marker.search(text) if isinstance(marker, re.Pattern) else marker in text:
                shown = marker.pattern if isinstance(marker, re.Pattern) else marker
                yield f"{relative} mentions {shown!r}, but {why}"
        if project.derived["is_fastapi"] and relative in STACK_DESCRIPTIONS:
            for match in SESSIONS.finditer(text):
                line = text[: match.start()].count("\n") + 1
                yield f"{relative}:{line} mentions sessions, which FastAPI projects do not keep"


@check
def python_files_pass_ruff(project: Rendered) -> Iterator[str]:
    """Ruff with the project's own configuration, as the project's `make lint` runs it."""
    if not any(relative.endswith(".py") for relative in project.files):
        return
    for argv in (["check", "--no-cache", "."], ["format", "--check", "--no-cache", "."]):
        done = subprocess.run(
            [str(RUFF), *argv], cwd=project.root, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            yield f"ruff {argv[0]} fails:\n{done.stdout[-2000:]}{done.stderr[-500:]}"


# ------------------------------------------------------------------ deployment and CI

KUBERNETES_DIR = "deploy/kubernetes/"


def _yaml_documents(project: Rendered, relative: str) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(project.text(relative)) if doc is not None]


@check
def kubernetes_manifests_are_complete_and_sized(project: Rendered) -> Iterator[str]:
    """Every manifest names its apiVersion, kind and metadata.name; the HPA holds the sizing."""
    manifests = [
        relative
        for relative in project.files
        if relative.startswith(KUBERNETES_DIR) and relative.endswith((".yml", ".yaml"))
    ]
    if not project.derived["uses_kubernetes"]:
        if manifests:
            yield f"Kubernetes manifests rendered though not asked for: {manifests}"
        return
    for required in (
        f"{KUBERNETES_DIR}base/kustomization.yaml",
        f"{KUBERNETES_DIR}overlays/production/kustomization.yaml",
    ):
        if required not in manifests:
            yield f"{required} is missing"
    hpas: list[dict[str, Any]] = []
    for relative in manifests:
        for document in _yaml_documents(project, relative):
            if not isinstance(document, dict):
                yield f"{relative}: a document is not a mapping"
                continue
            metadata = document.get("metadata")
            name = metadata.get("name") if isinstance(metadata, dict) else None
            for key, value in (
                ("apiVersion", document.get("apiVersion")),
                ("kind", document.get("kind")),
                ("metadata.name", name),
            ):
                if not value:
                    yield f"{relative}: a {document.get('kind', '?')} document lacks {key}"
            if document.get("kind") == "HorizontalPodAutoscaler":
                hpas.append(document)
    if not hpas:
        yield "no HorizontalPodAutoscaler under deploy/kubernetes"
    for hpa in hpas:
        spec = hpa.get("spec") or {}
        bounds = (spec.get("minReplicas"), spec.get("maxReplicas"))
        expected = (project.sizing["hpa_min_replicas"], project.sizing["hpa_max_replicas"])
        if bounds != expected:
            yield f"HPA {hpa['metadata'].get('name')} replicas {bounds}, sizing says {expected}"


PGBOUNCER_INI = "deploy/pgbouncer/pgbouncer.ini"
PGBOUNCER_MANIFEST = f"{KUBERNETES_DIR}base/pgbouncer.yaml"


def _ini_section(text: str, section: str) -> dict[str, str]:
    parser = configparser.ConfigParser(comment_prefixes=(";",), inline_comment_prefixes=None)
    parser.read_string(text)
    return dict(parser[section])


def _pgbouncer_configs(project: Rendered) -> Iterator[tuple[str, str]]:
    """(where, pgbouncer.ini text): the Compose file's and the Kubernetes ConfigMap's."""
    yield PGBOUNCER_INI, project.text(PGBOUNCER_INI)
    if project.derived["uses_kubernetes"]:
        for document in _yaml_documents(project, PGBOUNCER_MANIFEST):
            if document.get("kind") == "ConfigMap":
                yield f"{PGBOUNCER_MANIFEST} ConfigMap", document["data"]["pgbouncer.ini"]


@check
def pgbouncer_configs_hold_the_sizing_and_agree(project: Rendered) -> Iterator[str]:
    """Both pgbouncer.ini copies (Compose, Kubernetes) have the sizing's pool and timeouts,
    and the same value for every setting they share."""
    if project.answers["pooling"] == "app-pool-only":
        return
    s = project.sizing
    expected = {
        "pool_mode": project.derived["pgbouncer_pool_mode"],
        "max_client_conn": s["pgbouncer_max_client_conn"],
        "default_pool_size": s["pgbouncer_default_pool_size"],
        "reserve_pool_size": s["pgbouncer_reserve_pool_size"],
        "query_wait_timeout": s["pgbouncer_query_wait_timeout_s"],
        "server_login_retry": s["pgbouncer_server_login_retry_s"],
        "query_timeout": s["pgbouncer_query_timeout_s"],
        "idle_transaction_timeout": s["pgbouncer_idle_transaction_timeout_s"],
    }
    if project.derived["pgbouncer_pool_mode"] == "transaction":
        # The drivers make no named prepared statements; PgBouncer must not pretend to route them.
        expected["max_prepared_statements"] = 0
    seen: dict[str, dict[str, str]] = {}
    for where, text in _pgbouncer_configs(project):
        settings = seen[where] = _ini_section(text, "pgbouncer")
        for key, value in expected.items():
            if settings.get(key) != str(value):
                yield f"{where}: {key} = {settings.get(key)!r}, the sizing says {value!r}"
    if len(seen) == 2:
        first, second = seen.values()
        for key in sorted(first.keys() & second.keys()):
            if first[key] != second[key]:
                yield f"the PgBouncer configs disagree on {key}: {first[key]!r} / {second[key]!r}"


CI_FILES = {"github": ".github/workflows/ci.yml", "gitlab": ".gitlab-ci.yml"}


@check
def ci_workflow_parses_and_runs_lint_and_tests(project: Rendered) -> Iterator[str]:
    provider = project.answers.get("ci")
    wanted = CI_FILES.get(provider)
    for other in set(CI_FILES.values()) - {wanted}:
        if other in project.files:
            yield f"{other} rendered though ci is {provider!r}"
    if wanted is None:
        return
    if wanted not in project.files:
        yield f"{wanted} is missing (ci: {provider})"
        return
    documents = _yaml_documents(project, wanted)
    if len(documents) != 1 or not isinstance(documents[0], dict):
        yield f"{wanted} is not one YAML mapping"
        return
    scripts = _ci_scripts(provider, documents[0])
    for command in ("make lint", "make test"):
        if not any(command in script for script in scripts):
            yield f"{wanted} never runs `{command}`"


def _ci_scripts(provider: str, document: dict[str, Any]) -> list[str]:
    """The shell commands a CI file runs (a step's `run`, a GitLab job's `script`), not its
    comments or names."""
    if provider == "github":
        jobs = document.get("jobs") or {}
        steps = [step for job in jobs.values() for step in job.get("steps") or []]
        return [str(step["run"]) for step in steps if "run" in step]
    jobs = [job for job in document.values() if isinstance(job, dict)]
    return [str(line) for job in jobs for line in job.get("script") or []]


COMPOSE_FILE = "docker-compose.yml"
WORKER_MANIFEST = f"{KUBERNETES_DIR}base/worker.yaml"


def _make_recipe(makefile: str, target: str) -> str | None:
    """The first command line of `target` in a Makefile, without `uv run`; None if absent."""
    match = re.search(rf"^{re.escape(target)}:.*\n\t(?:@)?(.+)$", makefile, re.MULTILINE)
    return match.group(1).removeprefix("uv run ").strip() if match else None


def _deployments(project: Rendered) -> dict[str, dict[str, Any]]:
    if WORKER_MANIFEST not in project.files:
        return {}
    return {
        doc["metadata"]["name"]: doc
        for doc in _yaml_documents(project, WORKER_MANIFEST)
        if isinstance(doc, dict) and doc.get("kind") == "Deployment"
    }


@check
def worker_runs_the_same_command_everywhere(project: Rendered) -> Iterator[str]:
    """With a queue, `make worker` (and `make scheduler`), the Compose services and the
    Kubernetes Deployments run the same command, with the sized replicas; without, none."""
    slug = project.plan["project"]["slug"]
    compose = yaml.safe_load(project.text(COMPOSE_FILE))["services"]
    deployments = _deployments(project)
    makefile = project.text("Makefile")
    if project.answers.get("queue") == "none":
        for name in ("worker", "scheduler"):
            if name in compose:
                yield f"{COMPOSE_FILE} has a {name} service without a queue"
        if deployments:
            yield f"{WORKER_MANIFEST} rendered without a queue"
        return
    for role in ("worker", "scheduler"):
        command = _make_recipe(makefile, role)
        service = compose.get(role)
        deployment = deployments.get(f"{slug}-{role}")
        if role == "worker" and command is None:
            yield "Makefile has no `worker` target"
            continue
        if command is None:
            for where, found in ((COMPOSE_FILE, service), (WORKER_MANIFEST, deployment)):
                if found is not None:
                    yield f"{where} runs a {role} the Makefile does not have"
            continue
        if service is None or service.get("command") != command.split():
            yield f"{COMPOSE_FILE} service {role!r} does not run `{command}`"
        if project.derived["uses_kubernetes"]:
            containers = (deployment or {}).get("spec", {}).get("template", {}).get("spec", {})
            argv = [c.get("command") for c in containers.get("containers", [])]
            if argv != [command.split()]:
                yield f"{WORKER_MANIFEST}: Deployment {slug}-{role} does not run `{command}`"
    worker = deployments.get(f"{slug}-worker")
    replicas = worker["spec"].get("replicas") if worker else None
    if worker is not None and replicas != project.sizing["worker_replicas"]:
        yield f"worker replicas {replicas}, sizing says {project.sizing['worker_replicas']}"
    if worker is not None:
        yield from _worker_resources(project, worker)


def _worker_resources(project: Rendered, worker: dict[str, Any]) -> Iterator[str]:
    """The worker's resources are the sizing's worker pod, not the web pod's."""
    s = project.sizing
    want = {
        "requests": {
            "cpu": f"{s['worker_pod_cpu_m']}m",
            "memory": f"{s['worker_pod_memory_mib']}Mi",
        },
        "limits": {"memory": f"{s['worker_pod_memory_mib']}Mi"},
    }
    (container,) = worker["spec"]["template"]["spec"]["containers"]
    found = container.get("resources")
    if found != want:
        yield f"{WORKER_MANIFEST}: the worker's resources are {found}, want {want}"


@check
def worker_liveness_is_probed(project: Rendered) -> Iterator[str]:
    """With a queue, the worker's liveness check (core/heartbeat.py) is what the Kubernetes
    worker's livenessProbe and startupProbe and the Compose worker's healthcheck run; the
    kubelet gives each run less time than the period between two."""
    if project.answers.get("queue") == "none":
        return
    package = project.blueprint.package_name
    argv = ["python", "-m", f"{package}.core.heartbeat", "check"]
    if f"src/{package}/core/heartbeat.py" not in project.files:
        yield f"src/{package}/core/heartbeat.py is missing"
    worker = yaml.safe_load(project.text(COMPOSE_FILE))["services"].get("worker") or {}
    if (worker.get("healthcheck") or {}).get("test") != ["CMD", *argv]:
        yield f"{COMPOSE_FILE}: the worker's healthcheck does not run `{' '.join(argv)}`"
    if not project.derived["uses_kubernetes"]:
        return
    deployment = _deployments(project).get(f"{project.plan['project']['slug']}-worker") or {}
    containers = deployment.get("spec", {}).get("template", {}).get("spec", {}).get("containers")
    for container in containers or [{}]:
        for kind in ("livenessProbe", "startupProbe"):
            probe = container.get(kind) or {}
            if (probe.get("exec") or {}).get("command") != argv:
                yield f"{WORKER_MANIFEST}: the worker's {kind} does not run `{' '.join(argv)}`"
            elif not probe.get("timeoutSeconds", 1) < probe.get("periodSeconds", 10):
                yield f"{WORKER_MANIFEST}: the worker's {kind} may run longer than its period"


# ------------------------------------------------- each framework's side of the operations

WEB_MANIFEST = f"{KUBERNETES_DIR}base/web.yaml"
CONTRACT_TARGETS = (
    "services",
    "install",
    "audit",
    "lint",
    "migrate",
    "test",
    "run",
    "dev",
    "worker",
    "loadtest",
)
COMMON_LINT = ("ruff check .", "ruff format --check .", "mypy", "lint-imports")
#: The commands of the operations contract that differ by framework (the Django plan fixes
#: Django's: deployment checks with HTTPS on, migrations through the `direct` alias, gunicorn).
FRAMEWORK_LINT = {
    "fastapi": (),
    "django": (
        "HTTPS_ONLY=true DEBUG=false uv run python manage.py check --deploy --fail-level WARNING",
        "uv run python manage.py makemigrations --check --dry-run",
    ),
}
MIGRATE_COMMAND = {
    "fastapi": "alembic upgrade head",
    "django": "python manage.py migrate --settings {package}.settings.migrations --database direct",
}


def _web_command(project: Rendered) -> str:
    """The start of the production server's command line, from the framework and concurrency."""
    package = project.blueprint.package_name
    if project.answers["framework"] == "django":
        entry = "asgi" if project.answers["concurrency"] == "async" else "wsgi"
        return f"gunicorn --config python:{package}.gunicorn_conf {package}.{entry}:application"
    if "prometheus" in project.answers["observability"]:
        return f"python -m {package}.serve"  # uvicorn on PORT and METRICS_PORT
    return f"uvicorn {package}.main:create_app --factory"


def _make_recipe_lines(makefile: str, target: str) -> list[str]:
    """Every command line of `target` in a Makefile (tab-indented lines after its rule)."""
    match = re.search(rf"^{re.escape(target)}:.*\n((?:\t.*\n?)*)", makefile, re.MULTILINE)
    return [line.strip() for line in match.group(1).splitlines()] if match else []


@check
def makefile_wraps_the_framework_commands(project: Rendered) -> Iterator[str]:
    """Every target of the contract exists; lint, run and the image run the framework's
    commands (the Makefile's and the Dockerfile's server are the same)."""
    makefile, framework = project.text("Makefile"), project.answers["framework"]
    phony = next((line for line in makefile.splitlines() if line.startswith(".PHONY:")), "")
    for target in CONTRACT_TARGETS:
        if not _make_recipe_lines(makefile, target):
            yield f"Makefile has no `{target}` target with a command"
        if target not in phony.split():
            yield f"Makefile's .PHONY lacks {target}"
    lint = _make_recipe_lines(makefile, "lint")
    wanted = [f"uv run {command}" for command in COMMON_LINT] + list(FRAMEWORK_LINT[framework])
    for command in wanted:
        if not any(line.startswith(command) for line in lint):
            yield f"`make lint` does not run `{command}`"
    web = _web_command(project)
    run = _make_recipe_lines(makefile, "run")
    if not any(line.startswith("uv run sh -c '") and f"exec {web}" in line for line in run):
        yield f"`make run` does not run `{web}` inside `uv run` (which reads .env)"
    cmd = next((ln for ln in project.text("Dockerfile").splitlines() if ln.startswith("CMD ")), "")
    argv = json.loads(cmd.removeprefix("CMD ")) if cmd else []
    if not (argv[:2] == ["sh", "-c"] and f"exec {web}" in argv[-1]):
        yield f"the Dockerfile's CMD {argv} does not exec `{web}`"


@check
def next_steps_and_services_are_make_targets(project: Rendered) -> Iterator[str]:
    """Every `make` command `scalekit new` prints is a target of this Makefile; `make services`
    starts Compose services that exist, each with a healthcheck (`--wait` waits for it), and
    .env holds the passwords Compose needs for them."""
    makefile = project.text("Makefile")
    steps = views.next_steps(project.root, project.files)
    for step in steps:
        command = step.split("#")[0].split()
        if command[:1] == ["make"] and not _make_recipe_lines(makefile, command[1]):
            yield f"the next steps print `{' '.join(command)}`, which the Makefile lacks"
    services = yaml.safe_load(project.text(COMPOSE_FILE))["services"]
    recipe = _make_recipe_lines(makefile, "services")
    up = next((line for line in recipe if "--wait" in line), "")
    started = up.split("--wait", 1)[-1].split()
    # PostgreSQL runs it only on an empty volume: an older one would keep its old roles.
    if not any("exec -T postgres psql" in line and ROLES_SQL_MOUNT in line for line in recipe):
        yield f"`make services` does not apply {ROLES_SQL} again once PostgreSQL is up"
    for name in started:
        if "healthcheck" not in services.get(name, {}):
            yield f"`make services` starts {name!r}, which has no healthcheck in {COMPOSE_FILE}"
    wanted = {"postgres", "redis"} | ({"pgbouncer"} if project.derived["uses_pgbouncer"] else set())
    if missing := wanted - set(started):
        yield f"`make services` does not start {sorted(missing)}"
    env = dict(parse_env(project.text(".env")))
    for variable in re.findall(r"\$\{(\w+):\?", project.text(COMPOSE_FILE)):
        if not env.get(variable):
            yield f".env lacks {variable}, which {COMPOSE_FILE} requires"


@check
def migrations_run_the_same_command_everywhere(project: Rendered) -> Iterator[str]:
    """`make migrate`, the Compose one-shot and the init container of every Kubernetes pod that
    runs the application's code (web, worker) apply the migrations with the framework's
    command; no separate Job is left to order and delete by hand."""
    command = MIGRATE_COMMAND[project.answers["framework"]].format(
        package=project.blueprint.package_name
    )
    if _make_recipe(project.text("Makefile"), "migrate") != command:
        yield f"`make migrate` does not run `{command}`"
    service = yaml.safe_load(project.text(COMPOSE_FILE))["services"].get("migrations") or {}
    if service.get("command") != command.split():
        yield f"{COMPOSE_FILE} service 'migrations' does not run `{command}`"
    if not project.derived["uses_kubernetes"]:
        return
    slug = project.plan["project"]["slug"]
    manifests = [WEB_MANIFEST] + ([WORKER_MANIFEST] if project.derived["has_queue"] else [])
    for manifest in manifests:
        for document in _yaml_documents(project, manifest):
            name = document.get("metadata", {}).get("name")
            if document.get("kind") != "Deployment" or name == f"{slug}-scheduler":
                continue
            pod = document["spec"]["template"]["spec"]
            argv = [c.get("command") for c in pod.get("initContainers", [])]
            if argv != [command.split()]:
                yield f"{manifest}: Deployment {name} does not run `{command}` before it starts"
    leftover = [path for path in project.files if path.startswith(KUBERNETES_DIR) and "job" in path]
    if leftover:
        yield f"a migrations Job is still rendered: {leftover}"


def _compose_app_environment(project: Rendered) -> dict[str, Any]:
    services = yaml.safe_load(project.text(COMPOSE_FILE))["services"]
    return dict((services.get("web") or {}).get("environment") or {})


@check
def django_environment_reaches_every_deployment(project: Rendered) -> Iterator[str]:
    """Django's own settings (ALLOWED_HOSTS, HTTPS_ONLY) are set where the service runs: off
    over plain HTTP (Compose, the CI's load gate), on in Kubernetes; FastAPI has neither."""
    django = project.answers["framework"] == "django"
    wanted: list[tuple[str, dict[str, Any], dict[str, str]]] = [
        (
            COMPOSE_FILE,
            _compose_app_environment(project),
            {"HTTPS_ONLY": "${HTTPS_ONLY:-false}", "ALLOWED_HOSTS": "${ALLOWED_HOSTS:-"},
        )
    ]
    provider = project.answers["ci"]
    if provider in CI_FILES:
        (document,) = _yaml_documents(project, CI_FILES[provider])
        job = document["jobs"]["test"] if provider == "github" else document["test"]
        environment = job.get("env" if provider == "github" else "variables") or {}
        wanted.append((CI_FILES[provider], environment, {"HTTPS_ONLY": "false"}))
    if project.derived["uses_kubernetes"]:
        (configmap,) = _yaml_documents(project, f"{KUBERNETES_DIR}base/configmap.yaml")
        wanted.append(
            (
                "the Kubernetes ConfigMap",
                configmap.get("data") or {},
                {"HTTPS_ONLY": "true", "ALLOWED_HOSTS": project.plan["project"]["slug"]},
            )
        )
    for where, environment, expected in wanted:
        for key, value in expected.items():
            if not django:
                if key in environment:
                    yield f"{where} sets Django's {key} in a FastAPI project"
            elif not str(environment.get(key, "")).startswith(value):
                yield f"{where}: {key}={environment.get(key)!r}, want it to start with {value!r}"


def _redis_flag(service: dict[str, Any], flag: str) -> str | None:
    """The value after `flag` in a Compose service's redis-server command; None if absent."""
    command = service.get("command") or []
    if flag not in command or command.index(flag) + 1 >= len(command):
        return None
    return str(command[command.index(flag) + 1])


@check
def redis_roles_have_their_eviction_policies(project: Rendered) -> Iterator[str]:
    """Durable state (REDIS_URL: rate limits, sessions, a Redis broker) on a Redis that never
    evicts; a Redis cache on one of its own (REDIS_CACHE_URL) that is bounded and evicts."""
    services = yaml.safe_load(project.text(COMPOSE_FILE))["services"]
    environment = _compose_app_environment(project)
    redis_cache = bool(project.derived["uses_redis_cache"])
    durable = services.get("redis") or {}
    if _redis_flag(durable, "--maxmemory-policy") != "noeviction":
        yield f"{COMPOSE_FILE}: service 'redis' (durable state) is not noeviction"
    wanted_hosts = {"REDIS_URL": "redis"}
    if str(environment.get("BROKER_URL", "")).startswith("redis"):
        wanted_hosts["BROKER_URL"] = "redis"
    if redis_cache:
        wanted_hosts["REDIS_CACHE_URL"] = "redis-cache"
        cache = services.get("redis-cache") or {}
        if _redis_flag(cache, "--maxmemory-policy") != "allkeys-lru":
            yield f"{COMPOSE_FILE}: service 'redis-cache' is not --maxmemory-policy allkeys-lru"
        if not _redis_flag(cache, "--maxmemory"):
            yield f"{COMPOSE_FILE}: service 'redis-cache' has no --maxmemory bound"
    elif "redis-cache" in services or "REDIS_CACHE_URL" in environment:
        yield f"{COMPOSE_FILE}: a Redis cache with cache={project.answers['cache']}"
    for key, host in wanted_hosts.items():
        if urlsplit(str(environment.get(key, ""))).hostname != host:
            yield f"{COMPOSE_FILE}: {key}={environment.get(key)!r} is not on service '{host}'"
    for filename in (".env", ".env.example"):
        if ("REDIS_CACHE_URL" in dict(project.env(filename))) != redis_cache:
            yield f"{filename}: REDIS_CACHE_URL with cache={project.answers['cache']}"


# --------------------------------------------------------------------------- supply chain

PRE_COMMIT_FILE = ".pre-commit-config.yaml"
RUFF_HOOKS_REPO = "https://github.com/astral-sh/ruff-pre-commit"


@check
def builds_install_only_what_uv_lock_pins(project: Rendered) -> Iterator[str]:
    """The image and CI install from uv.lock (`uv sync --locked`: a missing or stale lock
    fails them), and CI audits the locked dependencies (`make audit`, pip-audit)."""
    dockerfile = project.text("Dockerfile")
    syncs = [line for line in dockerfile.splitlines() if "uv sync" in line]
    if not syncs:
        yield "the Dockerfile never runs `uv sync`"
    for line in syncs:
        if "--locked" not in line:
            yield f"the Dockerfile installs without --locked: {line.strip()!r}"
    if not re.search(r"^COPY pyproject\.toml uv\.lock ", dockerfile, re.MULTILINE):
        yield "the Dockerfile does not copy uv.lock (required, not `uv.lock*`)"
    makefile = project.text("Makefile")
    if _make_recipe_lines(makefile, "install") != ["uv sync $(UV_SYNC_FLAGS)"]:
        yield f"`make install` is {_make_recipe_lines(makefile, 'install')}"
    audit = " ".join(_make_recipe_lines(makefile, "audit"))
    for part in ("uv export --locked", "pip-audit"):
        if part not in audit:
            yield f"`make audit` does not run `{part}`: {audit!r}"
    provider = project.answers.get("ci")
    if provider in CI_FILES:
        scripts = _ci_scripts(provider, _yaml_documents(project, CI_FILES[provider])[0])
        for command in ("make install UV_SYNC_FLAGS=--locked", "make audit"):
            if command not in scripts:
                yield f"{CI_FILES[provider]} never runs `{command}`"


def _pinned_dev_tool(pyproject: str, name: str) -> str | None:
    """The version `name==X` the dev dependency group pins, None when it pins none."""
    group = tomllib.loads(pyproject).get("dependency-groups", {}).get("dev", [])
    pins = [str(spec).split("==", 1)[1] for spec in group if str(spec).startswith(f"{name}==")]
    return pins[0] if len(pins) == 1 else None


@check
def pre_commit_runs_the_pinned_ruff(project: Rendered) -> Iterator[str]:
    """The pre-commit hook's ruff is the one `make lint` runs (pyproject.toml's dev group):
    two versions would disagree on what is clean."""
    pinned = _pinned_dev_tool(project.text("pyproject.toml"), "ruff")
    if pinned is None:
        yield "pyproject.toml's dev group pins no single ruff==X"
        return
    config = yaml.safe_load(project.text(PRE_COMMIT_FILE))
    revs = [repo.get("rev") for repo in config["repos"] if repo.get("repo") == RUFF_HOOKS_REPO]
    if revs != [f"v{pinned}"]:
        yield f"{PRE_COMMIT_FILE} runs ruff-pre-commit {revs}, pyproject.toml pins ruff=={pinned}"


def generated_secrets(env: list[tuple[str, str]]) -> dict[str, str]:
    """Every secret the render generated into .env (`secrets_of`), and every other password
    that one of .env's database URLs holds, by where it was found. A broker's well-known
    development login (RabbitMQ's guest:guest) is no generated secret."""
    found = {name: value for name, value in secrets_of(env).items() if value}
    for key, value in env:
        if not (key in POSTGRES_URL_KEYS or key == "DATABASE_REPLICA_URLS"):
            continue
        for n, url in enumerate(value.split(",")):
            if password := urlsplit(url).password:
                found[f"the password in {key}[{n}]"] = password
    return found


@check
def no_generated_secret_outside_the_ignored_env(project: Rendered) -> Iterator[str]:
    """The render's secrets live in .env (git-ignored) only: no other file, tracked or not,
    the answers file included, holds one of them."""
    secrets = generated_secrets(project.env(".env"))
    if "SECRET_KEY" not in secrets:
        yield ".env has no SECRET_KEY"
    for relative in project.files:
        if relative == ".env":
            continue
        content = (project.root / relative).read_bytes()
        for where, secret in secrets.items():
            if secret.encode() in content:
                yield f"{relative} holds the generated secret of .env ({where})"


ROLES_SQL = "deploy/postgres/roles.sql"
ROLES_SQL_MOUNT = "/docker-entrypoint-initdb.d/roles.sql"
MIGRATIONS_SECRET = "{slug}-migrate"


@check
def only_the_migrations_are_given_the_schema_owner(project: Rendered) -> Iterator[str]:
    """DATABASE_MIGRATIONS_URL (the role that owns the schema) reaches the migrations alone:
    Compose's `migrations` service, and in Kubernetes the migrate init containers, through a
    Secret of their own; never web, worker or scheduler."""
    services = yaml.safe_load(project.text(COMPOSE_FILE))["services"]
    for name, service in services.items():
        has_it = "DATABASE_MIGRATIONS_URL" in (service.get("environment") or {})
        if has_it != (name == "migrations"):
            yield f"{COMPOSE_FILE}: service {name!r} {'is' if has_it else 'is not'} given it"
    if not project.derived["uses_kubernetes"]:
        return
    secret = MIGRATIONS_SECRET.format(slug=project.plan["project"]["slug"])
    for relative in sorted(project.files):
        if not relative.startswith(KUBERNETES_DIR) or not relative.endswith(".yaml"):
            continue
        for document in _yaml_documents(project, relative):
            if document.get("kind") != "Deployment":
                continue
            pod = document["spec"]["template"]["spec"]
            for kind in ("initContainers", "containers"):
                for container in pod.get(kind) or []:
                    refs = [
                        source.get("secretRef", {}).get("name")
                        for source in container.get("envFrom") or []
                    ]
                    refs += [variable.get("name") for variable in container.get("env") or []]
                    has_it = secret in refs or "DATABASE_MIGRATIONS_URL" in refs
                    migrates = kind == "initContainers" and container.get("name") == "migrate"
                    if has_it != migrates:
                        yield (
                            f"{relative}: {container.get('name')} {'loads' if has_it else 'lacks'}"
                            f" the Secret {secret}"
                        )


@check
def pgbouncer_gives_the_application_no_console(project: Rendered) -> Iterator[str]:
    """No application role administers PgBouncer: no admin user at all, and SHOW only for
    the stats user, a login of PgBouncer's own."""
    if project.answers["pooling"] == "app-pool-only":
        return
    package = project.blueprint.package_name
    for where, text in _pgbouncer_configs(project):
        settings = _ini_section(text, "pgbouncer")
        if settings.get("admin_users"):
            yield f"{where}: admin_users = {settings['admin_users']!r}; want none"
        if settings.get("stats_users") != f"{package}_stats":
            yield f"{where}: stats_users = {settings.get('stats_users')!r}, not {package}_stats"


@check
def slow_queries_and_pool_metrics_are_wired(project: Rendered) -> Iterator[str]:
    """Compose's PostgreSQL loads pg_stat_statements, roles.sql creates it and gives the
    monitoring role (never the application's) pg_read_all_stats, `make slow-queries` exists;
    with PgBouncer and Prometheus, an exporter reads each PgBouncer's pools (Compose, and the
    Kubernetes PgBouncer pod) as the stats user."""
    package = project.blueprint.package_name
    services = yaml.safe_load(project.text(COMPOSE_FILE))["services"]
    if "shared_preload_libraries=pg_stat_statements" not in services["postgres"]["command"]:
        yield f"{COMPOSE_FILE}: PostgreSQL does not load pg_stat_statements"
    roles_sql = project.text(ROLES_SQL)
    for needed in (
        "CREATE EXTENSION IF NOT EXISTS pg_stat_statements;",
        f"GRANT pg_read_all_stats TO {package}_monitoring;",
    ):
        if needed not in roles_sql:
            yield f"{ROLES_SQL} lacks {needed!r}"
    if re.search(rf"GRANT pg_read_all_stats TO {package}\b(?!_)", roles_sql):
        yield f"{ROLES_SQL} lets the application's role read every role's statements"
    if not re.search(r"^slow-queries:", project.text("Makefile"), re.MULTILINE):
        yield "Makefile has no slow-queries target"
    wants_exporter = project.derived["uses_pgbouncer"] and project.derived["uses_prometheus"]
    exporter = services.get("pgbouncer-exporter")
    if wants_exporter != (exporter is not None):
        yield f"{COMPOSE_FILE}: pgbouncer-exporter {'missing' if wants_exporter else 'unwanted'}"
    if exporter is not None:
        environment = exporter["environment"]
        string = environment["PGBOUNCER_EXPORTER_CONNECTION_STRING"]
        if not string.startswith(f"postgres://{package}_stats@"):
            # A password in the URL breaks on `@`, `/`, `:` or `%`: it goes in PGPASSWORD.
            yield (
                f"{COMPOSE_FILE}: pgbouncer-exporter does not log in as {package}_stats "
                "with no password in its URL"
            )
        if "PGBOUNCER_STATS_PASSWORD" not in str(environment.get("PGPASSWORD", "")):
            yield f"{COMPOSE_FILE}: pgbouncer-exporter's PGPASSWORD is not the stats password"
    if wants_exporter and project.derived["uses_kubernetes"]:
        containers = [
            container["name"]
            for document in _yaml_documents(project, PGBOUNCER_MANIFEST)
            if document.get("kind") == "Deployment"
            for container in document["spec"]["template"]["spec"]["containers"]
        ]
        if "pgbouncer-exporter" not in containers:
            yield f"{PGBOUNCER_MANIFEST}: no pgbouncer-exporter beside PgBouncer"


@check
def compose_connects_as_the_separate_roles(project: Rendered) -> Iterator[str]:
    """Compose's application connects as its own role, its migrations as the schema's owner,
    and PostgreSQL's first start makes both with deploy/postgres/roles.sql."""
    package = project.blueprint.package_name
    services = yaml.safe_load(project.text(COMPOSE_FILE))["services"]
    environment = dict(services["migrations"].get("environment") or {})
    for key, user in (
        ("DATABASE_URL", package),
        ("DATABASE_MIGRATIONS_URL", f"{package}_migrations"),
    ):
        # Not urlsplit: the password is a ${VAR:?message} substitution, `?` and all.
        found = re.match(r"postgresql://([^:@/]+)[:@]", str(environment.get(key, "")))
        if not found or found.group(1) != user:
            yield f"{COMPOSE_FILE}: {key} does not connect as {user}"
    postgres = yaml.safe_load(project.text(COMPOSE_FILE))["services"]["postgres"]
    mounts = [str(volume) for volume in postgres.get("volumes") or []]
    if f"./{ROLES_SQL}:{ROLES_SQL_MOUNT}:ro" not in mounts:
        yield f"{COMPOSE_FILE}: PostgreSQL does not run {ROLES_SQL} at its first start"
    if postgres["environment"].get("POSTGRES_USER") in {package, f"{package}_migrations"}:
        yield f"{COMPOSE_FILE}: a role of the application is PostgreSQL's superuser"
    roles_sql = project.text(ROLES_SQL)
    for needed in (f"CREATE ROLE {package}_migrations", f"CREATE ROLE {package}'"):
        if needed not in roles_sql:
            yield f"{ROLES_SQL} lacks {needed!r}"


# A feature flag's copy lives in Redis only (flags/service.py): one shared copy, no process
# keeps one of its own, so text that says a process holds, drops or refreshes its own copy, or
# caches flags per process, is false.
PROCESS_COPY_CLAIM = re.compile(
    r"process(?:es)?\s+(?:holding|that hold|hold|drops?|keeps?)\s+(?:a|their|its)\s+"
    r"(?:own\s+)?copy|per[- ]process\s+(?:flag\s+)?cache"
    r"|each process reads a flag",
    re.IGNORECASE,
)


@check
def feature_flag_texts_name_the_one_copy_in_redis(project: Rendered) -> Iterator[str]:
    """What the code, Makefile, .env files and docs say about FEATURE_FLAG_CACHE_S and flag
    copies matches the code: Redis holds the one copy, no process a copy of its own."""
    for relative in project.files:
        if not relative.endswith((".py", ".md", "Makefile", ".env", ".env.example")):
            continue
        text = project.text(relative)
        for match in PROCESS_COPY_CLAIM.finditer(text):
            yield f"{relative}: {match.group(0)!r}: flags have no copy in a process, only in Redis"
