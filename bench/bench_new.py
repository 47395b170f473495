"""How long `scalekit new DEST --yes` takes, end to end, against plain Copier side by side.

Each round runs every variant once, in an interleaved order, as a fresh process (CLI start-up
counts), into a fresh directory. Medians and the ratio to plain `copier copy` of the same
template are printed as a Markdown table, ready for the README.

    .venv/bin/python bench/bench_new.py --rounds 15
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
TEMPLATE = Path(__file__).resolve().parent.parent / "templates"


def variants(work: Path) -> dict[str, list[str]]:
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
    }


def run_once(command: list[str], dest: Path) -> float:
    argv = [part.replace("{dest}", str(dest)) for part in command]
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    shutil.rmtree(dest, ignore_errors=True)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="scalekit-bench-") as tmp:
        work = Path(tmp)
        commands = variants(work)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for round_number in range(args.rounds):
            names = list(commands)
            if round_number % 2:
                names.reverse()  # interleave so drift in machine load hits every variant
            for index, name in enumerate(names):
                dest = work / f"r{round_number}-{index}"
                times[name].append(run_once(commands[name], dest))
    baseline = statistics.median(times["copier copy --trust --defaults (baseline)"])
    print(f"rounds: {args.rounds}, python {sys.version.split()[0]}\n")
    print("| command | median s | p10–p90 s | vs copier copy |")
    print("|---|---|---|---|")
    for name, samples in times.items():
        ordered = sorted(samples)
        p10 = ordered[len(ordered) // 10]
        p90 = ordered[max(0, (len(ordered) * 9) // 10 - 1)]
        median = statistics.median(samples)
        print(f"| `{name}` | {median:.3f} | {p10:.3f}–{p90:.3f} | ×{median / baseline:.2f} |")


if __name__ == "__main__":
    main()
