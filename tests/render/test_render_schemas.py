"""Rendered deployment and CI files are valid against the schemas their tools use.

- docker-compose.yml against the Compose Specification schema;
- .github/workflows/ci.yml against the GitHub Actions workflow schema, .gitlab-ci.yml against
  GitLab's CI schema;
- every Kubernetes object under deploy/kubernetes/base against the Kubernetes OpenAPI schema of
  `KUBERNETES_VERSION`, strict (an unknown or misspelt field is an error), and, when kubectl is
  on PATH, every object that `kubectl kustomize` builds from overlays/production.

Everything is offline: the schemas come from packages of the `test` extra. The validators
live in `scalekit_gen.matrix.schemas`, which `scalekit matrix --static` runs too.
`check-jsonschema` vendors the SchemaStore / Compose / GitLab schemas as package data (it has
no library API, so they are loaded from there and checked with `jsonschema`) and
`kubernetes-validate` bundles the Kubernetes schemas per version (`kubernetes_validate.validate`).
The kustomization.yaml files are not Kubernetes objects and no schema for them is vendored;
`kubectl kustomize` reads them when it is available.

Each document is parsed the way its consumer parses it: YAML 1.2 (`on:` is a string) for
Compose (go-yaml v3) and GitHub Actions, YAML 1.1 (`on`, `yes` are booleans) for GitLab (Ruby's
Psych) and Kubernetes (sigs.k8s.io/yaml).
"""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from scalekit_gen.blueprint import Blueprint
from scalekit_gen.matrix.schemas import (
    ci_errors,
    compose_errors,
    kubernetes_errors,
    yaml_1_1_documents,
    yaml_1_2_documents,
)
from scalekit_gen.presets import load_preset
from scalekit_gen.render import render_project

from .battery import CI_FILES, COMPOSE_FILE, KUBERNETES_DIR
from .support import block_network, blueprint_for

BASE_DIR = f"{KUBERNETES_DIR}base"
OVERLAY_DIR = f"{KUBERNETES_DIR}overlays/production"


# --- the rendered projects -----------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    preset: str | None = None
    values: dict[str, Any] = field(default_factory=dict)

    def blueprint(self) -> Blueprint:
        layers = load_preset(self.preset) if self.preset else []
        return blueprint_for(self.values, *layers)


CASES = [
    Case("fastapi-async", preset="fastapi-async"),
    Case("fastapi-sync", preset="fastapi-sync"),
    Case("lean-api", preset="lean-api"),
    Case("gitlab-ci", values={"ci": "gitlab"}),
    Case("rabbitmq-celery", values={"broker": "rabbitmq", "queue": "celery"}),
    Case("memcached", values={"cache": "memcached"}),
    Case("read-replica", values={"read_replicas": 1}),
    # Django shares the operations files; its side of them (the environment, the commands).
    Case("django-platform", preset="django-platform"),
    Case("instagram-classic", preset="instagram-classic"),
    Case(
        "django-async-gitlab",
        preset="django-platform",
        values={"concurrency": "async", "ci": "gitlab", "broker": "rabbitmq"},
    ),
]


@dataclass(frozen=True)
class Project:
    case: Case
    root: Path
    blueprint: Blueprint

    def documents(self, relative: str, parse: Callable[[str], list[Any]]) -> list[Any]:
        return parse((self.root / relative).read_text("utf-8"))

    def fail(self, relative: str, problems: list[str]) -> str:
        lines = "\n".join(f"  {problem}" for problem in problems)
        return f"{self.case.id}: {relative} is invalid:\n{lines}"


@pytest.fixture(scope="module", params=CASES, ids=[case.id for case in CASES])
def project(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Project:
    """One render per case for the whole module, without network."""
    case: Case = request.param
    blueprint = case.blueprint()
    root = tmp_path_factory.mktemp("schemas") / case.id
    with block_network() as attempts:
        render_project(blueprint, root, git=False)
    assert not attempts, f"rendering {case.id} tried to use the network: {attempts}"
    return Project(case, root, blueprint)


def test_cases_render_what_they_ask_for() -> None:
    answers = {case.id: case.blueprint().answers for case in CASES}
    assert answers["gitlab-ci"]["ci"] == "gitlab"
    assert (answers["rabbitmq-celery"]["broker"], answers["rabbitmq-celery"]["queue"]) == (
        "rabbitmq",
        "celery",
    )
    assert answers["memcached"]["cache"] == "memcached"
    assert answers["read-replica"]["read_replicas"] == 1
    assert answers["fastapi-sync"]["concurrency"] == "sync"
    django = [case for case in CASES if answers[case.id]["framework"] == "django"]
    assert {case.id for case in django} == {
        "django-platform",
        "instagram-classic",
        "django-async-gitlab",
    }
    assert answers["instagram-classic"]["cache"] == "redis+memcached"
    assert answers["instagram-classic"]["read_replicas"] >= 1
    gitlab = answers["django-async-gitlab"]
    assert (gitlab["concurrency"], gitlab["ci"], gitlab["broker"]) == (
        "async",
        "gitlab",
        "rabbitmq",
    )


def test_docker_compose(project: Project) -> None:
    documents = project.documents(COMPOSE_FILE, yaml_1_2_documents)
    assert len(documents) == 1, f"{project.case.id}: {COMPOSE_FILE} is not one document"
    problems = compose_errors(documents[0])
    assert not problems, project.fail(COMPOSE_FILE, problems)


def test_the_fast_yaml_1_2_loader_reads_each_file_as_ruamel_yaml_does(project: Project) -> None:
    """The proof parses YAML 1.2 with libyaml and the core schema (speed); the maintained 1.2
    loader, ruamel.yaml, must read every rendered Compose and GitHub file the same."""
    reference = YAML(typ="safe", pure=True)
    relatives = [COMPOSE_FILE, CI_FILES["github"]]
    for relative in [r for r in relatives if (project.root / r).exists()]:
        text = (project.root / relative).read_text("utf-8")
        expected = [doc for doc in reference.load_all(text) if doc is not None]
        assert yaml_1_2_documents(text) == expected, f"{project.case.id}: {relative}"


def test_ci_config(project: Project) -> None:
    provider = project.blueprint.answers["ci"]
    if provider not in CI_FILES:  # no CI chosen: none may be rendered
        rendered = [name for name in CI_FILES.values() if (project.root / name).exists()]
        assert not rendered, f"{project.case.id}: ci {provider} renders {rendered}"
        return
    relative = CI_FILES[provider]
    parse = yaml_1_2_documents if provider == "github" else yaml_1_1_documents
    documents = project.documents(relative, parse)
    assert len(documents) == 1, f"{project.case.id}: {relative} is not one document"
    problems = ci_errors(provider, documents[0])
    assert not problems, project.fail(relative, problems)


def _kubernetes_problems(label: str, documents: list[Any]) -> Iterator[str]:
    for index, document in enumerate(documents):
        metadata = document.get("metadata") if isinstance(document, dict) else None
        name = metadata.get("name") if isinstance(metadata, dict) else None
        what = f"{document.get('kind')}/{name}" if isinstance(document, dict) else "?"
        for problem in kubernetes_errors(document):
            yield f"{label} document {index} ({what}): {problem}"


def _uses_kubernetes(project: Project) -> bool:
    """Whether the project deploys to Kubernetes; when not, it must render no manifests."""
    if project.blueprint.derived()["uses_kubernetes"]:
        return True
    assert not (project.root / KUBERNETES_DIR).exists(), (
        f"{project.case.id}: deploy {project.blueprint.answers['deploy']} renders Kubernetes"
    )
    return False


def test_kubernetes_base(project: Project) -> None:
    if not _uses_kubernetes(project):
        return
    manifests = sorted((project.root / BASE_DIR).glob("*.y*ml"))
    objects = [p for p in manifests if p.name not in ("kustomization.yaml", "kustomization.yml")]
    assert objects, f"{project.case.id}: no manifests under {BASE_DIR}"
    problems: list[str] = []
    for path in objects:
        relative = path.relative_to(project.root).as_posix()
        documents = project.documents(relative, yaml_1_1_documents)
        assert documents, f"{project.case.id}: {relative} holds no document"
        problems += _kubernetes_problems(relative, documents)
    assert not problems, project.fail(BASE_DIR, problems)


def test_kustomize_production(project: Project) -> None:
    if not _uses_kubernetes(project):
        return
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not on PATH (the base manifests are validated without it)")
    built = subprocess.run(
        [kubectl, "kustomize", str(project.root / OVERLAY_DIR)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert built.returncode == 0, f"{project.case.id}: kubectl kustomize failed:\n{built.stderr}"
    documents = yaml_1_1_documents(built.stdout)
    assert documents, f"{project.case.id}: kubectl kustomize {OVERLAY_DIR} built nothing"
    problems = list(_kubernetes_problems(f"kustomize {OVERLAY_DIR}", documents))
    assert not problems, project.fail(OVERLAY_DIR, problems)


# --- the validators reject what their tools reject -----------------------------------------

COMPOSE = """
services:
  web:
    image: acme-shop
    depends_on:
      db: {condition: service_healthy}
  db:
    image: postgres:17
"""

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: acme-shop
"""

WORKFLOW = """
name: CI
on: {push: {branches: [main]}}
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: make test
"""

GITLAB_CI = """
stages: [test]
test:
  stage: test
  image: python:3.12
  script: [make test]
"""


def _one(text: str, parse: Callable[[str], list[Any]]) -> Any:
    (document,) = parse(textwrap.dedent(text))
    return document


def test_compose_validator() -> None:
    document = _one(COMPOSE, yaml_1_2_documents)
    assert compose_errors(document) == []
    document["services"]["web"]["depends_on"] = {"db": {"condition": "bogus"}}
    assert any("'bogus' is not one of" in p for p in compose_errors(document))
    document["services"]["web"]["depends_on"] = ["db"]
    document["services"]["web"]["restart_policy"] = "always"  # not a Compose service key
    assert any("restart_policy" in p for p in compose_errors(document))


def test_kubernetes_validator() -> None:
    document = _one(DEPLOYMENT, yaml_1_1_documents)
    assert kubernetes_errors(document) == []
    misspelt = {**document, "spec": {**document["spec"], "replcas": 2}}
    assert any("replcas" in p for p in kubernetes_errors(misspelt))
    container = document["spec"]["template"]["spec"]["containers"][0]
    container["imagePullPolicy"] = 3
    assert any("imagePullPolicy" in p for p in kubernetes_errors(document))
    assert any("Couldn't find schema" in p for p in kubernetes_errors({**document, "kind": "X"}))
    assert kubernetes_errors({"kind": "Deployment"})


def test_github_workflow_validator() -> None:
    document = _one(WORKFLOW, yaml_1_2_documents)
    assert ci_errors("github", document) == []
    del document["jobs"]["test"]["runs-on"]
    assert any("'runs-on' is a required property" in p for p in ci_errors("github", document))
    # Read as YAML 1.1, `on:` would be the boolean True and the workflow invalid.
    assert ci_errors("github", _one(WORKFLOW, yaml_1_1_documents))


def test_gitlab_ci_validator() -> None:
    document = _one(GITLAB_CI, yaml_1_1_documents)
    assert ci_errors("gitlab", document) == []
    document["test"]["when"] = "sometimes"
    assert any("'sometimes' is not one of" in p for p in ci_errors("gitlab", document))
    del document["test"]["when"]
    document["test"]["scirpt"] = document["test"].pop("script")
    assert ci_errors("gitlab", document)
