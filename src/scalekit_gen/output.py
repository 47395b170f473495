"""Writing to stdout and stderr whatever they turn out to be: a UTF-8 terminal, a terminal or
pipe with an ASCII locale, a reader that stops early, a full disk, or a closed descriptor.

- Machine output (`emit`) is UTF-8 bytes, whatever the locale: JSON and YAML are UTF-8 by
  definition, and a preset file is shown exactly as it is stored.
- Human output on a stream whose encoding cannot hold a character falls back to ASCII (the
  symbols scalekit's own messages use, then accents dropped, then "?"), instead of failing.
- A failed write is an `OutputError` (exit 1, no traceback); a broken pipe is `ReaderGone`,
  on which `cli.ScalekitGroup.main` exits 0 silently.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import sys
import unicodedata
from collections.abc import Callable
from typing import Any, TextIO

from scalekit_gen.errors import OutputError, ReaderGone

FALLBACK_ERRORS = "scalekit-ascii-fallback"
# The non-ASCII symbols scalekit's messages and tables use, as ASCII text shows them.
_ASCII = {
    "≤": "<=",
    "≥": ">=",
    "—": "-",
    "–": "-",
    "…": "...",
    "→": "->",
    "×": "x",
    "·": "-",
    "•": "*",
    "‘": "'",
    "’": "'",
    "“": '"',
    "”": '"',
}


def _to_ascii(char: str) -> str:
    if char in _ASCII:
        return _ASCII[char]
    plain = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode("ascii")
    return plain or "?"


def _fallback(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    text = error.object[error.start : error.end]
    return "".join(_to_ascii(char) for char in text), error.end


codecs.register_error(FALLBACK_ERRORS, _fallback)


def _is_utf(stream: Any) -> bool:
    encoding = getattr(stream, "encoding", None) or "utf-8"
    return codecs.lookup(encoding).name.startswith("utf")


def make_streams_safe() -> None:
    """Let text the terminal cannot encode fall back to ASCII instead of raising."""
    for stream in (sys.stdout, sys.stderr):
        if stream is None or _is_utf(stream):
            continue
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors=FALLBACK_ERRORS)


class _Guarded:
    """A text stream whose write failures say which stream failed and why."""

    def __init__(self, stream: TextIO, name: str) -> None:
        self._stream = stream
        self._name = name

    def write(self, text: str) -> int:
        return int(self._call(lambda: self._stream.write(text)))

    def flush(self) -> None:
        self._call(self._stream.flush)

    def _call(self, operation: Callable[[], Any]) -> Any:
        try:
            return operation()
        except BrokenPipeError:
            raise ReaderGone from None
        except OSError as error:
            raise OutputError(f"cannot write to {self._name}: {error.strerror or error}") from None

    def __getattr__(self, name: str) -> Any:  # encoding, isatty, fileno: what Rich asks
        return getattr(self._stream, name)


def stderr() -> Any:
    """sys.stderr as Rich should write to it; None (closed) lets Rich discard the output."""
    return None if sys.stderr is None else _Guarded(sys.stderr, "standard error")


def emit(text: str) -> None:
    """Machine output on stdout, as UTF-8."""
    stream = sys.stdout
    if stream is None:
        raise OutputError(
            "standard output is closed, so there is nowhere to print to — redirect it to a "
            "file (> plan.json) or to /dev/null"
        )
    try:
        stream.flush()
        buffer = getattr(stream, "buffer", None)
        if buffer is None:
            stream.write(text)
            stream.flush()
        else:
            buffer.write(text.encode("utf-8"))
            buffer.flush()
    except BrokenPipeError:
        raise ReaderGone from None
    except OSError as error:
        _point_at_devnull(stream)  # or the interpreter's own final flush fails again
        raise OutputError(
            f"cannot write to standard output: {error.strerror or error}; nothing more was printed"
        ) from None


def silence_closed_streams() -> None:
    """After a broken pipe, point stdout and stderr at /dev/null so the interpreter's final
    flush cannot fail (and print an 'Exception ignored' message) again."""
    for stream in (sys.stdout, sys.stderr):
        _point_at_devnull(stream)


def _point_at_devnull(stream: Any) -> None:
    try:
        descriptor = stream.fileno()
    except (AttributeError, OSError, ValueError):  # closed, or not a real file (a test's)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, descriptor)
    finally:
        os.close(devnull)


def guarded(write: Callable[[], object]) -> None:
    """Try to tell the user something on stderr; if stderr itself fails, the exit code has
    to say it."""
    # ValueError: "I/O operation on closed file"
    with contextlib.suppress(OSError, OutputError, ReaderGone, ValueError):
        write()
