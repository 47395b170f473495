"""Ratio tables from a `bench.services` results file: what the generated services serve
against the bare framework and against the hand-written limit, measured in the same run.

Only ratios are reported as findings: the machine is shared and its absolute numbers drift
from run to run, while a ratio of two points measured minutes apart on it holds better.

A point is {"service", "target" (generated | bare | limit), "endpoint", "connections",
"result": wrk.Result.to_json()}.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

Point = Mapping[str, Any]

#: The issue's targets (issue 14): generated /healthz against the bare app, the generated
#: list read against the limit.
HEALTHZ_TARGET = 0.80
LIST_TARGET = 0.50


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, None when either is missing or the denominator is 0."""
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def rps(
    points: Iterable[Point], service: str, target: str, endpoint: str, conns: int
) -> float | None:
    """req/s of one point, None when it was not measured."""
    found = find(points, service, target, endpoint, conns)
    return None if found is None else float(found["result"]["rps"])


def cpu(
    points: Iterable[Point], service: str, target: str, endpoint: str, conns: int
) -> float | None:
    """The server's CPU ms per request at one point, None when not measured."""
    found = find(points, service, target, endpoint, conns)
    value = None if found is None else found["result"].get("cpu_ms_per_request")
    return None if value is None else float(value)


def find(
    points: Iterable[Point], service: str, target: str, endpoint: str, conns: int
) -> Point | None:
    for point in points:
        if (point["service"], point["target"], point["endpoint"], point["connections"]) == (
            service,
            target,
            endpoint,
            conns,
        ):
            return point
    return None


def fmt_ratio(value: float | None, target: float | None = None) -> str:
    """×0.52, in bold when below `target`; – when unknown."""
    if value is None:
        return "–"
    text = f"×{value:.2f}"
    return f"**{text}**" if target is not None and value < target else text


def fmt_rps(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def services(points: Iterable[Point]) -> list[str]:
    seen: dict[str, None] = {}
    for point in points:
        seen.setdefault(point["service"], None)
    return list(seen)


def ratio_table(points: Sequence[Point], conns: int = 64) -> str:
    """One row per service at `conns` connections: the ratios (the issue's targets, and the
    list read split at the framework with SQLAlchemy Core, "core", where measured), the four
    endpoints' req/s, errors and CPU per request."""
    lines = [
        "| service | /healthz ÷ bare | list read ÷ limit | list read ÷ core | core ÷ limit "
        "| cached item ÷ list read "
        "| /healthz req/s | item req/s | list req/s | write req/s | errors "
        "| /healthz CPU ÷ bare | list CPU ÷ limit | list CPU ms/req |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for service in services(points):
        health = rps(points, service, "generated", "healthz", conns)
        item = rps(points, service, "generated", "item", conns)
        listed = rps(points, service, "generated", "list", conns)
        write = rps(points, service, "generated", "write", conns)
        errors = sum(
            int(p["result"]["errors"])
            for p in points
            if p["service"] == service and p["target"] == "generated" and p["connections"] == conns
        )
        list_cpu = cpu(points, service, "generated", "list", conns)
        list_cpu_ratio = ratio(list_cpu, cpu(points, service, "limit", "list", conns))
        health_cpu = ratio(
            cpu(points, service, "generated", "healthz", conns),
            cpu(points, service, "bare", "healthz", conns),
        )
        vs_bare = ratio(health, rps(points, service, "bare", "healthz", conns))
        core = rps(points, service, "core", "list", conns)
        limit = rps(points, service, "limit", "list", conns)
        vs_limit = ratio(listed, limit)
        lines.append(
            f"| {service} "
            f"| {fmt_ratio(vs_bare, HEALTHZ_TARGET)} | {fmt_ratio(vs_limit, LIST_TARGET)} "
            f"| {fmt_ratio(ratio(listed, core))} | {fmt_ratio(ratio(core, limit))} "
            f"| {fmt_ratio(ratio(item, listed), 1.0)} "
            f"| {fmt_rps(health)} | {fmt_rps(item)} | {fmt_rps(listed)} | {fmt_rps(write)} "
            f"| {errors} "
            f"| {fmt_ratio(health_cpu)} | {fmt_ratio(list_cpu_ratio)} "
            f"| {_num(list_cpu)} |"
        )
    return "\n".join(lines)


def sweep_table(points: Sequence[Point], sweep: Sequence[int]) -> str:
    """The list read over the connection sweep: generated and limit req/s, their ratio,
    the generated p99 and errors (non-2xx + timeouts + socket errors), and how long the
    generated service took to answer again once wrk stopped."""
    lines = [
        "| service | connections | generated req/s | core req/s | limit req/s | generated ÷ limit "
        "| generated p50 / p99 ms | limit p99 ms | generated errors | limit errors "
        "| generated drain s | generated / limit CPU ms/req |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for service in services(points):
        for conns in sweep:
            gen = find(points, service, "generated", "list", conns)
            lim = find(points, service, "limit", "list", conns)
            if gen is None and lim is None:
                continue
            core = find(points, service, "core", "list", conns)
            g = gen["result"] if gen else None
            m = lim["result"] if lim else None
            lines.append(
                f"| {service} | {conns} | {fmt_rps(g and g['rps'])} "
                f"| {fmt_rps(core and core['result']['rps'])} | {fmt_rps(m and m['rps'])} "
                f"| {fmt_ratio(ratio(g and g['rps'], m and m['rps']))} "
                f"| {_ms(g, 'p50_ms')} / {_ms(g, 'p99_ms')} | {_ms(m, 'p99_ms')} "
                f"| {_errors(g)} | {_errors(m)} | {_drain(gen)} "
                f"| {_num(g and g.get('cpu_ms_per_request'))} / "
                f"{_num(m and m.get('cpu_ms_per_request'))} |"
            )
    return "\n".join(lines)


def memory_table(memory: Mapping[str, Mapping[str, Sequence[float]]]) -> str:
    """RSS (MiB) of each server's processes after its load: {service: {target: [MiB, ...]}}."""
    lines = ["| service | target | processes | RSS per process MiB |", "|---|---|---|---|"]
    for service, targets in memory.items():
        for target, mib in targets.items():
            each = ", ".join(f"{m:.0f}" for m in sorted(mib))
            lines.append(f"| {service} | {target} | {len(mib)} | {each} |")
    return "\n".join(lines)


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _ms(result: Mapping[str, Any] | None, key: str) -> str:
    return "–" if result is None else f"{result[key]:.1f}"


def _drain(point: Point | None) -> str:
    """Seconds until the server answered again after the load (requests left queued)."""
    if point is None or "settle_s" not in point:
        return "–"
    return f"{point['settle_s']:.1f}"


def _errors(result: Mapping[str, Any] | None) -> str:
    if result is None:
        return "–"
    detail = f"{result['non_2xx']} non-2xx, {result['timeouts']} timeouts"
    return f"{result['errors']} ({detail})" if result["errors"] else "0"


def render(results: Mapping[str, Any]) -> str:
    """The markdown of a results file: meta, the ratio table at 64, the sweep, memory."""
    meta = results["meta"]
    points = results["points"]
    return "\n\n".join(
        [
            f"Measured on {meta['date']} on {meta['cores']} cores (load average at start "
            f"{meta['loadavg']}), wrk {meta['seconds']:g} s per point, "
            f"timeout {meta['wrk_timeout_s']:g} s; commit {meta['commit']}.",
            f"At {meta['connections']} connections (ratios below the issue's targets in bold):",
            ratio_table(points, meta["connections"]),
            "The list read over the connection sweep:",
            sweep_table(points, meta["sweep"]),
            "Memory after the load:",
            memory_table(results.get("memory", {})),
        ]
    )
