"""Generate the manual's reference pages (docs/reference/) from the catalog and the sizing
model, so the reference can never say something the code does not: a test and
`./scripts/test` fail when the committed pages drift, as they do for `copier.yml`.

- `decisions.md`: every decision with its question, context, options (choose it when, cost
  and reason to reverse), default, the rules that involve it and its consequences;
- `sizing.md`: the sizing formulas and assumptions, and the numbers they give the default
  stack;
- `presets.md`: the shipped presets, comments and all;
- `wizard-walk.txt`: the wizard's screens for one walk, as the real wizard prints them
  (getting-started.md includes it).

Regenerate with: python -m scalekit_gen.reference   (verify with --check)
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

from scalekit_gen import generated_files
from scalekit_gen.catalog import DECISION_LIST, Cost, Decision, Kind
from scalekit_gen.catalog.types import Consequence, Need
from scalekit_gen.paths import docs_dir
from scalekit_gen.plan import record_path

GENERATED = (
    "GENERATED from src/scalekit_gen/ by `python -m scalekit_gen.reference`; do not edit by "
    "hand: tests/unit/test_reference.py fails when this file drifts."
)
REFERENCE = Path("reference")

# How each kind of answer is written in a preset, an answers file or `--set`.
_ANSWER_SHAPES = {
    Kind.TEXT: "a name",
    Kind.CHOICE: "one option",
    Kind.MULTI: "any of the options (a YAML list, or comma-separated with `--set`)",
    Kind.INTEGER: "a whole number (`--set` also takes `10k`, `2m`)",
    Kind.NAMES: "Python identifiers (a YAML list, or comma-separated with `--set`)",
    Kind.OWNERS: (
        "a mapping of module to owner handle, `*` for everything else "
        "(with `--set`: `*:@acme/backend,billing:@acme/payments`)"
    ),
}


def _cell(text: object) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _code(value: object) -> str:
    return f"`{value}`"


def _default_text(decision: Decision) -> str:
    if decision.has_computed_default:
        return f"computed: {decision.default_note}"
    default = decision.default_for({})
    if isinstance(default, tuple | list):
        return ", ".join(_code(item) for item in default) or "none"
    return _code(default)


# --------------------------------------------------------------------------- decisions.md


def _overview(decisions: Iterable[Decision]) -> Iterator[str]:
    yield "| decision | key | answer | default |"
    yield "|---|---|---|---|"
    for decision in decisions:
        yield (
            f"| [{decision.title}](#{decision.key}) | {_code(decision.key)} "
            f"| {_cell(_short_shape(decision))} | {_cell(_default_text(decision))} |"
        )


def _short_shape(decision: Decision) -> str:
    if decision.kind is Kind.CHOICE:
        return "one of " + ", ".join(decision.values)
    if decision.kind is Kind.MULTI:
        return "any of " + ", ".join(decision.values)
    if decision.kind is Kind.INTEGER:
        return f"{decision.minimum:,} to {decision.maximum:,}"
    return {Kind.NAMES: "module names", Kind.OWNERS: "module: owner"}.get(decision.kind, "a name")


def _facts(decision: Decision) -> Iterator[str]:
    yield f"- Key: {_code(decision.key)} — {_ANSWER_SHAPES[decision.kind]}."
    if decision.kind is Kind.INTEGER:
        yield f"- Range: {decision.minimum:,} to {decision.maximum:,}."
    elif decision.kind is Kind.NAMES and decision.maximum is not None:
        yield f"- At most {decision.maximum} of them."
    yield f"- Default: {_default_text(decision)}."
    if decision.applies is not None:
        yield f"- Asked {decision.applies_note}; otherwise it does not apply (n/a)."
    if decision.recorded:
        yield f"- Recorded in the generated project as {_code(record_path(decision))}."
    else:
        yield "- No decision record: it names the project rather than shaping it."


def _options(decision: Decision) -> Iterator[str]:
    if not decision.options:
        assert decision.reversal is not None  # every decision states its cost one way
        reversal = decision.reversal
        yield f"Cost to reverse: **{reversal.cost.value}** — {reversal.reason}."
        return
    yield "| option | choose it when | cost to reverse | why |"
    yield "|---|---|---|---|"
    for option in decision.options:
        yield (
            f"| {_code(option.value)} | {_cell(option.choose_when)} "
            f"| **{option.reversal.cost.value}** | {_cell(option.reversal.reason)} |"
        )


def _need_text(key: str, value: str, need: Need) -> str:
    allowed = " or ".join(_code(f"{need.other}: {v}") for v in need.allowed)
    return f"{_code(f'{key}: {value}')} needs {allowed} — {need.why}."


def _rules(decision: Decision, decisions: Iterable[Decision]) -> Iterator[str]:
    for other in decisions:
        for option in other.options:
            for need in option.requires:
                if decision.key in (other.key, need.other):
                    yield f"- {_need_text(other.key, option.value, need)}"
    for value, reason in decision.refused.items():
        yield f"- {_code(f'{decision.key}: {value}')} is refused: {reason}."


def _condition(consequence: Consequence) -> str:
    return " and ".join(
        f"{_code(key)} is " + " or ".join(_code(value) for value in values)
        for key, values in consequence.when.items()
    )


def _consequences(decision: Decision, decisions: Iterable[Decision]) -> Iterator[str]:
    for other in decisions:
        for consequence in other.consequences:
            if consequence.shown_in_record_of(decision.key):
                yield f"- When {_condition(consequence)}: {consequence.note}"


def _section(decision: Decision, decisions: tuple[Decision, ...]) -> Iterator[str]:
    yield f"## {decision.title} {{#{decision.key}}}"
    yield ""
    yield f"*{decision.question}*"
    yield ""
    yield decision.context
    yield ""
    yield from _facts(decision)
    yield ""
    yield from _options(decision)
    rules = list(_rules(decision, decisions))
    if rules:
        yield ""
        yield "Rules that involve it:"
        yield ""
        yield from rules
    consequences = list(_consequences(decision, decisions))
    if consequences:
        yield ""
        yield "What it forces in the generated project (shown in its decision record):"
        yield ""
        yield from consequences
    yield ""


def decisions_page() -> str:
    decisions = DECISION_LIST  # read on each call, so a test can swap the catalog
    costs = " < ".join(_code(cost.value) for cost in Cost)
    lines = [
        f"<!-- {GENERATED} -->",
        "# Decision reference",
        "",
        "Every decision scalekit asks, in the order the wizard asks it. The same text is what "
        "the wizard shows, what `scalekit plan` prints and what each generated project's "
        "decision records say. Costs to reverse, from cheapest: " + costs + ".",
        "",
        "A default that breaks a rule with an answer you gave is not used: the first option "
        "that fits is taken instead (`--set queue=rq --yes` gets `concurrency: sync`).",
        "",
        *_overview(decisions),
        "",
    ]
    for decision in decisions:
        lines.extend(_section(decision, decisions))
    return "\n".join(lines)


# --------------------------------------------------------------------------- sizing.md


def _example_sizing() -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """The plan of the default answers: the numbers the formulas give the default stack."""
    from scalekit_gen.blueprint import build_blueprint
    from scalekit_gen.plan import build_plan

    plan = build_plan(build_blueprint([]))
    return plan["answers"], plan["sizing"]


def sizing_page() -> str:
    from scalekit_gen.sizing import DEFAULT_ASSUMPTIONS, FORMULAS

    answers, sizing = _example_sizing()
    lines = [
        f"<!-- {GENERATED} -->",
        "# Sizing",
        "",
        "`scalekit plan` turns `target_users` (and `peak_rps` when it is known) into every "
        "worker count, pool size and connection limit of the generated project. The same "
        "tables are written into each project's `docs/capacity.md`, with that project's "
        "numbers. The model keeps one invariant whatever the input: the server connections "
        "PostgreSQL can be asked for, plus those reserved for migrations and administration "
        "(`postgres_reserved`), never exceed `max_connections` (a hypothesis test checks it).",
        "",
        "## Formulas",
        "",
        "| value | formula |",
        "|---|---|",
        *(f"| {_cell(what)} | {_cell(formula)} |" for what, formula in FORMULAS),
        "",
        "## Assumptions",
        "",
        "Every number follows from these. Measure (a load test gives the real CPU time and "
        "latency per request), then change them.",
        "",
        "| assumption | value |",
        "|---|---|",
        *(
            f"| {_code(field.name)} | {getattr(DEFAULT_ASSUMPTIONS, field.name)} |"
            for field in fields(DEFAULT_ASSUMPTIONS)
        ),
        "",
        "## The default stack, worked through",
        "",
        f"The defaults ({answers['framework']}, {answers['concurrency']}, "
        f"{answers['pooling']}, {answers['queue']}, {answers['target_users']:,} target users) "
        "give these numbers (`scalekit plan --format json` prints them for any answers):",
        "",
        "| sizing | value |",
        "|---|---|",
        *(
            f"| {_code(name)} | {_cell(value)} |"
            for name, value in sizing.items()
            if name != "warnings"
        ),
        "",
        "`scalekit plan` also prints warnings when the numbers call for another design "
        "(PostgreSQL asked for many hundreds of connections, or very many web pods). The "
        "default stack gets "
        + ("none." if not sizing["warnings"] else "these: " + " ".join(sizing["warnings"])),
        "",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- presets.md


def presets_page() -> str:
    from scalekit_gen.presets import list_presets, read_text

    lines = [
        f"<!-- {GENERATED} -->",
        "# Shipped presets",
        "",
        "The presets that come with scalekit, as `scalekit presets show NAME` prints them. "
        "Any of them can be a base for your own (`extends: NAME`, see "
        "[Presets for platform teams](../presets.md)); a decision a preset leaves out takes "
        "its default, or is asked by the wizard.",
        "",
        "| preset | what it is |",
        "|---|---|",
        *(f"| [{info.name}](#{info.name}) | {_cell(info.summary)} |" for info in list_presets()),
        "",
    ]
    for info in list_presets():
        lines += [
            f"## {info.name} {{#{info.name}}}",
            "",
            "```yaml",
            read_text(info.path).rstrip("\n"),
            "```",
            "",
        ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- wizard-walk.txt

# One walk through the wizard for `scalekit new shop`: a Django team takes the defaults
# except its modules and one owner, and first tries an answer the rules refuse. Empty lines
# take the default; "y" confirms.
WALK: tuple[tuple[str, str], ...] = (
    ("framework", "django"),
    ("concurrency", ""),
    ("auth", ""),
    ("database", ""),
    ("read_replicas", ""),
    ("pooling", ""),
    ("queue", "taskiq"),  # refused: Taskiq needs FastAPI; asked again
    ("queue", ""),
    ("broker", ""),
    ("cache", ""),
    ("observability", ""),
    ("load_tests", ""),
    ("deploy", ""),
    ("ci", ""),
    ("modules", "catalog, billing"),
    ("owner of everything else (*)", ""),
    ("owner of catalog", ""),
    ("owner of billing", "@shop/payments"),
    ("target_users", ""),
    ("peak_rps", ""),
)
_WIDTH = 100


def _scripted_console(script: Iterable[tuple[str, str]]) -> Any:
    """A Rich console whose prompts take their answers from `script` and echo them, as a
    terminal shows what was typed. Each answer is checked against its prompt, so a script
    that no longer fits the wizard fails loudly instead of answering the wrong question."""
    from rich.console import Console

    pending = list(script)

    class Scripted(Console):
        unanswered = pending

        def input(self, prompt: Any = "", **_: Any) -> str:
            if not pending:
                raise AssertionError(f"the wizard asked more than WALK answers: {prompt}")
            label, answer = pending.pop(0)
            if label not in str(prompt):
                raise AssertionError(f"WALK answers {label!r} but the wizard asked {prompt}")
            self.print(prompt, answer, sep="", highlight=False)
            return answer

    return Scripted(file=io.StringIO(), width=_WIDTH, record=True, color_system=None, emoji=False)


def wizard_walk() -> str:
    """The screens of `scalekit new shop` answered with WALK, as plain text."""
    from scalekit_gen import views
    from scalekit_gen.blueprint import build_blueprint, resolve
    from scalekit_gen.plan import build_plan
    from scalekit_gen.presets import collect_layers
    from scalekit_gen.wizard import confirm, run_wizard

    console = _scripted_console([*WALK, ("Render the project", "y")])
    console.print("$ scalekit new shop", highlight=False)
    layers = collect_layers(preset=None, answers_file=None, sets=[], project_name="shop")
    layers.append(run_wizard(resolve(layers).given, console))
    plan = build_plan(build_blueprint(layers))
    console.print(views.decisions_table(plan, title="Plan for shop", with_why=False))
    console.print(views.sizing_table(plan))
    confirm(console, "Render the project into shop?")
    if console.unanswered:
        raise AssertionError(f"the wizard asked fewer questions than WALK answers: {WALK}")
    text = console.export_text(styles=False)
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


# --------------------------------------------------------------------------- files


def pages() -> dict[Path, str]:
    """Every generated file, relative to docs/, with its text."""
    return {
        REFERENCE / "decisions.md": decisions_page(),
        REFERENCE / "sizing.md": sizing_page(),
        REFERENCE / "presets.md": presets_page(),
        REFERENCE / "wizard-walk.txt": wizard_walk(),
    }


def stale(root: Path) -> list[Path]:
    """The generated files under `root` (docs/) that differ from what the code produces."""
    drifted = []
    for relative, text in pages().items():
        path = root / relative
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if current != text:
            drifted.append(path)
    return drifted


def write(root: Path) -> list[Path]:
    """Bring the generated files under `root` up to date; returns what changed."""
    changed = []
    for relative, text in pages().items():
        path = root / relative
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


def main(argv: list[str]) -> int:
    root = docs_dir()
    if not root.is_dir():
        print(f"{root} not found: run this from a scalekit checkout", file=sys.stderr)
        return 2
    return generated_files.main(
        argv, root=root, module="scalekit_gen.reference", stale=stale, write=write
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
