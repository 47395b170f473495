"""One exception family. `cli.main` is the only place that turns it into text and exit codes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

USER_ERROR = 2
BUG = 1
# `scalekit update` merged (or, with --dry-run, would merge) with conflicts left to resolve:
# not an error, but a script updating many projects must be able to tell.
CONFLICTS = 3
OUTPUT_FAILED = 1  # as cat(1): the output could not be written (a full disk, a closed stdout)
INTERRUPTED = 130
# `scalekit doctor` found something to fix. The same number as CONFLICTS: each command has
# one outcome between done and error, and scripts branch on it the same way.
CHECKS_FAILED = 3


class ScalekitError(Exception):
    """A problem the user can fix; shown without a traceback, exit code 2."""

    exit_code = USER_ERROR


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the answers, located where the user can find it."""

    key: str
    message: str
    source: str = ""

    def __str__(self) -> str:
        where = f"{self.source}: " if self.source else ""
        # Rule messages already open with "key: value"; do not say the key twice.
        key = "" if self.message.startswith(f"{self.key}: ") else f"{self.key}: "
        return f"{where}{key}{self.message}"


class BlueprintError(ScalekitError):
    """The answers do not form a valid blueprint; lists every problem at once."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} with the answers:\n{lines}")


class MissingAnswersError(ScalekitError):
    """No terminal to ask on and no --yes: say which answers are missing and how to give them."""

    def __init__(self, keys: Sequence[str]) -> None:
        self.keys = tuple(keys)
        super().__init__(
            f"missing answers for: {', '.join(self.keys)}. There is no terminal to ask on. "
            "Pass --yes to take the defaults, give them with --set KEY=VALUE, --answers FILE "
            "or --preset NAME, or pass --interactive to answer them on stdin."
        )


class PresetError(ScalekitError):
    """A preset or answers file cannot be found or read."""


class DestinationError(ScalekitError):
    """The destination cannot be rendered into; nothing was touched."""


class MatrixError(ScalekitError):
    """A `scalekit matrix` option the catalog's space cannot take, or a missing tool."""


class RenderError(ScalekitError):
    """Rendering failed; the partial output was removed."""


class UpdateError(ScalekitError):
    """A project cannot be updated as it is; nothing was changed."""


class OutputError(ScalekitError):
    """stdout or stderr could not be written; not the user's input, so exit code 1."""

    exit_code = OUTPUT_FAILED


class ReaderGone(Exception):
    """The reader of stdout or stderr went away (`scalekit plan -f json | head`): stop
    quietly with exit 0, as a closed pipe asks. Not an OSError, so Click's own EPIPE
    handling (exit 1) never sees it."""
