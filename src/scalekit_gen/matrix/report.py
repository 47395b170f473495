"""What a matrix run found, as JUnit XML (for CI) and Markdown (for people)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from scalekit_gen.matrix.run import Outcome


@dataclass(frozen=True)
class Summary:
    blueprints: int  # valid blueprints in the catalog
    selected: int  # after --only/--exclude
    chosen: int  # the rows this run checks (covering set, shard)
    selection: str  # how they were chosen, e.g. "pairwise (strength 2)"
    seconds: float
    mode: str = "static"  # what ran: "static" or "runtime"


def failures(outcomes: Sequence[Outcome]) -> list[Outcome]:
    return [outcome for outcome in outcomes if not outcome.ok]


def junit_xml(summary: Summary, outcomes: Sequence[Outcome]) -> str:
    """One test case per row: its id as the name, each failing check in the failure."""
    suite = ET.Element(
        "testsuite",
        name=f"scalekit matrix --{summary.mode}",
        tests=str(len(outcomes)),
        failures=str(len(failures(outcomes))),
        errors="0",
        time=f"{summary.seconds:.1f}",
    )
    for outcome in outcomes:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"scalekit.matrix.{summary.mode}",
            name=outcome.id,
            time=f"{outcome.seconds:.2f}",
        )
        if not outcome.ok:
            failure = ET.SubElement(
                case, "failure", message=f"failed: {', '.join(outcome.failed_checks)}"
            )
            lines = [f"reproduce: {outcome.reproduce}"]
            if outcome.kept is not None:
                lines.append(f"kept render: {outcome.kept}")
            lines += [str(problem) for problem in outcome.problems]
            failure.text = "\n".join(lines)
    ET.indent(suite)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def markdown(summary: Summary, outcomes: Sequence[Outcome]) -> str:
    failed = failures(outcomes)
    lines = [
        f"# scalekit matrix --{summary.mode}",
        "",
        f"- valid blueprints in the catalog: {summary.blueprints:,}",
        f"- after --only/--exclude: {summary.selected:,}",
        f"- checked: {summary.chosen:,} ({summary.selection})",
        f"- failed: {len(failed)}",
        f"- wall time: {summary.seconds:.0f} s",
        "",
    ]
    if failed:
        lines += ["## Failures", ""]
        for outcome in failed:
            lines += [
                f"### {outcome.id}",
                "",
                f"- failing checks: {', '.join(outcome.failed_checks)}",
                f"- reproduce: `{outcome.reproduce}`",
            ]
            if outcome.kept is not None:
                lines.append(f"- kept render: `{outcome.kept}`")
            if outcome.answers is not None and outcome.rerun:
                lines.append(f"- answers that render it: `{outcome.answers}`")
            lines += ["", "```", *(str(problem) for problem in outcome.problems), "```", ""]
    lines += ["## Rows", "", "| # | row | result | seconds |", "|---|---|---|---|"]
    for outcome in outcomes:
        result = "ok" if outcome.ok else "FAILED: " + ", ".join(outcome.failed_checks)
        if outcome.timings:
            result += " (" + ", ".join(f"{n} {t:.0f} s" for n, t in outcome.timings) + ")"
        lines.append(f"| {outcome.number} | `{outcome.id}` | {result} | {outcome.seconds:.1f} |")
    return "\n".join(lines) + "\n"


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")
