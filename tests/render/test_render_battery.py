"""The battery itself: it passes a good render and catches each kind of broken one.

One FastAPI and one Django project are rendered; each test breaks a copy of one in one way and
expects the named check to report it. A battery check that cannot fail would show up here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from scalekit_gen.blueprint import Blueprint
from scalekit_gen.render import render_project

from .battery import CHECKS, Rendered, check_rendered_project
from .support import block_network, blueprint_for

Mutation = Callable[[Path], None]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Blueprint, Path]:
    blueprint = blueprint_for(
        {"read_replicas": 1, "modules": ["billing", "accounts"], "owners": {"billing": "@a/pay"}}
    )
    root = tmp_path_factory.mktemp("battery") / "good"
    with block_network() as attempts:
        render_project(blueprint, root, git=False)
    assert not attempts
    return blueprint, root


@pytest.fixture(scope="module")
def rendered_django(tmp_path_factory: pytest.TempPathFactory) -> tuple[Blueprint, Path]:
    """Django, async (the ASGI entry point), on GitLab CI: the other side of each shared file."""
    blueprint = blueprint_for({"framework": "django", "concurrency": "async", "ci": "gitlab"})
    root = tmp_path_factory.mktemp("battery-django") / "good"
    with block_network() as attempts:
        render_project(blueprint, root, git=False)
    assert not attempts
    return blueprint, root


def _edit(relative: str, old: str, new: str) -> Mutation:
    def mutate(root: Path) -> None:
        path = root / relative
        text = path.read_text("utf-8")
        assert old in text, f"{old!r} not in {relative}: the mutation needs updating"
        path.write_text(text.replace(old, new, 1), "utf-8")

    return mutate


def _write(relative: str, text: str) -> Mutation:
    def mutate(root: Path) -> None:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text, "utf-8")

    return mutate


def _delete(relative: str) -> Mutation:
    return lambda root: (root / relative).unlink()


def _secret_into(relative: str, variable: str) -> Mutation:
    """Appends to `relative` the secret in .env's `variable` (a password, for a URL)."""

    def mutate(root: Path) -> None:
        value = next(
            line.partition("=")[2]
            for line in (root / ".env").read_text("utf-8").splitlines()
            if line.startswith(variable)
        )
        secret = urlsplit(value).password if "://" in value else value
        assert secret
        with (root / relative).open("a", encoding="utf-8") as target:
            target.write(f"\n# {secret}\n")

    return mutate


def _secret_into_answers(root: Path) -> None:
    secret = next(
        line.partition("=")[2]
        for line in (root / ".env").read_text("utf-8").splitlines()
        if line.startswith("SECRET_KEY=")
    )
    with (root / ".copier-answers.yml").open("a", encoding="utf-8") as answers:
        answers.write(f"secret: {secret}\n")


def _swap_env_example_lines(root: Path) -> None:
    path = root / ".env.example"
    lines = path.read_text("utf-8").splitlines()
    i, j = (n for n, line in enumerate(lines) if line.startswith(("LOG_LEVEL=", "PORT=")))
    lines[i], lines[j] = lines[j], lines[i]
    path.write_text("\n".join(lines) + "\n", "utf-8")


def _env_example_sets_log_level_twice(root: Path) -> None:
    with (root / ".env.example").open("a", encoding="utf-8") as example:
        example.write("LOG_LEVEL=DEBUG\n")


MUTATIONS: dict[str, tuple[Mutation, str]] = {
    "env-variable-set-twice": (_env_example_sets_log_level_twice, "each_variable_once"),
    "durable-redis-evicts": (
        _edit(
            "docker-compose.yml",
            '"--maxmemory-policy", "noeviction"',
            '"--maxmemory-policy", "allkeys-lru"',
        ),
        "redis_roles",
    ),
    "cache-redis-never-evicts": (
        _edit(
            "docker-compose.yml",
            '"--maxmemory-policy", "allkeys-lru"',
            '"--maxmemory-policy", "noeviction"',
        ),
        "redis_roles",
    ),
    "cache-redis-unbounded": (
        _edit("docker-compose.yml", '"--maxmemory", "256mb", ', ""),
        "redis_roles",
    ),
    "cache-on-the-durable-redis": (
        _edit(
            "docker-compose.yml",
            "REDIS_CACHE_URL: redis://redis-cache:",
            "REDIS_CACHE_URL: redis://redis:",
        ),
        "redis_roles",
    ),
    "no-cache-url-in-env": (
        _edit(".env.example", "REDIS_CACHE_URL=", "# REDIS_CACHE_URL="),
        "redis_roles",
    ),
    "missing-env": (_delete(".env"), "required"),
    "missing-example": (_delete(".env.example"), "required"),
    "jinja-leftover": (_edit("README.md", "## Decisions", "## {{ plan }}"), "leftovers"),
    "jinja-comment": (_write("docs/x.md", "{# forgotten #}\n"), "leftovers"),
    "templated-name": (_write("{{ name }}.txt", "x\n"), "leftovers"),
    "copier-yml": (_write("copier.yml", "a: 1\n"), "machinery"),
    "includes-dir": (_write("includes/env.md", "x\n"), "machinery"),
    "jinja-file": (_write("docs/capacity.md.jinja", "x\n"), "machinery"),
    "git-dir": (_write(".git/HEAD", "ref: refs/heads/main\n"), "machinery"),
    "staging-left": (_write("../.good.x.scalekit-partial/f", "x\n"), "machinery"),
    "bad-yaml": (_write("deploy/bad.yaml", "a: [\n"), "yaml"),
    "pgbouncer-query-timeout": (
        _edit("deploy/pgbouncer/pgbouncer.ini", "query_timeout = ", "query_timeout = 1"),
        "pgbouncer_configs",
    ),
    "pgbouncer-copies-disagree": (
        _edit(
            "deploy/kubernetes/base/pgbouncer.yaml",
            "server_lifetime = 3600",
            "server_lifetime = 60",
        ),
        "pgbouncer_configs",
    ),
    "answer-changed": (
        _edit(".copier-answers.yml", "read_replicas: 1", "read_replicas: 2"),
        "answers",
    ),
    "answer-extra": (_write(".copier-answers.yml", "_src_path: x\nextra: 1\n"), "answers"),
    "secret-in-answers": (_secret_into_answers, "answers"),
    "env-not-ignored": (_edit(".gitignore", "\n.env\n.env.*\n", "\n"), "gitignore"),
    "example-ignored": (_edit(".gitignore", "!.env.example\n", ""), "gitignore"),
    "placeholder-secret": (_edit(".env", "SECRET_KEY=", "SECRET_KEY=change-me\n#"), "secrets"),
    "secret-in-example": (
        _edit(".env.example", "SECRET_KEY=change-me", "SECRET_KEY=abc"),
        "secrets",
    ),
    "env-order": (_swap_env_example_lines, "secrets"),
    "services-unknown": (
        _edit("Makefile", "--wait postgres ", "--wait postgresql "),
        "next_steps_and_services",
    ),
    "next-step-missing": (_edit("Makefile", "\ndev:", "\ndevelop:"), "next_steps_and_services"),
    "missing-broker-url": (_edit(".env.example", "BROKER_URL=", "XBROKER_URL="), "blueprint"),
    "wrong-replicas": (
        _edit(".env", "DATABASE_REPLICA_URLS=", "DATABASE_REPLICA_URLS=x,"),
        "blueprint",
    ),
    "codeowners-module": (
        _edit(".github/CODEOWNERS", "/src/acme_shop/billing/", "/x/"),
        "codeowners",
    ),
    "codeowners-dir": (_write(".gitlab/CODEOWNERS", "* @x\n"), "codeowners"),
    "record-missing": (_delete("docs/decisions/0006-queue.md"), "record"),
    "record-extra": (_write("docs/decisions/0099-extra.md", "# x\n"), "record"),
    "record-cost": (_edit("docs/decisions/0001-framework.md", "**major**", "**low**"), "record"),
    "capacity-number": (
        _edit(
            "docs/capacity.md",
            "| PostgreSQL `max_connections` | ",
            "| PostgreSQL `max_connections` | 1",
        ),
        "capacity",
    ),
    "capacity-formula": (
        _edit("docs/capacity.md", "| design RPS | peak RPS × headroom |", ""),
        "capacity",
    ),
    "syntax-error": (_write("src/broken.py", "def f(:\n"), "compile"),
    "ruff-error": (_write("src/unused.py", "import os\n"), "ruff"),
    "ruff-format": (_write("src/ugly.py", "x = {  'a':1 }\n"), "ruff"),
    "readme-name": (_edit("README.md", "# Acme Shop", "# Other"), "readme"),
    "readme-link": (_edit("README.md", "(docs/decisions/0005-pooling.md)", "(x.md)"), "readme"),
    "kubernetes-no-name": (
        _edit("deploy/kubernetes/base/pdb.yaml", "  name: acme-shop-web\n", "  labels: {}\n"),
        "kubernetes",
    ),
    "kubernetes-hpa-bounds": (
        _edit("deploy/kubernetes/base/hpa.yaml", "maxReplicas: ", "maxReplicas: 9"),
        "kubernetes",
    ),
    "worker-command": (
        _edit("docker-compose.yml", '"worker", "acme_shop.worker:broker"', '"worker", "x:broker"'),
        "worker",
    ),
    "worker-deployment-missing": (
        _edit("deploy/kubernetes/base/worker.yaml", "  name: acme-shop-worker\n", "  name: w\n"),
        "worker",
    ),
    "scheduler-in-compose-only": (
        _edit("Makefile", "\nscheduler:\n", "\nnot-the-scheduler:\n"),
        "worker",
    ),
    "worker-replicas": (
        _edit("deploy/kubernetes/base/worker.yaml", "  replicas: ", "  replicas: 9"),
        "worker",
    ),
    "worker-without-liveness-probe": (
        _edit("deploy/kubernetes/base/worker.yaml", "livenessProbe:", "readinessProbe:"),
        "worker_liveness",
    ),
    "worker-healthcheck-elsewhere": (
        _edit("docker-compose.yml", '"acme_shop.core.heartbeat"', '"acme_shop.heartbeat"'),
        "worker_liveness",
    ),
    "workflow-no-tests": (_edit(".github/workflows/ci.yml", "make test", "true"), "workflow"),
    "workflow-wrong-provider": (
        _write(".gitlab-ci.yml", "test:\n  script: [make test]\n"),
        "workflow",
    ),
    "lint-target-missing": (_edit("Makefile", "\nlint:\n", "\nlint-all:\n"), "framework_commands"),
    "server-differs-in-image": (
        _edit("Dockerfile", "exec python -m acme_shop.serve", "exec python -m other.serve"),
        "framework_commands",
    ),
    "migrate-command": (
        _edit("deploy/kubernetes/base/web.yaml", '"upgrade", "head"', '"upgrade"'),
        "migrations",
    ),
    "constant-guarding-a-branch": (
        _write(
            "src/acme_shop/core/flags.py", "ENABLED = False\n\nif ENABLED:\n    ENABLED = True\n"
        ),
        "constant_guards",
    ),
    "unchosen-opentelemetry-setting": (
        _edit(".env.example", "LOG_LEVEL=", "OTEL_EXPORTER_OTLP_ENDPOINT=\nLOG_LEVEL="),
        "unchosen_options",
    ),
    "sessions-in-a-fastapi-readme": (
        _edit(
            "README.md",
            "| `LOG_LEVEL` |",
            "| `SESSION_URL` | where sessions live |\n| `LOG_LEVEL` |",
        ),
        "unchosen_options",
    ),
    "image-installs-unlocked": (
        _edit("Dockerfile", "uv sync --locked --no-dev --no-editable", "uv sync --no-dev"),
        "uv_lock",
    ),
    "ci-installs-unlocked": (
        _edit(".github/workflows/ci.yml", "make install UV_SYNC_FLAGS=--locked", "make install"),
        "uv_lock",
    ),
    "ci-never-audits": (
        _edit(".github/workflows/ci.yml", "run: make audit", "run: true"),
        "uv_lock",
    ),
    "pre-commit-ruff-drifts": (
        _edit(".pre-commit-config.yaml", "rev: v0.17.6", "rev: v0.16.0"),
        "pinned_ruff",
    ),
    "secret-key-in-a-tracked-file": (_secret_into("docs/capacity.md", "SECRET_KEY="), "secret"),
    "db-password-in-compose": (_secret_into("docker-compose.yml", "DATABASE_URL="), "secret"),
    "pgbouncer-admin-is-the-app": (
        _edit(
            "deploy/pgbouncer/pgbouncer.ini",
            "stats_users = acme_shop_stats",
            "admin_users = acme_shop\nstats_users = acme_shop_stats",
        ),
        "no_console",
    ),
    "compose-app-as-the-owner": (
        _edit(
            "docker-compose.yml",
            "DATABASE_URL: postgresql://acme_shop:",
            "DATABASE_URL: postgresql://acme_shop_migrations:",
        ),
        "separate_roles",
    ),
    "app-role-reads-every-statement": (
        _edit(
            "deploy/postgres/roles.sql",
            "GRANT pg_read_all_stats TO acme_shop_monitoring;",
            "GRANT pg_read_all_stats TO acme_shop;",
        ),
        "slow_queries_and_pool_metrics",
    ),
    "pool-metrics-unexported": (
        _edit("docker-compose.yml", "  pgbouncer-exporter:\n", "  pgbouncer-exporter-off:\n"),
        "slow_queries_and_pool_metrics",
    ),
    "exporter-password-in-its-url": (
        _edit(
            "docker-compose.yml",
            "postgres://acme_shop_stats@",
            "postgres://acme_shop_stats:${PGBOUNCER_STATS_PASSWORD}@",
        ),
        "slow_queries_and_pool_metrics",
    ),
    "django-setting-in-fastapi": (
        _edit(
            "docker-compose.yml", '    PORT: "8000"\n', '    PORT: "8000"\n    HTTPS_ONLY: "1"\n'
        ),
        "django_environment",
    ),
    "cache-redis-empty-in-env": (
        _edit(".env", "REDIS_CACHE_URL=redis://localhost:6380/0", "REDIS_CACHE_URL="),
        "env_points_the_host",
    ),
    "redis-on-another-port-in-env-example": (
        _edit(
            ".env.example",
            "REDIS_URL=redis://localhost:6379/0",
            "REDIS_URL=redis://localhost:6390/0",
        ),
        "env_points_the_host",
    ),
    "flag-copy-per-process": (
        _edit(
            "src/acme_shop/flags/service.py",
            "the old copy in Redis expires",
            "processes holding a copy see it",
        ),
        "feature_flag_texts",
    ),
}

#: Mutations of the Django render: the Django side of the shared operations files.
DJANGO_MUTATIONS: dict[str, tuple[Mutation, str]] = {
    "flag-admin-copy-per-process": (
        _edit(
            "src/acme_shop/flags/admin.py",
            "the flag's\ncopy in Redis is dropped at once",
            "running\nprocesses drop their copy at once",
        ),
        "feature_flag_texts",
    ),
    "no-deploy-check": (
        _edit("Makefile", "manage.py check --deploy", "manage.py check"),
        "framework_commands",
    ),
    "no-migrations-check": (
        _edit("Makefile", "makemigrations --check --dry-run", "makemigrations --dry-run"),
        "framework_commands",
    ),
    "wsgi-under-async": (
        _edit("Makefile", "acme_shop.asgi:application", "acme_shop.wsgi:application"),
        "framework_commands",
    ),
    "compose-migrates-through-pgbouncer": (
        _edit("docker-compose.yml", '"--database", "direct"]', '"--database", "default"]'),
        "migrations",
    ),
    "https-redirect-in-ci": (
        _edit(".gitlab-ci.yml", 'HTTPS_ONLY: "false"', 'HTTPS_ONLY: "true"'),
        "django_environment",
    ),
    "no-allowed-hosts-in-kubernetes": (
        _edit("deploy/kubernetes/base/configmap.yaml", "ALLOWED_HOSTS:", "X_ALLOWED_HOSTS:"),
        "django_environment",
    ),
    "worker-command": (
        _edit("deploy/kubernetes/base/worker.yaml", '"--app", "acme_shop.worker"', '"--app", "x"'),
        "worker",
    ),
    "workflow-no-lint": (_edit(".gitlab-ci.yml", "- make lint", "- true"), "workflow"),
    "secret-key-in-the-gitlab-ci": (_secret_into(".gitlab-ci.yml", "SECRET_KEY="), "secret"),
    "broker-on-the-cache-redis": (
        _edit(
            "docker-compose.yml", "BROKER_URL: redis://redis:", "BROKER_URL: redis://redis-cache:"
        ),
        "redis_roles",
    ),
}


def test_the_battery_passes_a_good_render(rendered: tuple[Blueprint, Path], tmp_path: Path) -> None:
    blueprint, good = rendered
    copy = tmp_path / "good"
    shutil.copytree(good, copy)
    check_rendered_project(copy, blueprint)


@pytest.mark.parametrize("name", MUTATIONS)
def test_the_battery_catches(name: str, rendered: tuple[Blueprint, Path], tmp_path: Path) -> None:
    _assert_caught(rendered, MUTATIONS[name], tmp_path)


@pytest.mark.parametrize("name", DJANGO_MUTATIONS)
def test_the_battery_catches_in_django(
    name: str, rendered_django: tuple[Blueprint, Path], tmp_path: Path
) -> None:
    _assert_caught(rendered_django, DJANGO_MUTATIONS[name], tmp_path)


def _assert_caught(
    rendered: tuple[Blueprint, Path], mutation: tuple[Mutation, str], tmp_path: Path
) -> None:
    blueprint, good = rendered
    mutate, check_name = mutation
    # The named check passes the unbroken render (so what it reports below is the mutation's).
    named = [c for c in CHECKS if check_name in c.__name__]
    assert named, f"no check is named like {check_name!r}"
    before = [m for c in named for m in c(Rendered(good, blueprint))]
    assert not before, f"the good render already fails {check_name}: {before}"
    copy = tmp_path / "good"
    shutil.copytree(good, copy)
    mutate(copy)
    with pytest.raises(AssertionError) as raised:
        check_rendered_project(copy, blueprint)
    reported = [line for line in str(raised.value).splitlines() if line.strip().startswith("- [")]
    assert reported, str(raised.value)
    # The named check reports it (others may too: one defect can break several promises).
    assert any(check_name in line.split("]")[0] for line in reported), "\n".join(reported)


GIT_CHECK = "committed"


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_the_battery_checks_the_first_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)  # no hooks or identity of this machine
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    blueprint = blueprint_for()
    root = tmp_path / "with-git"
    result = render_project(blueprint, root, git=True)
    assert result.git_commit
    check_rendered_project(root, blueprint, git=True)

    git = ["git", "-C", str(root), "-c", "user.name=test", "-c", "user.email=test@example.com"]
    subprocess.run([*git, "add", "-f", ".env"], check=True, capture_output=True)
    subprocess.run(
        [*git, "commit", "-q", "--no-verify", "-m", "oops"], check=True, capture_output=True
    )
    with pytest.raises(AssertionError, match=rf"\[\w*{GIT_CHECK}\w*\] .*contains .env"):
        check_rendered_project(root, blueprint, git=True)


def test_every_check_is_exercised_by_a_mutation() -> None:
    mutations = [*MUTATIONS.values(), *DJANGO_MUTATIONS.values()]
    names = {check_name for _, check_name in mutations} | {GIT_CHECK}
    unexercised = [c.__name__ for c in CHECKS if not any(n in c.__name__ for n in names)]
    assert unexercised == []
