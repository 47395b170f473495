"""Names derived from the answers: the project's slug and package, and valid domain modules.

One place for them because the catalog's own defaults need them (the owners default uses the
slug) and the blueprint derives names with exactly the same functions.
"""

from __future__ import annotations

import keyword
import unicodedata

RESERVED_MODULE_NAMES = frozenset(
    {
        "core",
        "api",
        "app",
        "config",
        "settings",
        "tests",
        "migrations",
        "alembic",
        "main",
        "models",
        "admin",
        "static",
        "templates",
        "worker",
        "tasks",
        "loadtests",
        "docs",
        # The project's own modules beside the domain ones (either framework).
        "routes",
        "tables",
        "urls",
        "wsgi",
        "asgi",
        "gunicorn_conf",
        # Django's app labels: a domain app with one of these names cannot be installed.
        "auth",
        "contenttypes",
        "sessions",
        "messages",
        "staticfiles",
        "ninja",
    }
)


def slugify(text: str) -> str:
    """`Café Zürich!` -> `cafe-zurich`; used for directory, image and service names."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    out: list[str] = []
    for char in ascii_text.strip().lower():
        if char.isascii() and char.isalnum():
            out.append(char)
        elif out and out[-1] != "-":
            out.append("-")
    return "".join(out).strip("-")


def package_name(slug: str) -> str:
    """`acme-shop` -> `acme_shop`; a name that must also be a valid Python package."""
    name = slug.replace("-", "_")
    if name and name[0].isdigit():
        name = f"svc_{name}"
    if keyword.iskeyword(name):
        name = f"{name}_svc"
    return name


def module_name_problem(name: str) -> str | None:
    if not name.isidentifier() or not name.isascii() or name != name.lower() or name[0] == "_":
        return f"{name!r} is not a lowercase Python identifier (letters, digits, _; e.g. billing)"
    if keyword.iskeyword(name):
        return f"{name!r} is a Python keyword — pick another name, e.g. {name}s"
    if name in RESERVED_MODULE_NAMES:
        return f"{name!r} is used by the generated project itself — pick a domain name instead"
    return None
