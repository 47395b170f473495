"""The guided walk: one screen per unanswered decision, then a summary to confirm.

It takes a Rich console (stderr in the CLI) and reads answers with Rich prompts from stdin, so
it runs the same on a terminal, through a pipe, and under `CliRunner` in tests. Every answer
goes through the blueprint's own `coerce` and the catalog's rules before it is accepted: a
wizard answer can never be something the non-interactive path would refuse.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.prompt import Confirm, Prompt
from rich.table import Table

from scalekit_gen import catalog
from scalekit_gen.blueprint import AnswerLayer, coerce, pending
from scalekit_gen.catalog import DECISION_LIST, Decision, Kind
from scalekit_gen.errors import ScalekitError
from scalekit_gen.views import cost_markup

SOURCE = "wizard"


class InputEnded(ScalekitError):
    """stdin closed before every question was answered."""


def run_wizard(given: Mapping[str, Any], console: Console) -> AnswerLayer:
    """Ask every applicable decision `given` does not answer; return the answers as a layer."""
    answers: dict[str, Any] = {}
    known = dict(given)
    to_ask = {decision.key for decision in pending(given)}
    total = len(to_ask)
    asked = 0
    for decision in DECISION_LIST:
        if not decision.applies_to(known):
            total -= decision.key in to_ask  # an earlier answer made it moot
            continue
        if decision.key in known:
            continue
        if decision.key not in to_ask:  # newly applicable because of an earlier answer
            total += 1
        asked += 1
        _header(console, decision, asked, total)
        value = _ask(console, decision, known)
        known[decision.key] = answers[decision.key] = value
    return AnswerLayer(SOURCE, answers)


def _header(console: Console, decision: Decision, number: int, total: int) -> None:
    console.print()
    console.print(
        Panel(
            f"[bold]{decision.question}[/bold]\n[dim]{decision.context}[/dim]",
            title=f"[{number}/{total}] {decision.title}",
            title_align="left",
            border_style="cyan",
        )
    )


def _ask(console: Console, decision: Decision, known: Mapping[str, Any]) -> Any:
    default = catalog.fitting_default(decision.key, known)
    if decision.kind in (Kind.CHOICE, Kind.MULTI):
        _options_table(console, decision, known, default)
    if decision.default_note:
        console.print(f"[dim]Default: {decision.default_note}.[/dim]")
    if decision.kind is Kind.OWNERS:
        return _ask_owners(console, decision, known, default)
    shown_default = _as_input(default)
    while True:
        raw = _read(console, decision.key, shown_default)
        try:
            value = coerce(decision, _by_number(decision, raw))
        except ValueError as error:
            console.print(f"[red]{error}[/red]")
            continue
        problems = catalog.conflicts(decision.key, value, known)
        if problems:
            for problem in problems:
                console.print(f"[red]{problem}[/red]")
            continue
        return value


def _read(console: Console, key: str, default: str) -> str:
    try:
        return Prompt.ask(f"[bold]{key}[/bold]", default=default, console=console)
    except EOFError:
        raise InputEnded(
            f"input ended before '{key}' was answered — answer every question, or pass "
            "--yes to take the defaults"
        ) from None


def _as_input(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value) or "none"
    return str(value)


def _by_number(decision: Decision, raw: str) -> str:
    """Options can be picked by their number in the table: `2` or `1,3` for several."""
    if not decision.options:
        return raw
    if decision.kind is Kind.MULTI and raw.strip().lower() in ("none", "-"):
        return ""
    parts = [part.strip() for part in raw.split(",")]
    picked = [
        decision.values[int(part) - 1]
        if part.isdigit() and 0 < int(part) <= len(decision.values)
        else part
        for part in parts
    ]
    return ",".join(picked)


def _options_table(
    console: Console, decision: Decision, known: Mapping[str, Any], default: Any
) -> None:
    defaults = set(default) if isinstance(default, list | tuple) else {default}
    table = Table(box=None, pad_edge=False, show_header=True, header_style="dim")
    table.add_column("#", justify="right")
    table.add_column("option")
    table.add_column("choose it when")
    table.add_column("cost to reverse")
    for number, option in enumerate(decision.options, start=1):
        blocked = catalog.conflicts(decision.key, option.value, known)
        cost = option.reversal.cost.value
        if blocked:
            table.add_row(
                str(number), option.value, f"unavailable: {blocked[0]}", cost, style="dim"
            )
            continue
        name = option.value
        if option.value in defaults:
            name = f"[bold green]{option.value}[/bold green] (default)"
        table.add_row(str(number), name, option.choose_when, cost_markup(cost))
    console.print(table)
    if decision.kind is Kind.MULTI:
        console.print(
            "[dim]Several allowed: comma-separated names or numbers; 'none' for none.[/dim]"
        )


def _ask_owners(
    console: Console, decision: Decision, known: Mapping[str, Any], default: Mapping[str, str]
) -> dict[str, str]:
    fallback_default = default.get("*", "")
    owners: dict[str, str] = {}
    for module in ("*", *known.get("modules", ())):
        label = "everything else (*)" if module == "*" else module
        suggestion = owners.get("*", fallback_default) if module != "*" else fallback_default
        while True:
            raw = _read(console, f"owner of {label}", suggestion)
            try:
                owners[module] = coerce(decision, {module: raw})[module]
            except ValueError as error:
                console.print(f"[red]{error}[/red]")
                continue
            break
    # Only keep owners that differ from the fallback: the answers file stays short.
    return {m: o for m, o in owners.items() if m == "*" or o != owners["*"]}


def confirm(console: Console, question: str) -> bool:
    try:
        return Confirm.ask(question, default=True, console=console)
    except EOFError:
        raise InputEnded("input ended before the summary was confirmed") from None
