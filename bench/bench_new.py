"""How long `scalekit new DEST --yes` takes, end to end, against plain Copier side by side.

Each round runs every variant once, in an interleaved order, as a fresh process (CLI start-up
counts), into a fresh directory. Medians, the ratio to plain `copier copy` of the same
template and each variant's peak RSS are printed as a Markdown table, ready for docs/performance.md.

The template's extension keeps compiled templates in the user's cache between runs (see
`copier_ext`); "cold" runs turn that off with SCALEKIT_NO_COMPILE_CACHE=1, so the table
shows what a first run on a machine costs as well as every later one.

    .venv/bin/python bench/bench_new.py --rounds 15
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
TEMPLATE = Path(__file__).resolve().parent.parent / "templates"


COLD = "cold: "  # prefix of the variants run without the compile cache


def variants() -> dict[str, list[str]]:
    scalekit, copier = str(BIN / "scalekit"), str(BIN / "copier")
    return {
        "python -c 'import copier' (floor)": [sys.executable, "-c", "import copier"],
        "scalekit --help": [scalekit, "--help"],
        "copier copy --trust --defaults (baseline)": [
            copier,
            "copy",
            "--quiet",
            "--trust",
            "--defaults",
            str(TEMPLATE),
            "{dest}",
        ],
        "scalekit new --yes --no-git": [scalekit, "new", "{dest}", "--yes", "--no-git"],
        "scalekit new --yes": [scalekit, "new", "{dest}", "--yes"],
        f"{COLD}scalekit new --yes": [scalekit, "new", "{dest}", "--yes"],
    }


def run_once(name: str, command: list[str], dest: Path) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one fresh process."""
    argv = [part.replace("{dest}", str(dest)) for part in command]
    env = {**os.environ, "SCALEKIT_NO_COMPILE_CACHE": "1"} if name.startswith(COLD) else None
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{name} failed with exit code {process.returncode}: {argv}")
    shutil.rmtree(dest, ignore_errors=True)
    return elapsed, usage.ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="scalekit-bench-") as tmp:
        work = Path(tmp)
        commands = variants()
        times: dict[str, list[float]] = {name: [] for name in commands}
        peaks: dict[str, int] = dict.fromkeys(commands, 0)
        for round_number in range(args.rounds):
            names = list(commands)
            if round_number % 2:
                names.reverse()  # interleave so drift in machine load hits every variant
            for index, name in enumerate(names):
                dest = work / f"r{round_number}-{index}"
                elapsed, peak = run_once(name, commands[name], dest)
                times[name].append(elapsed)
                peaks[name] = max(peaks[name], peak)
    baseline = statistics.median(times["copier copy --trust --defaults (baseline)"])
    print(f"rounds: {args.rounds}, python {sys.version.split()[0]}\n")
    print("| command | median s | p10–p90 s | vs copier copy | peak RSS MiB |")
    print("|---|---|---|---|---|")
    for name, samples in times.items():
        ordered = sorted(samples)
        p10 = ordered[len(ordered) // 10]
        p90 = ordered[max(0, (len(ordered) * 9) // 10 - 1)]
        median = statistics.median(samples)
        print(
            f"| `{name}` | {median:.3f} | {p10:.3f}–{p90:.3f} | ×{median / baseline:.2f} "
            f"| {peaks[name] / 1024:.0f} |"
        )


if __name__ == "__main__":
    main()
