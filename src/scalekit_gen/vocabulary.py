"""The names every template reads, computed once per render from the plan.

Templates and their paths say `{{ package }}`, `{% if has_queue %}`, `{{ queue }}` or
`{{ sizing.worker_concurrency }}` instead of reaching into the plan: the Copier extension
puts this context under every file and every path it renders.

- every answer under its decision's key, as the catalog parsed it (so `observability` is a
  list and `read_replicas` an int, however the answer was typed);
- every derived fact (`blueprint.Derived`) under its own name: `is_fastapi`, `has_queue`,
  `uses_pgbouncer`, `db_driver`, …, with the module owners as `module_owners`;
- `plan` (the whole plan document), `package`, `slug`, `sizing`, and `records` (the
  decisions that get a record in docs/decisions/, each with its `file` name);
- `fastapi_only` and `django_only`, the names of the folders that hold each framework's own
  files in the template: "." (the project root) for the chosen framework and "" for the other,
  which Copier skips with everything below it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

# Derived facts that the context names differently (or already holds as `package`/`slug`).
_RENAMED = {"owners": "module_owners", "project_slug": None, "package_name": None}
ROOT, SKIPPED = ".", ""


def template_context(plan: Mapping[str, Any]) -> dict[str, Any]:
    derived = plan["derived"]
    facts = {
        _RENAMED.get(key, key): value
        for key, value in derived.items()
        if _RENAMED.get(key, key) is not None
    }
    return {
        **plan["answers"],
        **facts,
        "plan": plan,
        "package": plan["project"]["package"],
        "slug": plan["project"]["slug"],
        "sizing": plan["sizing"],
        "records": records(plan),
        "fastapi_only": ROOT if derived["is_fastapi"] else SKIPPED,
        "django_only": ROOT if derived["is_django"] else SKIPPED,
    }


def records(plan: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The decision entries that get a record, each with the record's file name."""
    return [
        {**entry, "file": PurePosixPath(entry["record"]).name}
        for entry in plan["decisions"]
        if entry["record"]
    ]
