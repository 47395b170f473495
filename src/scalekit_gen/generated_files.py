"""The command line shared by the modules that write files generated from the code
(`copier_spec`: templates/copier.yml; `reference`: docs/reference/): write them, or with
`--check` list the ones that drifted and exit 1, as CI runs it."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path


def main(
    argv: list[str],
    *,
    root: Path,
    module: str,
    stale: Callable[[Path], list[Path]],
    write: Callable[[Path], list[Path]],
) -> int:
    if "--check" in argv:
        drifted = stale(root)
        for path in drifted:
            print(f"out of date: {path}", file=sys.stderr)
        if drifted:
            print(f"run: python -m {module}", file=sys.stderr)
        return 1 if drifted else 0
    for path in write(root):
        print(f"updated {path}", file=sys.stderr)
    return 0
