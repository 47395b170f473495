"""Rich renderings of plans, presets and results: what people read on stderr."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from rich import box
from rich.table import Table

from scalekit_gen.presets import PresetInfo

_COST_STYLE = {
    "low": "green",
    "medium": "yellow",
    "high": "dark_orange",
    "major": "red",
    "catastrophic": "bold red",
}


def cost_markup(cost: str) -> str:
    return f"[{_COST_STYLE.get(cost, 'default')}]{cost}[/]"


def decisions_table(
    plan: Mapping[str, Any], *, title: str = "Decisions", with_why: bool = True
) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("decision", no_wrap=True)
    table.add_column("choice (from)", max_width=30)
    table.add_column("cost", no_wrap=True)
    if with_why:
        table.add_column("choose it when", ratio=1)
    for entry in plan["decisions"]:
        if not entry["applies"]:
            continue
        choice = f"[bold]{entry['display']}[/bold]"
        if entry["source"] != "default":
            choice += f" [dim]({entry['source']})[/dim]"
        cells = [entry["key"], choice, cost_markup(entry["cost"])]
        if with_why:
            cells.append(entry["why"])
        table.add_row(*cells)
    return table


_SIZING_ROWS = (
    ("peak / design RPS", "{peak_rps:,} / {design_rps:,}"),
    ("web pods (HPA)", "{hpa_min_replicas} – {hpa_max_replicas}"),
    ("web processes per pod", "{web_processes_per_pod}"),
    ("DB pool per process", "{db_pool_size} + {db_max_overflow} overflow"),
    ("worker replicas × concurrency", "{worker_replicas} × {worker_concurrency}"),
    ("PgBouncer max_client_conn", "{pgbouncer_max_client_conn}"),
    ("PgBouncer default_pool_size", "{pgbouncer_default_pool_size}"),
    (
        "PostgreSQL max_connections",
        "{postgres_max_connections} (server connections ≤ {server_connections})",
    ),
)


def sizing_table(plan: Mapping[str, Any]) -> Table:
    sizing = plan["sizing"]
    table = Table(
        title="Sizing (docs/capacity.md has the formulas)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
    )
    table.add_column("what")
    table.add_column("value")
    for label, template in _SIZING_ROWS:
        if "pgbouncer" in template and not plan["derived"]["uses_pgbouncer"]:
            continue
        if "worker" in template and not plan["derived"]["has_queue"]:
            continue
        table.add_row(label, template.format(**sizing))
    return table


def presets_table(presets: Iterable[PresetInfo]) -> Table:
    table = Table(title="Presets", title_justify="left")
    table.add_column("name", style="bold")
    table.add_column("what it is")
    for info in presets:
        table.add_row(info.name, info.summary)
    return table


def _shortest(dest: Path) -> str:
    """`shop` when it is under the working directory, the full path otherwise."""
    try:
        return str(dest.relative_to(Path.cwd()))
    except (OSError, ValueError):  # elsewhere, or the working directory has gone
        return str(dest)


def next_steps(dest: Path, files: Iterable[str]) -> list[str]:
    """What to run next, from what was actually rendered."""
    rendered = set(files)
    steps = [f"cd {_shortest(Path(dest))}"]
    if "Makefile" in rendered:
        steps += [
            "make install",
            "commit uv.lock, which make install wrote: the image and CI install only what it pins",
            "make lint",
            "make migrate",
            "make test",
            "make run",
        ]
    steps.append("read docs/decisions/ (one record per decision) and docs/capacity.md")
    return steps
