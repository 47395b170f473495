"""Names derived from the answers: the project's slug and package, and valid domain modules.

One place for them because the catalog's own defaults need them (the owners default uses the
slug) and the blueprint derives names with exactly the same functions.
"""

from __future__ import annotations

import keyword
import sys
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
        "flags",
        "urls",
        "wsgi",
        "asgi",
        "gunicorn_conf",
        # The built-in module of users and API keys (the auth decision), either framework.
        "identity",
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


# PostgreSQL cuts identifiers at 63 bytes, and a module's tables, indexes and constraints are
# named after it: the longest is ck_<module>_items_price_cents_not_negative
# (tests/unit/test_naming.py checks every such name in templates/).
LONGEST_MODULE_IDENTIFIER = "ck_{module}_items_price_cents_not_negative"
MAX_MODULE_NAME_LENGTH = 63 - len(LONGEST_MODULE_IDENTIFIER.format(module=""))


def module_name_problem(name: str) -> str | None:
    if not name.isidentifier() or not name.isascii() or name != name.lower() or name[0] == "_":
        return f"{name!r} is not a lowercase Python identifier (letters, digits, _; e.g. billing)"
    if len(name) > MAX_MODULE_NAME_LENGTH:
        return (
            f"{name[:20]}… is {len(name)} characters; at most {MAX_MODULE_NAME_LENGTH}, so the "
            "PostgreSQL tables and indexes named after it stay within 63"
        )
    if keyword.iskeyword(name):
        return f"{name!r} is a Python keyword — pick another name, e.g. {name}s"
    if name in RESERVED_MODULE_NAMES:
        return f"{name!r} is used by the generated project itself — pick a domain name instead"
    return None


# --------------------------------------------------------------------------- project names

# Kubernetes object names, label values and Service names are DNS labels: at most 63
# characters. The templates append suffixes to the slug (`{{ slug }}-production` is the
# longest; tests/unit/test_naming.py checks every suffix in templates/ fits), so the slug keeps
# room for them. The slug is also the directory, so it stays far below the filesystem's 255.
DNS_LABEL_MAX = 63
LONGEST_NAME_SUFFIX = "-production"
MAX_SLUG_LENGTH = DNS_LABEL_MAX - len(LONGEST_NAME_SUFFIX)
# A display name ("Acme Shop"), not a description; it heads the README and comments.
MAX_PROJECT_NAME_LENGTH = 100

# Characters that make the name more than one line of text: control, format and separator
# characters, and lone surrogates (a non-UTF-8 byte in a command-line argument).
_NOT_TEXT = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})

# Top-level import names of the generated projects' dependencies (every framework, queue,
# broker, cache and observability choice; runtime and dev, with what they pull in). A project
# package with one of these names shadows the library: `import redis` finds the project.
# Read from the virtualenvs of rendered projects; tests/unit/test_naming.py checks that every
# dependency pinned in templates/ is here. Every variant's names count, not only the chosen
# one's: a later decision change (adding a queue) must not make the name break.
DEPENDENCY_IMPORT_NAMES = frozenset(
    """
    aiohappyeyeballs aiohttp aiosignal alembic amqp annotated_doc annotated_types anyio
    argon2 asyncpg asgiref attr attrs bidict billiard blinker brotli celery certifi cffi
    charset_normalizer circuitbreaker click click_didyoumean click_plugins click_repl
    configargparse croniter dateutil deprecated django django_redis django_stubs_ext dotenv
    dramatiq engineio environ fastapi flask flask_cors flask_login frozenlist gevent
    geventhttpclient google greenlet grimp gunicorn h11 httpcore httpcore2 httptools httpx
    httpx2 hypothesis idna importlib_metadata importlinter iniconfig itsdangerous jinja2 jwt
    kombu limits locust mako markdown_it markupsafe mdurl msgpack multidict mypy
    mypy_django_plugin mypy_extensions mypyc ninja opentelemetry orjson packaging pathspec
    pendulum periodiq pika pluggy prometheus_client prompt_toolkit propcache psutil psycopg
    psycopg_binary psycopg_pool py pycparser pycron pydantic pydantic_core pydantic_settings
    pygments pymemcache pytest pytest_django pytest_locust redis requests rich rq ruff sentry_sdk
    simple_websocket six socketio sortedcontainers sqlalchemy sqlparse squawk_cli starlette
    structlog taskiq taskiq_dependencies taskiq_redis truststore typing_extensions
    typing_inspection
    tzdata tzlocal urllib3 uvicorn uvicorn_worker uvloop vine watchfiles websocket
    websockets werkzeug whitenoise wrapt wsproto yaml yarl zipp zmq zope
    argon2 cffi dns email_validator jwt multipart pwdlib pycparser python_multipart
    """.split()  # noqa: SIM905 (a word list reads better than 140 lines)
)
# Importable names the generated project itself has beside its package (tests/__init__.py,
# loadtests/, migrations/, manage.py, conftest.py).
PROJECT_TOP_LEVEL_NAMES = frozenset({"tests", "loadtests", "migrations", "manage", "conftest"})
# Lower-cased: macOS and Windows file systems ignore case, so `cprofile/` shadows cProfile.
_STDLIB_LOWER = frozenset(name.lower() for name in sys.stdlib_module_names)


def text_from_os(text: str) -> str:
    """A command-line argument or file name as the text the user typed.

    Under an ASCII locale Python keeps each non-ASCII byte of an argument as a lone surrogate
    (`Café` arrives as 'Caf\\udcc3\\udca9'); terminals send UTF-8, so decode those bytes as
    UTF-8. Bytes that are not UTF-8 stay surrogates, which `project_name_problem` refuses.
    """
    if not any("\udc80" <= char <= "\udcff" for char in text):
        return text
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8")
    except UnicodeError:
        return text


def project_name_problem(name: str) -> str | None:
    """Why `name` cannot name a project, or None. Checked before anything is written.

    The name is rendered into Python docstrings, YAML and Dockerfile comments and Markdown;
    the slug into directory, image and Kubernetes names; the package into every import.
    """
    bad = next((char for char in name if unicodedata.category(char) in _NOT_TEXT), None)
    if bad is not None and unicodedata.category(bad) == "Cs":
        return (
            f"{name!r} holds bytes that are not UTF-8 text ({bad!r}) — type the name in a "
            "UTF-8 terminal, or pass --set project_name=NAME"
        )
    if bad is not None:
        return (
            f"{name!r} contains the control character {bad!r} — a project name is one line "
            "of text, e.g. Acme Shop"
        )
    if "\\" in name or '"""' in name:
        return (
            f"{name!r} contains a backslash or three double quotes, which end the Python "
            "docstrings the name is written into — leave them out"
        )
    if len(name) > MAX_PROJECT_NAME_LENGTH:
        return (
            f"the name is {len(name)} characters; at most {MAX_PROJECT_NAME_LENGTH} — it is a "
            "display name such as Acme Shop, not a description"
        )
    slug = slugify(name)
    if not slug:
        return f"{name!r} has no letters or digits to build a package name from"
    if len(slug) > MAX_SLUG_LENGTH:
        return (
            f"its slug {slug[:20]}… is {len(slug)} characters; at most {MAX_SLUG_LENGTH}, so "
            f"Kubernetes names such as {{slug}}{LONGEST_NAME_SUFFIX} stay within "
            f"{DNS_LABEL_MAX} — choose a shorter name"
        )
    return package_shadow_problem(name, package_name(slug))


def package_shadow_problem(name: str, package: str) -> str | None:
    if package in _STDLIB_LOWER:
        what = "a standard-library module"
    elif package in DEPENDENCY_IMPORT_NAMES:
        what = "a library the generated project depends on"
    elif package in PROJECT_TOP_LEVEL_NAMES:
        what = "a module the generated project has beside its package"
    else:
        return None
    return (
        f"{name!r} makes the Python package `{package}`, the name of {what}, so one of the "
        f"two could not be imported — choose a more specific name, e.g. {slugify(name)}-service"
    )
