"""PgBouncer's passwords reach it and its exporter intact, whatever they contain.

Both PgBouncers (Compose's and Kubernetes') write their auth file from the environment with a
shell command, and the exporter logs in as the stats user. A password is whatever the team's
secret store holds: `@`, `/`, `:` and `%` must not end a URL's userinfo, a `"` must not end
the auth file's field, and `$(...)`, `;` or a quote must never reach a shell as code. The
command is run here as rendered (after Compose's or Kubernetes' own `$$` unescaping) with such
passwords, and its file read by PgBouncer's rule: fields in double quotes, `""` for a `"`
(checked against PgBouncer 1.18 itself: a login with the same password is accepted).
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from .support import blueprint_for

PACKAGE = "acme_shop"
PASSWORDS = {
    "DB_PASSWORD": "p@ss/w:rd%20#?&=\"q'$(touch PWNED);`touch PWNED2` \\n\\",
    "STATS_PASSWORD": '"; touch PWNED3; echo "$HOME" @:/%',
}
# The auth file's line: "user" "password", each field quoted with `""` standing for `"`.
USERLIST_LINE = re.compile(r'"((?:[^"]|"")*)" "((?:[^"]|"")*)"')


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from scalekit_gen.render import render_project

    root = tmp_path_factory.mktemp("pgbouncer-passwords") / "p"
    answers = {
        "deploy": "compose+kubernetes",
        "pooling": "pgbouncer-transaction",
        "observability": ["prometheus"],
    }
    render_project(blueprint_for(answers), root, git=False)
    return root


def _compose_services(project: Path) -> dict[str, dict]:
    return yaml.safe_load((project / "docker-compose.yml").read_text("utf-8"))["services"]


def _kubernetes_containers(project: Path) -> dict[str, dict]:
    manifest = project / "deploy/kubernetes/base/pgbouncer.yaml"
    for document in yaml.safe_load_all(manifest.read_text("utf-8")):
        if document and document.get("kind") == "Deployment":
            return {c["name"]: c for c in document["spec"]["template"]["spec"]["containers"]}
    raise AssertionError(f"{manifest} has no Deployment")


def _unescape_dollars(command: str) -> str:
    """Compose's interpolation and Kubernetes' $(VAR) expansion both turn `$$` into `$`;
    neither has anything else to expand in these commands (asserted)."""
    assert not re.search(r"\$\{|\$\((?!\$)", command.replace("$$", "")), command
    return command.replace("$$", "$")


def _userlist_commands(project: Path) -> dict[str, str]:
    compose = _compose_services(project)["pgbouncer"]
    assert compose["entrypoint"] == ["/bin/sh", "-c"]
    kubernetes = _kubernetes_containers(project)["pgbouncer"]
    assert kubernetes["command"] == ["/bin/sh", "-c"]
    return {
        "compose": _unescape_dollars(compose["command"][0]),
        "kubernetes": _unescape_dollars(kubernetes["args"][0]),
    }


@pytest.mark.parametrize("where", ["compose", "kubernetes"])
def test_the_auth_file_holds_each_password_as_pgbouncer_reads_it(
    project: Path, tmp_path: Path, where: str
) -> None:
    command = _userlist_commands(project)[where]
    assert "/tmp/pgbouncer" in command and "exec pgbouncer " in command
    # The same command with its directory in tmp_path and a pgbouncer that only exits.
    directory = tmp_path / "run"
    command = command.replace("/tmp/pgbouncer", str(directory / "pgbouncer"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "pgbouncer"
    fake.write_text("#!/bin/sh\nexit 0\n", "utf-8")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    work = tmp_path / "cwd"
    work.mkdir()
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(tmp_path),
        "DB_USER": PACKAGE,
        "STATS_USER": f"{PACKAGE}_stats",
        **PASSWORDS,
    }
    done = subprocess.run(
        ["/bin/sh", "-c", command], cwd=work, env=env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert not list(work.iterdir()), "a password ran as shell code"
    lines = (directory / "pgbouncer" / "userlist.txt").read_text("utf-8").splitlines()
    parsed = []
    for line in lines:
        match = USERLIST_LINE.fullmatch(line)
        assert match, f"PgBouncer cannot read this auth file line: {line!r}"
        parsed.append(tuple(field.replace('""', '"') for field in match.groups()))
    assert parsed == [
        (PACKAGE, PASSWORDS["DB_PASSWORD"]),
        (f"{PACKAGE}_stats", PASSWORDS["STATS_PASSWORD"]),
    ]


def test_the_exporter_gets_the_stats_password_outside_its_url(project: Path) -> None:
    """lib/pq (the exporter's driver) takes PGPASSWORD when the URL names no password."""
    compose = _compose_services(project)["pgbouncer-exporter"]["environment"]
    kubernetes = {
        item["name"]: item for item in _kubernetes_containers(project)["pgbouncer-exporter"]["env"]
    }
    urls = {
        "compose": compose["PGBOUNCER_EXPORTER_CONNECTION_STRING"],
        "kubernetes": kubernetes["PGBOUNCER_EXPORTER_CONNECTION_STRING"]["value"],
    }
    for where, url in urls.items():
        parts = urlsplit(url)
        assert (parts.username, parts.password) == (f"{PACKAGE}_stats", None), where
        assert "$" not in url, f"{where}: the URL still interpolates a secret"
    assert compose["PGPASSWORD"].startswith("${PGBOUNCER_STATS_PASSWORD:?")
    assert kubernetes["PGPASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == (
        "PGBOUNCER_STATS_PASSWORD"
    )
