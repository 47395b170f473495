"""The built wheel carries the template and the presets, and an installed scalekit renders
from its own package data, not from a checkout.

The wheel is installed with --no-deps into a fresh venv; its dependencies come from this
environment's site-packages through a .pth file, so installing needs no network. Building the
wheel may fetch the build backend (hatchling) from the configured package index.
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import yaml

from scalekit_gen import __version__
from scalekit_gen.blueprint import AnswerLayer, build_blueprint

from .battery import ANSWERS_FILE, check_rendered_project
from .support import NETWORK_MARKER

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DATA = "scalekit_gen/_data"
TIMEOUT = 300


def _run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
        check=False,
        **kwargs,  # type: ignore[arg-type]
    )
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheels")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(REPO)])
    (built,) = out.glob("scalekit_gen-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with only the wheel installed; dependencies borrowed via a .pth file."""
    venv = tmp_path_factory.mktemp("venv") / "v"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    site = Path(
        _run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
        ).stdout.strip()
    )
    ours = sysconfig.get_paths()
    deps = dict.fromkeys([ours["purelib"], ours["platlib"]])  # ordered, without duplicates
    (site / "_scalekit_test_deps.pth").write_text("\n".join(deps) + "\n", "utf-8")
    pip = [sys.executable, "-m", "pip", "--python", str(python)]
    _run([*pip, "install", "-q", "--no-deps", "--no-index", str(wheel)])
    return venv


def _expected_data() -> set[str]:
    return {
        f"{DATA}/{top}/{path.relative_to(REPO / top).as_posix()}"
        for top in ("templates", "presets")
        for path in (REPO / top).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_wheel_carries_the_template_and_presets(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    missing = _expected_data() - names
    assert not missing, sorted(missing)
    assert f"{DATA}/templates/copier.yml" in names
    assert any(n.startswith(f"{DATA}/templates/includes/") for n in names)


def test_installed_package_resolves_its_own_data(
    venv: Path, tmp_path: Path, offline_env: dict[str, str]
) -> None:
    code = (
        "import json, scalekit_gen, scalekit_gen.paths as p; print(json.dumps("
        "[scalekit_gen.__file__, str(p.template_dir()), str(p.presets_dir())]))"
    )
    done = _run([str(venv / "bin" / "python"), "-c", code], cwd=tmp_path, env=offline_env)
    module, templates, presets = (Path(p) for p in json.loads(done.stdout))
    package = module.parent
    assert package.is_relative_to(venv), f"scalekit_gen imported from {package}, not the venv"
    assert templates == package / "_data" / "templates"
    assert presets == package / "_data" / "presets"
    assert (templates / "copier.yml").is_file()
    assert not templates.is_relative_to(REPO)


def test_installed_scalekit_new_renders_from_package_data(
    venv: Path, tmp_path: Path, offline_env: dict[str, str]
) -> None:
    done = _run(
        [str(venv / "bin" / "scalekit"), "new", "x", "--yes"], cwd=tmp_path, env=offline_env
    )
    assert NETWORK_MARKER not in done.stderr
    root = tmp_path / "x"
    blueprint = build_blueprint([AnswerLayer("destination name", {"project_name": "x"})])
    check_rendered_project(root, blueprint, git=True)

    # The answers name the package and version, not the directory it was installed in (gone
    # after an upgrade): `scalekit update` needs no path.
    answers = yaml.safe_load((root / ANSWERS_FILE).read_text("utf-8"))
    assert (answers["_src_path"], answers["_commit"]) == ("scalekit-gen", __version__)
    assert str(venv) not in (root / ANSWERS_FILE).read_text("utf-8")
