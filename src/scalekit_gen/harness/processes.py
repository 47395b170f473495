"""Processes the harness starts: reading /proc, finding a process's tree, stopping it, and the
one registry of what is still running (stopped at interpreter exit if a caller forgot).

- `read_stat()` / `parse_stat()`: /proc/<pid>/stat, parsed once. The command name (comm) may
  hold spaces, parentheses and any byte but NUL, so the fields are split after its LAST ')'.
- `alive()`, `child_pids()`, `tree()`, `still_alive()`: liveness and discovery. A zombie (or a
  task already dead) counts as gone: it runs no code and only waits for its parent to reap it.
- `stop_tree()`: a process group and its descendants that left it, SIGTERM then SIGKILL after
  a grace period (the projects' servers, workers and make targets), or SIGKILL at once.
- `stop_process()`: one server (maybe under a wrapper such as runuser), with a ladder of
  signals each given a timeout, SIGKILL last (the services: PostgreSQL, PgBouncer, …).
- `LIVE`: the registry. Whatever the harness starts adds itself on start and removes itself
  on stop; one atexit hook stops, newest first, whatever is left.

Linux only (/proc); the standard library only.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import NamedTuple, Protocol

#: States of a task that runs no more code: a zombie waiting to be reaped, or dead.
DEAD_STATES = frozenset({"Z", "X"})
#: How often the stop loops look again.
POLL_INTERVAL = 0.05


# ---------------------------------------------------------------------------------------
# /proc


class ProcStat(NamedTuple):
    """The fields of /proc/<pid>/stat the harness uses."""

    pid: int
    comm: str  # the command name, at most 15 bytes, undecodable bytes replaced
    state: str  # R, S, D, T, Z, …
    ppid: int
    pgrp: int
    start: int  # clock ticks after boot: tells a pid from its reuse

    @property
    def alive(self) -> bool:
        return self.state not in DEAD_STATES


#: A process as the tree functions key it: (pid, start), unique across pid reuse.
ProcKey = tuple[int, int]


def parse_stat(data: bytes | str) -> ProcStat:
    """Parse the text of /proc/<pid>/stat; ValueError if it is not one.

    "pid (comm) state ppid pgrp session tty tpgid flags … starttime …": comm is everything
    between the first " (" and the LAST ")", since it may itself hold ") " (a process can name
    itself anything); the fields after it are plain numbers and a state letter."""
    raw = data.encode() if isinstance(data, str) else data
    head, close, rest = raw.rpartition(b")")
    pid_text, open_, comm = head.partition(b" (")
    fields = rest.split()
    if not close or not open_ or len(fields) < 20:
        raise ValueError(f"not a /proc/<pid>/stat line: {raw[:200]!r}")
    return ProcStat(
        pid=int(pid_text),
        comm=comm.decode(errors="replace"),
        state=fields[0].decode(),
        ppid=int(fields[1]),
        pgrp=int(fields[2]),
        start=int(fields[19]),  # field 22 of proc(5), the 20th after comm
    )


def read_stat(pid: int) -> ProcStat | None:
    """The process's stat, or None if it is gone (or /proc holds no such line)."""
    try:
        return parse_stat(Path(f"/proc/{pid}/stat").read_bytes())
    except (OSError, ValueError):
        return None


def all_procs() -> list[ProcStat]:
    """Every process /proc shows now, zombies included."""
    procs = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            proc = read_stat(int(name))
            if proc is not None:
                procs.append(proc)
    return procs


def alive(pid: int) -> bool:
    """Whether `pid` exists and is not a zombie."""
    proc = read_stat(pid)
    return proc is not None and proc.alive


def child_pids(pid: int) -> list[int]:
    """The children of `pid`: from /proc/<pid>/task/<pid>/children when the kernel has it and
    it names any, else by scanning every process's parent (zombies included either way)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        text = ""
    if text.strip():
        return [int(p) for p in text.split()]
    return [p.pid for p in all_procs() if p.ppid == pid]


def tree(pgid: int, root: int) -> dict[ProcKey, ProcStat]:
    """Live processes of the group `pgid` and descendants of `root` (any group; -1: none),
    keyed by (pid, start)."""
    procs = [p for p in all_procs() if p.alive]
    children: dict[int, list[ProcStat]] = {}
    for p in procs:
        children.setdefault(p.ppid, []).append(p)
    found = {(p.pid, p.start): p for p in procs if p.pgrp == pgid}
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found[(child.pid, child.start)] = child
            stack.append(child.pid)
    return found


def still_alive(members: Mapping[ProcKey, ProcStat]) -> dict[ProcKey, ProcStat]:
    """Those of `members` that still live (same pid, same start time, not a zombie)."""
    result = {}
    for key, proc in members.items():
        now = read_stat(proc.pid)
        if now is not None and now.start == proc.start and now.alive:
            result[key] = now
    return result


# ---------------------------------------------------------------------------------------
# Stopping


def stop_tree(
    proc: subprocess.Popen[bytes],
    grace: float,
    *,
    kill_wait: float = 10.0,
    sigterm: bool = True,
) -> None:
    """SIGTERM to the process group led by `proc` (started with start_new_session=True) and
    to its descendants that left the group, each process once; SIGKILL to whatever still lives
    after `grace` seconds (and waits up to `kill_wait` s for it to go); reap `proc` (up to
    5 s). Processes forked while it runs get the current signal too. With `sigterm=False`,
    SIGKILL at once (`grace` unused): nothing in the tree runs a line of shutdown code, as
    when the OOM killer or a lost node ends it."""
    pgid = proc.pid

    def scan() -> dict[ProcKey, ProcStat]:
        # While the leader is unreaped its pid (the group's id) cannot be reused.
        return tree(pgid, proc.pid if proc.returncode is None else -1)

    members = scan()
    ladder = [(signal.SIGTERM, grace)] if sigterm else []
    for sig, wait in (*ladder, (signal.SIGKILL, kill_wait)):
        signalled: set[ProcKey] = set()
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, sig)
            signalled = {key for key, p in members.items() if p.pgrp == pgid}
        deadline = time.monotonic() + wait
        while True:
            for key in members.keys() - signalled:  # outside the group, or forked since
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(key[0], sig)
                signalled.add(key)
            proc.poll()
            members = still_alive({**members, **scan()})
            if not members or time.monotonic() > deadline:
                break
            time.sleep(POLL_INTERVAL)
        if not members:
            break
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)


def stop_process(
    proc: subprocess.Popen[bytes],
    signals: Iterable[signal.Signals],
    timeout: float,
    *,
    pid: int | None = None,
) -> None:
    """Send each of `signals`, then SIGKILL, to `pid` (default: `proc`'s own), one after the
    other, each followed by up to `timeout` s for `proc` to exit; stop as soon as it has.
    If `proc` (a wrapper such as runuser around the server `pid`) outlives that, SIGKILL it
    and wait up to `timeout` s more (TimeoutExpired if even that fails). Reaps `proc`."""
    target = pid or proc.pid
    for sig in (*signals, signal.SIGKILL):
        if proc.poll() is not None:
            break
        with contextlib.suppress(ProcessLookupError):
            os.kill(target, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout)
    if proc.poll() is None:
        # runuser can outlive a SIGKILLed server only briefly; make sure.
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout)


# ---------------------------------------------------------------------------------------
# The registry of live processes


class Stoppable(Protocol):
    def stop(self) -> object: ...


class Registry:
    """What the harness started and has not stopped yet: services and project processes,
    each an object with an idempotent `stop()` that also removes it from here. Thread-safe;
    entries are kept in the order they were added (by identity, added once)."""

    def __init__(self) -> None:
        self._entries: dict[int, Stoppable] = {}
        self._lock = threading.Lock()

    def add(self, owner: Stoppable) -> None:
        with self._lock:
            self._entries.setdefault(id(owner), owner)

    def discard(self, owner: Stoppable) -> None:
        with self._lock:
            self._entries.pop(id(owner), None)

    def __contains__(self, owner: object) -> bool:
        with self._lock:
            return self._entries.get(id(owner)) is owner

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def entries(self) -> list[Stoppable]:
        """The live entries, oldest first."""
        with self._lock:
            return list(self._entries.values())

    def stop_all(self) -> None:
        """Stop every entry, newest first (a project's server before the PostgreSQL it uses),
        ignoring their errors: for leftovers at exit, where nothing could report them."""
        for owner in reversed(self.entries()):
            with contextlib.suppress(Exception):
                owner.stop()


#: The harness's one registry (services.py and project.py add to it).
LIVE = Registry()


@atexit.register
def stop_leftovers() -> None:
    """At interpreter exit: stop whatever the harness started and nobody stopped."""
    LIVE.stop_all()
