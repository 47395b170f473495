"""The wizard on a real terminal: `scalekit new DEST` with no flags, on a pseudo-terminal.

A terminal on stdin is what starts the wizard (no --interactive). The child gets the pty as
its controlling terminal, so Ctrl-C and Ctrl-D typed into it behave as they do for a person.
Every read has a deadline; a stuck child is killed and the transcript shown.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX pseudo-terminals")

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[=>]|\r")


class Terminal:
    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))

        def become_a_terminal_session() -> None:  # runs in the child, after setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
            signal.signal(signal.SIGINT, signal.SIG_DFL)

        try:
            self.process = subprocess.Popen(
                argv,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                env=env,
                cwd=cwd,
                start_new_session=True,
                preexec_fn=become_a_terminal_session,
                close_fds=True,
            )
        finally:
            os.close(slave)
        self.raw = b""
        self.pos = 0  # how far expect() has consumed the cleaned transcript
        self.closed = False

    @property
    def text(self) -> str:
        return ANSI.sub("", self.raw.decode("utf-8", "replace"))

    def _read(self, timeout: float) -> None:
        if self.closed:
            time.sleep(min(timeout, 0.05))
            return
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # EIO: the child closed the terminal
            chunk = b""
        if chunk:
            self.raw += chunk
        else:
            self.closed = True

    def expect(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while True:
            match = regex.search(self.text, self.pos)
            if match:
                self.pos = match.end()
                return match
            if time.monotonic() > deadline or (self.closed and self.process.poll() is not None):
                pytest.fail(f"never saw {pattern!r}; the terminal showed:\n{self.text[-3000:]}")
            self._read(0.2)

    def send(self, text: str) -> None:
        os.write(self.master, text.encode())

    def answer(self, prompt: str, reply: str = "") -> None:
        """Wait for `prompt (default): ` and type the reply (Enter alone for the default)."""
        self.expect(rf"{re.escape(prompt)} \([^\n]*?\): ")
        self.send(reply + "\n")

    def wait(self, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        while not self.closed and time.monotonic() < deadline:
            self._read(0.2)
        return self.process.wait(timeout=max(1.0, deadline - time.monotonic()))

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        os.close(self.master)


@pytest.fixture
def terminal(scalekit_argv, subprocess_env, tmp_path) -> Iterator:
    opened: list[Terminal] = []
    env = {**subprocess_env, "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)  # a real terminal: colours and all

    def start(*args: str | os.PathLike[str]) -> Terminal:
        session = Terminal([*scalekit_argv, *map(os.fspath, args)], env, tmp_path)
        opened.append(session)
        return session

    yield start
    for session in opened:
        session.close()


def test_a_terminal_starts_the_wizard_and_enter_takes_the_defaults(
    terminal, tmp_path, read_answers, git
) -> None:
    dest = tmp_path / "svc"
    term = terminal("new", dest)
    term.expect(r"\[1/17\] Application framework")
    term.answer("framework")
    term.answer("concurrency")
    term.answer("auth")
    term.answer("database")
    term.answer("read_replicas", "many")  # refused, asked again
    term.expect(r"'many' is not a whole number")
    term.answer("read_replicas", "1")
    for prompt in ("pooling", "queue", "broker"):
        term.answer(prompt)
    term.answer("cache", "none")
    for prompt in ("observability", "load_tests", "deploy"):
        term.answer(prompt)
    term.answer("ci", "2")  # gitlab, by number
    for prompt in (
        "modules",
        "owner of everything else (*)",
        "owner of catalog",
        "target_users",
        "peak_rps",
    ):
        term.answer(prompt)
    term.expect(r"Plan for ")
    term.expect(rf"Render the project into {re.escape(str(dest))}\? \[y/n\] \(y\): ")
    term.send("\n")
    term.expect(rf"Created {re.escape(str(dest))}")
    assert term.wait() == 0, term.text[-3000:]
    assert "Traceback" not in term.text
    answers = read_answers(dest)
    assert answers["read_replicas"] == 1
    assert answers["cache"] == "none"
    assert answers["ci"] == "gitlab"
    assert answers["framework"] == "fastapi"
    assert (dest / ".gitlab" / "CODEOWNERS").is_file()
    assert git(dest, "rev-list", "--count", "HEAD").strip() == "1"


def test_ctrl_c_at_a_prompt_on_a_terminal(terminal, tmp_path) -> None:
    dest = tmp_path / "svc"
    term = terminal("new", dest)
    term.answer("framework")
    term.answer("concurrency")
    term.answer("auth")
    term.expect(r"database \([^\n]*?\): ")
    term.send("\x03")  # Ctrl-C: the terminal sends SIGINT to the foreground process
    term.expect(r"Interrupted — nothing was written\.")
    assert term.wait() == 130
    assert "Traceback" not in term.text
    assert list(tmp_path.iterdir()) == []


def test_ctrl_d_at_a_prompt_on_a_terminal(terminal, tmp_path) -> None:
    dest = tmp_path / "svc"
    term = terminal("new", dest)
    term.answer("framework", "django")
    term.expect(r"concurrency \(sync\): ")  # the default follows the framework
    term.send("\x04")  # Ctrl-D at the start of a line: end of input
    term.expect(r"input ended before 'concurrency' was answered")
    assert term.wait() == 2
    assert "Traceback" not in term.text
    assert list(tmp_path.iterdir()) == []


def test_a_terminal_does_not_prompt_with_yes(terminal, tmp_path) -> None:
    dest = tmp_path / "svc"
    term = terminal("new", dest, "--yes", "--no-git")
    term.expect(rf"Created {re.escape(str(dest))}")
    assert term.wait() == 0
    assert "): " not in term.text  # not a single prompt
    assert (dest / "README.md").is_file()
