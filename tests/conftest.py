"""Suite-wide collection rules.

`./scripts/test` runs pytest on two workers (pytest-xdist, `--dist loadgroup`). A module-scoped
fixture is built once per worker that runs one of its tests, and several of ours render and
install a whole generated project; so every test that uses a module-scoped fixture is put in
its module's group and the module runs on one worker. Everything else (the end-to-end cases
above all) is spread one test at a time. Session-scoped servers (tests/integration/conftest.py)
are private to each worker: each starts its own on free ports.
"""

from __future__ import annotations

import pytest


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _uses_module_scoped_fixture(item):
            item.add_marker(pytest.mark.xdist_group(name=item.nodeid.split("::")[0]))


def _uses_module_scoped_fixture(item: pytest.Item) -> bool:
    info = getattr(item, "_fixtureinfo", None)  # pytest's own record of what the test uses
    if info is None:
        return False
    return any(definitions[-1].scope == "module" for definitions in info.name2fixturedefs.values())
