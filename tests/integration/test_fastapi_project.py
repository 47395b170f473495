"""Generated FastAPI projects, run for real: install, lint, migrate, their own tests, then the
production server against PostgreSQL-through-PgBouncer and Redis started by the harness.

One test per preset walks the whole operations contract, the way a platform team's CI would
drive any generated service.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from scalekit_gen.blueprint import AnswerLayer, Blueprint, build_blueprint
from scalekit_gen.presets import load_preset
from scalekit_gen.render import render_project
from tests.harness.project import ProjectEnv, Server

pytestmark = pytest.mark.integration

FASTAPI_PRESETS = ("fastapi-async", "fastapi-sync", "lean-api")
INSTALL_TIMEOUT = 900  # a cold uv cache downloads every pinned wheel


def _blueprint(preset: str, **answers: object) -> Blueprint:
    layers = [*load_preset(preset), AnswerLayer("test", {"project_name": "Shop", **answers})]
    return build_blueprint(layers)


def _crud_round_trip(server: Server, module: str) -> None:
    items = f"/api/v1/{module}/items"
    created = server.post(items, json={"name": "Lamp", "price_cents": 1999})
    assert created.status == 201, created.body
    item_id = created.body["id"]

    fetched = server.get(f"{items}/{item_id}")
    assert fetched.status == 200, fetched.body
    assert fetched.body["name"] == "Lamp"

    updated = server.patch(f"{items}/{item_id}", json={"price_cents": 2499})
    assert updated.status == 200, updated.body
    assert updated.body["price_cents"] == 2499
    assert server.get(f"{items}/{item_id}").body["price_cents"] == 2499

    listed = server.get(items)
    assert listed.status == 200, listed.body
    assert item_id in str(listed.body)

    assert server.delete(f"{items}/{item_id}").status == 204
    assert server.get(f"{items}/{item_id}").status == 404
    assert server.post(items, json={"name": ""}).status == 422


def _metrics_count_every_worker(server: Server, module: str) -> None:
    """/metrics under several workers (multiprocess mode): the two successful reads of the
    round trip are counted whichever worker served them, under the route's template."""
    metrics = server.get("/metrics")
    assert metrics.status == 200, metrics.body
    labels = ('method="GET"', f'route="/api/v1/{module}/items/{{item_id}}"', 'status="200"')
    counts = [
        float(line.rsplit(" ", 1)[1])
        for line in metrics.body.splitlines()
        if line.startswith("http_request_duration_seconds_count{")
        and all(label in line for label in labels)
    ]
    assert counts == [2.0], metrics.body


def _deleted_row_is_kept(env: ProjectEnv, module: str) -> None:
    with env.connect(direct=True) as connection:
        rows = connection.execute(
            f"SELECT count(*) FROM {module}_items WHERE deleted_at IS NOT NULL"
        ).fetchone()
    assert rows is not None and rows[0] == 1, "soft delete must keep the row"


@pytest.mark.parametrize("preset", FASTAPI_PRESETS)
def test_generated_fastapi_project_runs_end_to_end(
    preset: str, tmp_path: Path, project_env_factory: Callable[..., ProjectEnv]
) -> None:
    blueprint = _blueprint(preset, modules="catalog,billing")
    root = render_project(blueprint, tmp_path / "shop", git=False).destination
    env = project_env_factory()

    env.make(root, "install", timeout=INSTALL_TIMEOUT)
    env.make(root, "lint")
    env.make(root, "migrate")
    env.make(root, "test")

    with env.server(root) as server:
        assert server.get("/healthz").status == 200
        ready = server.get("/readyz")
        assert ready.status == 200, ready.body
        assert server.get("/openapi.json").status == 200
        for module in blueprint["modules"]:
            _crud_round_trip(server, module)
        if "prometheus" in blueprint["observability"]:
            for module in blueprint["modules"]:
                _metrics_count_every_worker(server, module)
    for module in blueprint["modules"]:
        _deleted_row_is_kept(env, module)
