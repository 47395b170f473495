"""The harness's process module (scalekit_gen/harness/processes.py) on real processes: the /proc
reader, tree discovery, liveness, both ways of stopping, and the registry with its exit hook.

Quick (a few seconds in all): sleep and sh children, no server except the session's Redis."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from scalekit_gen.harness import Redis, processes
from scalekit_gen.harness.processes import ProcStat, Registry, parse_stat, read_stat
from scalekit_gen.harness.project import ManagedProcess

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SLEEP = shutil.which("sleep") or "/bin/sleep"
#: A comm that a parser splitting at the first ')' reads as a zombie whose parent is init.
TRICKY_COMM = "x) Z 1 (y"


def _wait_for(what: str, predicate: Callable[[], object], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


class _Spawner:
    """Popen for the tests, and whatever they saw their processes start (`track`): all of it
    SIGKILLed and reaped after the test, so that a failing one leaves no sleep behind."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[bytes]] = []
        self.seen: set[processes.ProcKey] = set()

    def __call__(self, argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        proc: subprocess.Popen[bytes] = subprocess.Popen(argv, **kwargs)
        self.started.append(proc)
        return proc

    def track(self, *pids: int) -> None:
        for pid in pids:
            stat = read_stat(pid)
            if stat is not None:
                self.seen.add((pid, stat.start))

    def cleanup(self) -> None:
        doomed = set(self.seen)
        for proc in self.started:
            doomed |= processes.tree(proc.pid, proc.pid if proc.poll() is None else -1).keys()
        for pid, start in doomed:
            stat = read_stat(pid)
            if stat is not None and stat.start == start and stat.alive:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        for proc in self.started:
            if proc.poll() is None:
                proc.kill()
            proc.wait(5)
            if proc.stdout is not None:
                proc.stdout.close()


@pytest.fixture
def spawn() -> Iterator[_Spawner]:
    spawner = _Spawner()
    yield spawner
    spawner.cleanup()


def _sh_tree(
    spawn: _Spawner, prelude: str = ""
) -> tuple[subprocess.Popen[bytes], dict[processes.ProcKey, ProcStat]]:
    """`sh` leading a new session with a child sh, a grandchild sleep (both in its group) and
    a sleep that moved to a session of its own (setsid): four live processes, once seen."""
    script = f'{prelude}sh -c "{SLEEP} 30 & wait" & setsid {SLEEP} 31 & wait'
    proc = spawn(["sh", "-c", script], start_new_session=True)

    def settled() -> dict[processes.ProcKey, ProcStat] | None:
        members = processes.tree(proc.pid, proc.pid)
        comms = sorted(p.comm for p in members.values())
        outsiders = [p for p in members.values() if p.pgrp != proc.pid]
        return members if comms == ["sh", "sh", "sleep", "sleep"] and len(outsiders) == 1 else None

    _wait_for("the four processes of the tree", settled)
    members = settled()
    assert members is not None
    spawn.track(*(pid for pid, _ in members))
    return proc, members


# -- the /proc reader ----------------------------------------------------------------------


def test_parse_stat_splits_after_the_last_parenthesis() -> None:
    fields = ["S", "17", "4242", "4242", "0", "-1", "4194560", *["0"] * 12, "987654", "0", "0"]
    line = f"4242 ({TRICKY_COMM}) {' '.join(fields)}\n"
    expected = ProcStat(4242, TRICKY_COMM, "S", 17, 4242, 987654)
    assert parse_stat(line) == expected
    assert parse_stat(line.encode()) == expected
    odd = parse_stat(b"7 (a)\xff) b) Z 1 7 7 0 -1 0 " + b"0 " * 12 + b"55 0")
    assert (odd.comm, odd.state, odd.ppid, odd.start) == ("a)\ufffd) b", "Z", 1, 55)
    assert not odd.alive
    for bad in (
        "",
        "4242 (sleep S 1 2",
        "4242 sleep) S 1 2 3",
        f"4242 (sleep) {' '.join(fields[:5])}",
    ):
        with pytest.raises(ValueError):
            parse_stat(bad)


def test_a_real_process_whose_comm_looks_like_more_fields(spawn: _Spawner, tmp_path: Path) -> None:
    link = tmp_path / TRICKY_COMM  # the kernel names the process after the file it runs
    link.symlink_to(SLEEP)
    proc = spawn([str(link), "30"])
    _wait_for("the exec", lambda: (s := read_stat(proc.pid)) is not None and s.comm == TRICKY_COMM)
    stat = read_stat(proc.pid)
    assert stat is not None
    assert (stat.pid, stat.ppid, stat.pgrp) == (proc.pid, os.getpid(), os.getpgrp())
    assert stat.state != "Z" and stat.alive  # R, S, or D while exec pages it in
    assert processes.alive(proc.pid)
    assert proc.pid in processes.child_pids(os.getpid())
    assert proc.pid in {p.pid for p in processes.all_procs() if p.comm == TRICKY_COMM}
    proc.kill()
    proc.wait()
    assert read_stat(proc.pid) is None and not processes.alive(proc.pid)


def test_a_zombie_counts_as_dead_until_reaped(
    spawn: _Spawner,
) -> None:
    sleeper = spawn([SLEEP, "30"])
    zombie = spawn(["true"])
    # Not polled, so not reaped: it stays a zombie.
    _wait_for("a zombie", lambda: (s := read_stat(zombie.pid)) is not None and s.state == "Z")
    stat = read_stat(zombie.pid)
    assert stat is not None and not stat.alive
    assert not processes.alive(zombie.pid)
    assert processes.alive(sleeper.pid)
    children = processes.tree(-1, os.getpid())  # descendants of this process, no group
    assert sleeper.pid in {pid for pid, _ in children}
    assert zombie.pid not in {pid for pid, _ in children}
    assert processes.still_alive({(zombie.pid, stat.start): stat}) == {}
    assert zombie.wait(5) == 0
    assert read_stat(zombie.pid) is None


# -- trees ---------------------------------------------------------------------------------


def test_tree_finds_the_group_and_a_descendant_that_left_it(
    spawn: _Spawner,
) -> None:
    proc, members = _sh_tree(spawn)
    by_pid = {p.pid: p for p in members.values()}
    outsiders = [p for p in by_pid.values() if p.pgrp != proc.pid]
    assert len(outsiders) == 1 and outsiders[0].ppid == proc.pid  # setsid's sleep
    inner = [p for p in by_pid.values() if p.ppid == proc.pid and p.pgrp == proc.pid]
    assert len(inner) == 1  # the child sh
    assert [p.ppid for p in by_pid.values() if p.ppid not in (proc.pid, os.getpid())] == [
        inner[0].pid
    ]  # its sleep: a grandchild
    # The group alone (no root to walk from) misses the one that left it.
    assert set(processes.tree(proc.pid, -1)) == set(members) - {
        (outsiders[0].pid, outsiders[0].start)
    }


def test_stop_tree_ends_grandchildren_and_the_process_that_left_the_group(
    spawn: _Spawner,
) -> None:
    proc, members = _sh_tree(spawn)
    started = time.monotonic()
    processes.stop_tree(proc, grace=3.0)
    assert time.monotonic() - started < 2.0  # SIGTERM was enough: no waiting for the grace
    assert proc.returncode == -signal.SIGTERM
    assert processes.still_alive(members) == {}
    assert not [p.pid for p in members.values() if processes.alive(p.pid)]


def test_stop_tree_sigkills_a_tree_that_ignores_sigterm_after_the_grace(
    spawn: _Spawner,
) -> None:
    # An ignored signal stays ignored in every child, through exec.
    proc, members = _sh_tree(spawn, prelude="trap '' TERM; ")
    started = time.monotonic()
    processes.stop_tree(proc, grace=0.4)
    elapsed = time.monotonic() - started
    assert 0.4 <= elapsed < 2.0
    assert proc.returncode == -signal.SIGKILL
    assert not [p.pid for p in members.values() if processes.alive(p.pid)]


def test_stop_tree_without_sigterm_kills_at_once_and_runs_no_handler(
    spawn: _Spawner, tmp_path: Path
) -> None:
    # A SIGTERM handler that would leave a mark (and not exit): it must never run.
    mark = tmp_path / "terminated"
    proc, members = _sh_tree(spawn, prelude=f"trap 'touch {mark}' TERM; ")
    started = time.monotonic()
    processes.stop_tree(proc, grace=5.0, sigterm=False)
    assert time.monotonic() - started < 2.0  # the grace is not waited for
    assert proc.returncode == -signal.SIGKILL
    assert not [p.pid for p in members.values() if processes.alive(p.pid)]
    assert not mark.exists()


# -- stopping one server -------------------------------------------------------------------


def test_stop_process_climbs_the_signal_ladder(
    spawn: _Spawner,
) -> None:
    code = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "signal.signal(signal.SIGQUIT, lambda *a: sys.exit(3))\n"
        "print('ready', flush=True)\n"
        "time.sleep(30)\n"
    )
    proc = spawn([sys.executable, "-I", "-S", "-c", code], stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
    started = time.monotonic()
    processes.stop_process(proc, (signal.SIGINT, signal.SIGQUIT), 0.3)
    elapsed = time.monotonic() - started
    assert proc.returncode == 3  # SIGINT ignored for its 0.3 s, SIGQUIT obeyed: no SIGKILL
    assert 0.3 <= elapsed < 1.5


def test_stop_process_signals_the_server_under_its_wrapper_then_kills_the_wrapper(
    spawn: _Spawner,
) -> None:
    # A wrapper that exits when its server does (as runuser does).
    script = f"{SLEEP} 30 & trap '' TERM; echo $!; wait $!"
    proc = spawn(["sh", "-c", script], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    server = int(proc.stdout.readline())
    spawn.track(server)
    processes.stop_process(proc, (signal.SIGTERM,), 2.0, pid=server)
    assert proc.returncode == 128 + signal.SIGTERM  # the wrapper saw its server die of it
    assert not processes.alive(server)

    # A wrapper that outlives its server (and ignores SIGTERM) gets SIGKILL.
    script = f"trap '' TERM; {SLEEP} 30 & echo $!; while :; do {SLEEP} 0.05; done"
    proc = spawn(["sh", "-c", script], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    server = int(proc.stdout.readline())
    spawn.track(server)
    started = time.monotonic()
    processes.stop_process(proc, (signal.SIGTERM,), 0.2, pid=server)
    assert 0.4 <= time.monotonic() - started < 1.5  # SIGTERM, SIGKILL to the server, then …
    assert proc.returncode == -signal.SIGKILL  # … to the wrapper
    assert not processes.alive(server)


# -- the registry --------------------------------------------------------------------------


class _Leftover:
    """A harness-like owner: a sh with a sleep child, registered until stopped."""

    def __init__(self, registry: Registry, log: list[object]) -> None:
        self.registry, self.log = registry, log
        self.proc = subprocess.Popen(["sh", "-c", f"{SLEEP} 30 & wait"], start_new_session=True)
        registry.add(self)
        _wait_for("its sleep", lambda: len(processes.tree(self.proc.pid, self.proc.pid)) == 2)
        self.members = processes.tree(self.proc.pid, self.proc.pid)

    def stop(self) -> None:
        self.log.append(self)
        processes.stop_tree(self.proc, grace=2.0)
        self.registry.discard(self)


class _Broken:
    def __init__(self, log: list[object]) -> None:
        self.log = log

    def stop(self) -> None:
        self.log.append(self)
        raise RuntimeError("stop failed")


def test_registry_stops_leftovers_newest_first_despite_errors() -> None:
    registry, log = Registry(), list[object]()
    first = _Leftover(registry, log)
    broken = _Broken(log)
    registry.add(broken)
    last = _Leftover(registry, log)
    try:
        registry.add(first)  # added once
        assert registry.entries() == [first, broken, last]
        registry.stop_all()
        assert log == [last, broken, first]
        for leftover in (first, last):
            assert leftover not in registry
            assert leftover.proc.returncode == -signal.SIGTERM
            assert processes.still_alive(leftover.members) == {}
    finally:
        for leftover in (first, last):
            processes.stop_tree(leftover.proc, grace=0)


def test_the_exit_hook_stops_what_a_process_left_registered() -> None:
    code = (
        "import subprocess, time\n"
        "from scalekit_gen.harness import processes\n"
        "class Leftover:\n"
        "    def __init__(self):\n"
        f"        self.proc = subprocess.Popen(['sh', '-c', '{SLEEP} 30 & wait'],\n"
        "            start_new_session=True, stdout=subprocess.DEVNULL,\n"
        "            stderr=subprocess.DEVNULL)\n"
        "        processes.LIVE.add(self)\n"
        "    def stop(self):\n"
        "        processes.stop_tree(self.proc, 2.0)\n"
        "        processes.LIVE.discard(self)\n"
        "        print('stopped', self.proc.returncode, flush=True)\n"
        "left = Leftover()\n"
        "while len(processes.tree(left.proc.pid, left.proc.pid)) < 2:\n"
        "    time.sleep(0.01)\n"
        "print(*processes.tree(left.proc.pid, left.proc.pid), sep=';', flush=True)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=20
    )
    lines = result.stdout.splitlines()
    members = [tuple(map(int, key.strip("()").split(","))) for key in lines[0].split(";")]
    survivors = [
        pid for pid, start in members if (s := read_stat(pid)) and s.start == start and s.alive
    ]
    for pid in survivors:  # leave nothing behind, whatever the outcome
        os.kill(pid, signal.SIGKILL)
    assert result.returncode == 0, result.stderr
    assert len(members) == 2
    assert lines[1:] == [f"stopped {-signal.SIGTERM}"]
    assert not survivors


def test_services_and_project_processes_share_the_one_registry(
    redis: Redis, tmp_path: Path
) -> None:
    assert redis in processes.LIVE
    process = ManagedProcess(tmp_path, {"PATH": os.environ["PATH"]}, [SLEEP, "30"])
    with process:
        assert process in processes.LIVE and redis in processes.LIVE
        pids = process.pids()
        assert pids == [process.pid]
    assert process not in processes.LIVE
    assert process.returncode == -signal.SIGTERM
    assert not any(processes.alive(pid) for pid in pids)
