"""The template and the presets are all in version control, so a fresh clone (CI, another
developer, a wheel built from a clean checkout) renders what this working tree renders."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHIPPED = ("templates", "presets")


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(REPO), *args], capture_output=True, text=True, check=False
    )


@pytest.mark.skipif(
    shutil.which("git") is None or not (REPO / ".git").exists(),
    reason="not a git checkout (an sdist, or git is not installed)",
)
def test_no_template_or_preset_file_is_git_ignored() -> None:
    done = _git("ls-files", "--others", "--ignored", "--exclude-standard", "-z", "--", *SHIPPED)
    assert done.returncode == 0, done.stderr
    ignored = [p for p in done.stdout.split("\0") if p and "__pycache__" not in p]
    reasons = _git("check-ignore", "--verbose", "--no-index", *ignored).stdout if ignored else ""
    assert ignored == [], (
        "these template/preset files are ignored by git, so a fresh clone lacks them and "
        f"renders without them:\n{reasons}"
    )
