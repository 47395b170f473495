"""A small profile of bench/fuzz_cli.py: a few hundred generated inputs, no traceback.

The full run (10,000 inputs, `.venv/bin/python bench/fuzz_cli.py`) takes minutes; this one
keeps the suite under 30 s while still crossing every input generator.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[2] / "bench" / "fuzz_cli.py"


def _fuzz_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fuzz_cli", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("fuzz_cli", module)
    spec.loader.exec_module(module)
    return module


def test_generated_inputs_cause_no_traceback() -> None:
    fuzz = _fuzz_module()
    # renders=0: real renders need a Python >= 3.12 to parse with; tests/render covers them
    findings = fuzz.run(seed=20261122, count=300, renders=0)
    report = "\n\n".join(f"{f.case.describe()}\n{f.problem}" for f in findings)
    assert findings == [], report


def test_the_generators_cover_every_kind_of_input() -> None:
    fuzz = _fuzz_module()
    kinds = {case.kind for case in fuzz.cases(seed=1, count=300)}
    assert kinds == {
        "--set strings",
        "answers file",
        "preset",
        "project and directory names",
        "presets new",
        "presets show",
    }


def test_a_traceback_is_a_finding(monkeypatch) -> None:
    """The bench must catch what it is for: a bug escaping as a traceback."""
    fuzz = _fuzz_module()
    from scalekit_gen import commands

    def broken(**kwargs: object) -> None:
        raise RuntimeError("planted bug")

    monkeypatch.setattr(commands, "plan", broken)
    findings = fuzz.run(seed=3, count=20, renders=0)
    assert findings
    assert all("planted bug" in f.problem for f in findings if f.case.argv[0] == "plan")
