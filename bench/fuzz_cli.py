"""Drive generated inputs through the scalekit CLI and report every traceback.

Inputs come from a seeded random generator, so a finding is replayed with the same seed:
`--set` strings, answers files and presets (valid and hostile YAML, wrong encodings, aliases,
deep nesting, `extends` chains), project and directory names. They run in-process through
Typer's CliRunner against `scalekit plan` and `scalekit new` (with Copier replaced by a stub
that writes one file, so the destination handling runs for real and 10,000 inputs take
minutes); a few accepted answer sets are rendered for real and every rendered Python, YAML,
TOML and JSON file is parsed. A finding is an exit code other than 0 (done) or 2 (refused
with a message), a traceback, an input that runs longer than --timeout seconds, or a rendered
file that does not parse. Each is printed with the input that caused it; the exit code is 1
if there was any.

    .venv/bin/python bench/fuzz_cli.py                       # 10,000 inputs, seed 0
    .venv/bin/python bench/fuzz_cli.py --count 500 --seed 7 --renders 2
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from scalekit_gen import render
from scalekit_gen.catalog import DECISION_LIST, DECISIONS, Kind
from scalekit_gen.cli import app

KEYS = [d.key for d in DECISION_LIST]
SHIPPED = ["django-platform", "fastapi-async", "fastapi-sync", "instagram-classic", "lean-api"]
ODD_TEXT = [
    "",
    " ",
    "-",
    ".",
    "..",
    "~",
    "$HOME",
    "a/b",
    "/",
    "\\",
    '"',
    "'",
    '"""',
    "#",
    ": x",
    "- x",
    "{x}",
    "[x]",
    "{{ x }}",
    "{% x %}",
    "&a",
    "*a",
    "!!python/object:os.system",
    "\n",
    "\r\n",
    "\t",
    "\x00",
    "\x1b[31m",
    "\u2028",
    "\u200b",
    "\ufeff",
    "\udcff",
    "é",
    "Ω",
    "😀",
    "ﬁ",
    "İ",
    "ß",
    "中文",
    "١٢٣",
    "nan",
    "inf",
    "-0",
    "1e309",
    "0x10",
    "1_000",
    "10k",
    "2m",
    "3.5k",
    "-5",
    "99999999999999999999999",
    "true",
    "no",
    "null",
    "~",
    "celery",
    "none",
    "redis",
    "json",
    "platform",
    "tests",
    "class",
    "42",
    "CON",
    "a" * 64,
    "b" * 300,
    "ä" * 200,
]
# Names for the project and its directory: ordinary, hostile and at the limits.
NAME_PARTS = [
    "acme",
    "shop",
    "Café",
    "svc",
    "2fast",
    "my service",
    "x",
    "payments-api",
    *ODD_TEXT,
]


@dataclass
class Case:
    """One input: the command line, files to write first, and how to describe it."""

    argv: list[str]
    files: dict[str, bytes] = field(default_factory=dict)
    kind: str = ""

    def describe(self) -> str:
        lines = [f"kind: {self.kind}", f"argv: {self.argv!r}"]
        lines += [f"file {name}: {data[:300]!r}" for name, data in self.files.items()]
        return "\n".join(lines)


@dataclass
class Finding:
    case: Case
    problem: str


# --------------------------------------------------------------------------- generators


def _text(rng: random.Random) -> str:
    parts = rng.sample(NAME_PARTS, k=rng.randint(1, 3))
    text = rng.choice(["", " ", "-", "_", "."]).join(parts)
    if rng.random() < 0.1:
        text = "".join(chr(rng.randint(1, 0x2FFF)) for _ in range(rng.randint(1, 12)))
    return text


def _valid_value(rng: random.Random, key: str) -> Any:
    decision = DECISIONS[key]
    if decision.kind in (Kind.CHOICE,):
        return rng.choice(decision.values)
    if decision.kind is Kind.MULTI:
        return rng.sample(list(decision.values), k=rng.randint(0, len(decision.values)))
    if decision.kind is Kind.INTEGER:
        low, high = decision.minimum or 0, decision.maximum or 10**6
        return rng.randint(low, high)
    if decision.kind is Kind.NAMES:
        return rng.sample(["billing", "accounts", "search", "orders", "catalog_v2"], k=2)
    if decision.kind is Kind.OWNERS:
        return {"*": rng.choice(["@acme/backend", "team@acme.example", "@x"])}
    return _text(rng)


def _wild_value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth < 3 and roll < 0.15:
        return [_wild_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if depth < 3 and roll < 0.25:
        return {_text(rng): _wild_value(rng, depth + 1) for _ in range(rng.randint(0, 3))}
    return rng.choice(
        [
            _text(rng),
            rng.randint(-(10**20), 10**20),
            rng.random() * 1e6,
            float("inf"),
            True,
            False,
            None,
            rng.choice(ODD_TEXT),
        ]
    )


def _key(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.8:
        return rng.choice(KEYS)
    if roll < 0.9:
        key = rng.choice(KEYS)
        i = rng.randrange(len(key))
        return key[:i] + key[i + 1 :]  # a typo
    return rng.choice([*ODD_TEXT, "extends", "_src_path", "_scalekit_defaulted"])


def _answer_set(rng: random.Random) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for _ in range(rng.randint(0, 8)):
        key = _key(rng)
        valid = key in DECISIONS and rng.random() < 0.7
        answers[key] = _valid_value(rng, key) if valid else _wild_value(rng)
    return answers


def _set_flag(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.05:
        return rng.choice(ODD_TEXT)  # no '=' at all, or an empty key
    key = _key(rng)
    valid = key in DECISIONS and rng.random() < 0.6
    value = _valid_value(rng, key) if valid else _wild_value(rng)
    if isinstance(value, list):
        value = ",".join(str(v) for v in value)
    elif isinstance(value, dict):
        value = ",".join(f"{k}:{v}" for k, v in value.items())
    return f"{key}={value}"


def _yaml_bytes(rng: random.Random, document: dict[str, Any]) -> bytes:
    try:
        text = yaml.safe_dump(document, allow_unicode=rng.random() < 0.5, sort_keys=False)
    except Exception:  # a value PyYAML cannot write (a surrogate): use the repr
        text = "\n".join(f"{k!r}: {v!r}" for k, v in document.items())
    roll = rng.random()
    if roll < 0.05:
        text = "a: &a [x, x, x, x]\nb: &b [*a, *a, *a, *a]\nc: [*b, *b, *b, *b]\n" + text
    elif roll < 0.08:
        text = "base: &base {queue: celery}\nqueue:\n  <<: *base\n" + text
    elif roll < 0.11:
        text += "x: " + "[" * rng.randint(5, 2000) + "]" * rng.randint(0, 2000) + "\n"
    elif roll < 0.14:
        text += rng.choice(
            [
                "x: !!python/object/apply:os.system ['true']\n",
                "x: !!binary aGVsbG8=\n",
                "x: 2024-01-01\n",
                "x: !custom tag\n",
                "? [a, b]\n: c\n",
                "? {a: b}\n: c\n",
                "--- \na: 1\n--- \nb: 2\n",
                "%YAML 1.1\n---\na: 1\n",
                "queue: celery\nqueue: rq\n",
                "\t- tab\n",
                "a: 'unterminated\n",
            ]
        )
    encoding = rng.choices(
        ["utf-8", "utf-8-sig", "latin-1", "utf-16", "utf-16-le", "cp1252"],
        weights=[80, 4, 6, 4, 2, 4],
    )[0]
    data = text.encode(encoding, "replace")
    if rng.random() < 0.03:
        data = data[: rng.randint(0, len(data))]
    if rng.random() < 0.02:
        data = bytes(rng.randint(0, 255) for _ in range(rng.randint(0, 200)))
    return data


def _common_flags(rng: random.Random, case: Case) -> None:
    for _ in range(rng.choices([0, 1, 2, 4], weights=[40, 30, 20, 10])[0]):
        case.argv += ["--set", _set_flag(rng)]
    if rng.random() < 0.2:
        case.argv += ["--preset", rng.choice([*SHIPPED, "nope", "Acme.YAML", "./missing.yml"])]


def _plan_with_sets(rng: random.Random) -> Case:
    case = Case(["plan"], kind="--set strings")
    _common_flags(rng, case)
    case.argv += ["-f", rng.choice(["json", "yaml", "table", "json"])]
    return case


def _plan_with_answers(rng: random.Random) -> Case:
    case = Case(["plan", "--answers", "answers.yml"], kind="answers file")
    case.files["answers.yml"] = _yaml_bytes(rng, _answer_set(rng))
    _common_flags(rng, case)
    case.argv += ["-f", rng.choice(["json", "yaml", "table"])]
    return case


def _plan_with_preset(rng: random.Random) -> Case:
    document = _answer_set(rng)
    if rng.random() < 0.4:
        document["extends"] = rng.choice(
            [*SHIPPED, "preset.yml", "base.yml", "missing.yml", ".", "/dev/null", "BASE.YAML"]
        )
    case = Case(["plan", "--preset", rng.choice(["preset.yml", "./preset.yml"])], kind="preset")
    case.files["preset.yml"] = _yaml_bytes(rng, document)
    if rng.random() < 0.3:
        case.files["base.yml"] = _yaml_bytes(rng, _answer_set(rng))
    case.argv += ["-f", "json"]
    return case


def _new_with_name(rng: random.Random) -> Case:
    name = _text(rng)
    case = Case(["new"], kind="project and directory names")
    if rng.random() < 0.5:
        case.argv += [name or "."]
    if rng.random() < 0.5:
        case.argv += ["--set", f"project_name={_text(rng)}"]
    _common_flags(rng, case)
    case.argv += ["--yes", "--no-git"]
    return case


def _presets_new(rng: random.Random) -> Case:
    name = _text(rng) + rng.choice([".yml", ".YAML", ".yaml", "", ".txt"])
    case = Case(["presets", "new", name or "x.yml"], kind="presets new")
    if rng.random() < 0.5:
        case.argv += ["--from", rng.choice([*SHIPPED, "nope"])]
    for _ in range(rng.randint(0, 3)):
        case.argv += ["--set", _set_flag(rng)]
    return case


def _presets_show(rng: random.Random) -> Case:
    case = Case(["presets", "show", rng.choice([*SHIPPED, "preset.yml", _text(rng) or "x"])])
    case.kind = "presets show"
    case.files["preset.yml"] = _yaml_bytes(rng, _answer_set(rng))
    return case


GENERATORS: list[tuple[Callable[[random.Random], Case], int]] = [
    (_plan_with_sets, 30),
    (_plan_with_answers, 25),
    (_plan_with_preset, 15),
    (_new_with_name, 20),
    (_presets_new, 6),
    (_presets_show, 4),
]


def cases(seed: int, count: int) -> Iterator[Case]:
    rng = random.Random(seed)
    makers, weights = zip(*GENERATORS, strict=True)
    for _ in range(count):
        yield rng.choices(makers, weights=weights)[0](rng)


# --------------------------------------------------------------------------- running


class _Timeout(BaseException):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise _Timeout


def _stub_render(blueprint: Any, template: Path, out: Path) -> None:
    """Copier's part, replaced: one file, so destinations and staging run for real, fast."""
    out.mkdir(parents=True)
    (out / "README.md").write_text(f"# {blueprint['project_name']}\n", encoding="utf-8")


@contextlib.contextmanager
def _workdir() -> Iterator[Path]:
    previous = Path.cwd()
    root = Path(tempfile.mkdtemp(prefix="scalekit-fuzz-"))
    try:
        os.chdir(root)
        yield root
    finally:
        os.chdir(previous)
        shutil.rmtree(root, ignore_errors=True)


def run_case(runner: CliRunner, case: Case, timeout: float) -> str | None:
    """Run one input; the problem it revealed, or None."""
    with _workdir() as root:
        for name, data in case.files.items():
            (root / name).write_bytes(data)
        signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            result = runner.invoke(app, case.argv, catch_exceptions=True)
        except _Timeout:
            return f"ran longer than {timeout} s"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    output = result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        detail = "".join(traceback.format_exception(result.exception))
        return f"unexpected exception:\n{detail}"
    if "Traceback" in output or "hit a bug" in output:
        return f"traceback (exit {result.exit_code}):\n{output[-3000:]}"
    if result.exit_code not in (0, 2):
        return f"exit code {result.exit_code}:\n{output[-2000:]}"
    if result.exit_code == 2 and "error:" not in result.stderr and "Usage:" not in output:
        return f"refused without a message:\n{output[-2000:]}"
    return None


# The generated project targets Python >= 3.12 (PEP 695 generics): its files are parsed by
# such an interpreter, this one when it is new enough.
_PARSE_PY = """
import ast, sys
for name in sys.argv[1:]:
    try:
        ast.parse(open(name, encoding="utf-8").read(), name)
    except SyntaxError as error:
        print(f"{name}: SyntaxError: {error}")
"""


@functools.cache
def _python_for_the_project() -> str:
    """This interpreter if >= 3.12, else the first that is of $SCALEKIT_FUZZ_PYTHON,
    $UV_PYTHON, python3.13 and python3.12 on PATH (a pyenv shim may exist and not run) and
    what `uv python find` finds."""
    if sys.version_info >= (3, 12):
        return sys.executable
    candidates = [os.environ.get("SCALEKIT_FUZZ_PYTHON"), os.environ.get("UV_PYTHON")]
    candidates += [shutil.which(name) for name in ("python3.13", "python3.12")]
    uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    with contextlib.suppress(OSError, subprocess.TimeoutExpired):
        found = subprocess.run(
            [uv, "python", "find", ">=3.12"], capture_output=True, text=True, timeout=30
        )
        candidates.append(found.stdout.strip() if found.returncode == 0 else None)
    for candidate in filter(None, candidates):
        check = [candidate, "-c", "import sys; sys.exit(sys.version_info < (3, 12))"]
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            if subprocess.run(check, capture_output=True, timeout=30).returncode == 0:
                return candidate
    raise SystemExit(
        "bench/fuzz_cli.py parses rendered projects with Python >= 3.12: set "
        "SCALEKIT_FUZZ_PYTHON to one"
    )


def _rendered_files_parse(root: Path) -> list[str]:
    problems = []
    python_files = []
    for path in root.rglob("*"):
        if not path.is_file() or ".git" in path.parts:
            continue
        text = path.read_text("utf-8")
        try:
            if path.suffix == ".py":
                python_files.append(str(path))
            elif path.suffix in (".yml", ".yaml"):
                list(yaml.safe_load_all(text))
            elif path.suffix == ".toml":
                tomllib.loads(text)
            elif path.suffix == ".json":
                json.loads(text)
        except Exception as error:
            problems.append(f"{path.relative_to(root)}: {type(error).__name__}: {error}")
    parsed = subprocess.run(
        [_python_for_the_project(), "-c", _PARSE_PY, *python_files],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    problems += [line for line in parsed.stdout.splitlines() if line]
    if parsed.returncode != 0:
        problems.append(f"parsing the Python files failed: {parsed.stderr[-500:]}")
    return problems


def render_case(runner: CliRunner, case: Case) -> str | None:
    """Render an accepted answer set for real; every Python, YAML, TOML, JSON file parses."""
    with _workdir() as root:
        for name, data in case.files.items():
            (root / name).write_bytes(data)
        argv = ["new", "project", *[a for a in case.argv[1:] if a not in ("-f", "json")]]
        argv = [a for a in argv if a not in ("yaml", "table")] + ["--yes", "--no-git"]
        result = runner.invoke(app, argv, catch_exceptions=True)
        if result.exit_code != 0:
            return None  # refused: run_case judged the refusal already
        problems = _rendered_files_parse(root / "project")
    if problems:
        return "rendered files that do not parse:\n" + "\n".join(problems[:10])
    return None


def run(*, seed: int, count: int, renders: int, timeout: float = 20.0) -> list[Finding]:
    runner = CliRunner(env={"COLUMNS": "120", "NO_COLOR": "1"})
    findings: list[Finding] = []
    accepted: list[Case] = []
    real_render = render._copier_render
    render._copier_render = _stub_render  # type: ignore[assignment]
    try:
        for case in cases(seed, count):
            problem = run_case(runner, case, timeout)
            if problem is not None:
                findings.append(Finding(case, problem))
            elif case.argv[0] == "plan" and len(accepted) < renders * 20:
                accepted.append(case)
    finally:
        render._copier_render = real_render  # type: ignore[assignment]
    for case in random.Random(seed).sample(accepted, k=min(renders, len(accepted))):
        problem = render_case(runner, case)
        if problem is not None:
            findings.append(Finding(case, problem))
    return findings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000, help="inputs to generate")
    parser.add_argument("--seed", type=int, default=0, help="replays the same inputs")
    parser.add_argument("--renders", type=int, default=20, help="accepted inputs to render")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per input")
    args = parser.parse_args(argv)
    started = time.monotonic()
    findings = run(seed=args.seed, count=args.count, renders=args.renders, timeout=args.timeout)
    for number, finding in enumerate(findings, 1):
        print(f"--- finding {number}: {finding.case.describe()}\n{finding.problem}\n")
    elapsed = time.monotonic() - started
    print(
        f"{args.count} inputs (seed {args.seed}) and {args.renders} real renders in "
        f"{elapsed:.0f} s: {len(findings)} finding{'s' if len(findings) != 1 else ''}",
        file=sys.stderr,
    )
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
