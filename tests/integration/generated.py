"""What the integration tests of generated projects share: how a test's blueprint is made, the
refusals its writes must meet, and the migration lock's key. The credential, the job round
trip and the `make loadtest` gate are scalekit_gen.harness.smoke's (`scalekit matrix
--runtime` runs them too); they are imported here for the tests."""

from __future__ import annotations

import hashlib
import secrets
from base64 import urlsafe_b64encode
from collections.abc import Mapping
from pathlib import Path

from scalekit_gen.blueprint import AnswerLayer, Blueprint, build_blueprint
from scalekit_gen.harness.project import Server, run_make
from scalekit_gen.harness.smoke import (
    API_KEY_HEADER,
    INSTALL_TIMEOUT,
    LOADTEST_ENV,
    loadtest_gate,
    mint_api_key,
    provision_credential,
    write_headers,
)
from scalekit_gen.presets import load_preset

# The smoke checks the tests import from here, beside this module's own.
__all__ = [
    "API_KEY_HEADER",
    "INSTALL_TIMEOUT",
    "mint_api_key",
    "provision_credential",
    "write_headers",
]

#: (preset, answers): one case per framework and concurrency model.
FRAMEWORK_CASES: tuple[tuple[str, dict[str, str]], ...] = (
    ("fastapi-async", {}),
    ("fastapi-sync", {}),
    ("django-platform", {}),
    ("django-platform", {"concurrency": "async"}),
)


def case_id(preset: str, answers: Mapping[str, object]) -> str:
    """A test id that says what was rendered: `preset=fastapi-async,queue=celery`."""
    return ",".join([f"preset={preset}", *(f"{key}={value}" for key, value in answers.items())])


#: `case_id` of each of FRAMEWORK_CASES, in order: the ids of tests parametrised over them.
FRAMEWORK_CASE_IDS = [case_id(preset, answers) for preset, answers in FRAMEWORK_CASES]


def blueprint(preset: str, **answers: object) -> Blueprint:
    """The preset, named Shop, with `answers` on top."""
    layers = [*load_preset(preset), AnswerLayer("test", {"project_name": "Shop", **answers})]
    return build_blueprint(layers)


def revoke_api_key(root: Path, env: Mapping[str, str], key: str) -> None:
    """`make revoke-api-key` with the key's prefix (the part before its first "_")."""
    prefix = key.partition("_")[0]
    run_make(root, "revoke-api-key", env, timeout=180, args=(f"PREFIX={prefix}",))


def wrong_credentials(headers: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """Headers shaped like `headers` (a valid credential's, from `write_headers`) that the
    service must refuse, by what is wrong with them."""
    if API_KEY_HEADER in headers:
        prefix = headers[API_KEY_HEADER].partition("_")[0]
        return {
            "an unknown key": {API_KEY_HEADER: _api_key(secrets.token_hex(4))},
            "the key's prefix with another secret": {API_KEY_HEADER: _api_key(prefix)},
            "not a key": {API_KEY_HEADER: "not-a-key"},
        }
    if "Authorization" in headers:
        header, payload, _signature = headers["Authorization"].removeprefix("Bearer ").split(".")
        forged = urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
        return {
            "the token signed by someone else": {
                "Authorization": f"Bearer {header}.{payload}.{forged}"
            },
            "not a token": {"Authorization": "Bearer not-a-token"},
            "an API key instead": {API_KEY_HEADER: _api_key(secrets.token_hex(4))},
        }
    return {}


def _api_key(prefix: str) -> str:
    """A key of the minted shape (API_KEY_FORMAT) that was never minted."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def assert_writes_need_a_credential(
    server: Server, module: str, headers: Mapping[str, str]
) -> None:
    """A write without a credential, or with a wrong one (`wrong_credentials` of the valid
    `headers`), is 401 with a `WWW-Authenticate` challenge (`Bearer` with users-jwt,
    `ApiKey header="X-API-Key"` with api-keys, in both frameworks, as the contract says), its
    body the project's JSON error; a read is served without one."""
    items = f"/api/v1/{module}/items"
    attempts = {"no credential": {}, **wrong_credentials(headers)}
    for attempt, sent in attempts.items():
        refused = server.post(items, json={"name": "refused", "price_cents": 1}, headers=sent)
        assert refused.status == 401, (attempt, refused.status, refused.body)
        assert isinstance(refused.body, dict) and refused.body.get("detail"), (
            attempt,
            refused.body,
        )
        challenge = refused.headers.get("WWW-Authenticate")
        if "Authorization" in headers:
            assert challenge == "Bearer", (attempt, dict(refused.headers))
        else:
            assert challenge == f'ApiKey header="{API_KEY_HEADER}"', (
                attempt,
                dict(refused.headers),
            )
    assert server.get(items).status == 200


def assert_writes_are_open(server: Server, module: str) -> None:
    """With auth none a write needs no credential, and one sent anyway (a gateway in front may
    forward its own) is not checked: creates and updates succeed either way."""
    items = f"/api/v1/{module}/items"
    stray = {"Authorization": "Bearer from-the-gateway", API_KEY_HEADER: "from-the-gateway"}
    for sent in ({}, stray):
        created = server.post(items, json={"name": "open", "price_cents": 1}, headers=sent)
        assert created.status == 201, (sent, created.status, created.body)
        updated = server.patch(
            f"{items}/{created.body['id']}", json={"price_cents": 2}, headers=sent
        )
        assert updated.status == 200, (sent, updated.status, updated.body)


def assert_loadtest_passes(root: Path, env: Mapping[str, str]) -> None:
    """`make loadtest` (LOADTEST_ENV: 64 users, 20 s) against the running server passes its
    gate with no failed request, and leaves its CSV and HTML reports (smoke.loadtest_gate)."""
    print(loadtest_gate(root, env, LOADTEST_ENV))  # shown with -s: the numbers behind the gate


def migration_lock_key(package: str) -> int:
    """The advisory lock key `make migrate` takes first in a project named `package`: the
    contract of its core/db_limits.py (MIGRATION_LOCK_KEY), restated so a test can hold it."""
    digest = hashlib.blake2b(f"{package}: migrations".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)
