"""Schema validation of rendered deployment and CI files, offline.

- docker-compose.yml against the Compose Specification schema;
- .github/workflows/ci.yml against the GitHub Actions workflow schema, .gitlab-ci.yml against
  GitLab's CI schema;
- Kubernetes objects against the OpenAPI schema of `KUBERNETES_VERSION`, strict (an unknown
  or misspelt field is an error).

The schemas come from packages of the `test` extra: `check-jsonschema` vendors the
SchemaStore / Compose / GitLab schemas as package data (it has no library API, so they are
loaded from there and checked with `jsonschema`) and `kubernetes-validate` bundles the
Kubernetes schemas per version. They are imported on use: `tools.missing()` names what to
install when they are absent.

Each document is parsed the way its consumer parses it: YAML 1.2 (`on:` is a string) for
Compose (go-yaml v3) and GitHub Actions, YAML 1.1 (`on`, `yes` are booleans) for GitLab (Ruby's
Psych) and Kubernetes (sigs.k8s.io/yaml).
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from typing import Any

# A recent Kubernetes release that the pinned kubernetes-validate ships schemas for.
KUBERNETES_VERSION = "1.37"
VENDORED_SCHEMAS = "check_jsonschema.builtin_schemas.vendor"
CI_SCHEMAS = {"github": "github-workflows", "gitlab": "gitlab-ci"}
MESSAGE_LIMIT = 400  # anyOf/oneOf messages quote the whole instance


def yaml_1_2_documents(text: str) -> list[Any]:
    """Compose (go-yaml v3) and GitHub Actions: YAML 1.2, where `on` is a string."""
    from scalekit_gen.matrix import yaml_load

    return yaml_load.documents(text, version=(1, 2))


def yaml_1_1_documents(text: str) -> list[Any]:
    """GitLab (Psych) and Kubernetes (sigs.k8s.io/yaml): YAML 1.1."""
    from scalekit_gen.matrix import yaml_load

    return yaml_load.documents(text, version=(1, 1))


@functools.cache
def _validator(name: str) -> Any:
    """A validator for check-jsonschema's vendored schema `name` (its hook's schema)."""
    import jsonschema

    text = importlib.resources.files(VENDORED_SCHEMAS).joinpath(f"{name}.json").read_text("utf-8")
    schema = json.loads(text)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def _where(path: Any) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path) or "(root)"


def _describe(error: Any) -> str:
    import jsonschema

    # For anyOf/oneOf, the branch that came closest says more than "is not valid under any".
    best = jsonschema.exceptions.best_match([error]) or error
    message = str(best.message)
    if best.context:  # no branch came closest: say what each branch missed
        branches = [f"branch {c.relative_schema_path[0]}: {c.message}" for c in best.context]
        message = f"matches none of its {best.validator} branches; " + "; ".join(branches)
    return f"{_where(best.absolute_path)}: {message[:MESSAGE_LIMIT]}"


def schema_errors(name: str, document: Any) -> list[str]:
    return [message for _, message in sorted(_located_errors(name, document))]


def _located_errors(name: str, document: Any) -> list[tuple[list[str], str]]:
    """(where, message) of each error: where sorts them in document order."""
    errors = _validator(name).iter_errors(document)
    return [(list(map(str, error.path)), _describe(error)) for error in errors]


def compose_errors(document: Any) -> list[str]:
    """Checked a service at a time, each distinct service once: the proof's thousands of
    docker-compose.yml renderings share most of their services, and validating whole files
    was most of its checking time. Exact: the schema's top level and its `services` are
    `properties`/`patternProperties` with `additionalProperties: false`, no keyword relating
    one key to another, so a file is valid when each part is, and the errors are the same."""
    services = document.get("services") if isinstance(document, dict) else None
    if not isinstance(services, dict) or not services:
        return schema_errors("compose-spec", document)
    parts = [{**document, "services": {}}, *({"services": {k: v}} for k, v in services.items())]
    found: list[tuple[list[str], str]] = []
    for part in parts:
        try:
            canonical = json.dumps(part, sort_keys=True, default=repr)
        except TypeError:  # keys of mixed types cannot be sorted: checked uncached
            found += _located_errors("compose-spec", part)
            continue
        if canonical not in _COMPOSE_PARTS:
            _COMPOSE_PARTS[canonical] = _located_errors("compose-spec", part)
        found += _COMPOSE_PARTS[canonical]
    return [message for _, message in sorted(found)]


# canonical JSON of a part of a compose file -> its errors (per process; see compose_errors)
_COMPOSE_PARTS: dict[str, list[tuple[list[str], str]]] = {}


def ci_errors(provider: str, document: Any) -> list[str]:
    return schema_errors(CI_SCHEMAS[provider], document)


def kubernetes_errors(document: Any) -> list[str]:
    """Strict: fields the schema does not define are errors, and so is an unknown kind."""
    if not isinstance(document, dict) or not {"apiVersion", "kind"} <= document.keys():
        return ["(root): not a Kubernetes object (apiVersion and kind are required)"]
    # Most objects are the same in every case; each validate() call reloads the schemas.
    return list(_kubernetes_errors(json.dumps(document, sort_keys=True, default=str)))


@functools.cache
def _kubernetes_errors(canonical: str) -> tuple[str, ...]:
    import kubernetes_validate

    document = json.loads(canonical)
    try:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        return (f"{_where(error.absolute_path)}: {str(error.message)[:MESSAGE_LIMIT]}",)
    except kubernetes_validate.SchemaNotFoundError as error:
        return (f"(root): {error.message}",)
    return ()
