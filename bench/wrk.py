"""wrk, the HTTP load generator: found or installed, run for a bounded time, its result parsed.

wrk prints req/s and a latency histogram meant for people; its Lua `done` hook sees the exact
counts and percentiles. `SCRIPT` prints them as one line, `BENCH_JSON {...}`, that `parse`
reads. The same script makes a request a POST with a JSON body when BENCH_METHOD and
BENCH_BODY are set (wrk's LuaJIT reads the environment).

wrk counts as errors: failed connects, reads and writes, requests over its `--timeout`, and
answers with a status of 400 or more ("non-2xx or 3xx"). A redirect would pass as a success,
so `bench.services` checks each endpoint's status once before loading it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

MARKER = "BENCH_JSON "
#: Installed from Debian's archive when missing (`apt-get install wrk`), else built from this
#: tag with the system's gcc and make.
WRK_GIT = "https://github.com/wg/wrk.git"
WRK_TAG = "4.2.0"

SCRIPT = r"""
local method = os.getenv("BENCH_METHOD")
if method and method ~= "" then wrk.method = method end
local body = os.getenv("BENCH_BODY")
if body and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, '
    .. '"write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p95_us": %d, '
    .. '"p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
"""


class WrkError(RuntimeError):
    """wrk is missing and could not be installed, or a run printed no result."""


@dataclass(frozen=True)
class Result:
    """One wrk run: throughput, latency percentiles (ms) and errors."""

    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    #: Answers with a status >= 400.
    non_2xx: int
    #: Requests that got no answer within wrk's --timeout.
    timeouts: int
    #: Failed connects, reads and writes.
    socket_errors: int

    @property
    def errors(self) -> int:
        return self.non_2xx + self.timeouts + self.socket_errors

    def to_json(self) -> dict[str, float | int]:
        return {**asdict(self), "errors": self.errors}


def parse(output: str) -> Result:
    """The result in wrk's output (with `SCRIPT`); WrkError when it holds none."""
    for line in output.splitlines():
        if line.startswith(MARKER):
            raw = json.loads(line[len(MARKER) :])
            break
    else:
        raise WrkError(f"no {MARKER.strip()} line in wrk's output:\n{output[-2000:]}")
    seconds = raw["duration_us"] / 1e6
    # wrk counts a request that timed out both as a timeout and not as a completed request;
    # req/s counts answered requests only, as wrk's own Requests/sec does.
    return Result(
        requests=raw["requests"],
        seconds=seconds,
        rps=raw["requests"] / seconds if seconds > 0 else 0.0,
        p50_ms=raw["p50_us"] / 1000,
        p95_ms=raw["p95_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        non_2xx=raw["status"],
        timeouts=raw["timeout"],
        socket_errors=raw["connect"] + raw["read"] + raw["write"],
    )


def threads_for(connections: int, cores: int) -> int:
    """wrk's threads: one per core, never more than connections (wrk requires that)."""
    return max(1, min(connections, cores))


def find() -> str | None:
    return os.environ.get("WRK") or shutil.which("wrk")


def ensure(log: Path | None = None) -> str:
    """The wrk binary: on PATH (or $WRK), else installed with apt-get (as root), else built
    from source into ~/.cache/scalekit-bench/wrk."""
    found = find()
    if found:
        return found
    built = Path.home() / ".cache" / "scalekit-bench" / "wrk" / "wrk"
    if os.access(built, os.X_OK):
        return str(built)
    out = log.open("a") if log else subprocess.DEVNULL
    try:
        if os.geteuid() == 0 and shutil.which("apt-get"):
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            install = ["apt-get", "install", "-y", "-q", "wrk"]
            # A fresh machine's package lists may be empty: update once, then try again.
            for argv in (install, ["apt-get", "update", "-q"], install):
                subprocess.run(argv, env=env, stdout=out, stderr=out, timeout=600, check=False)
                found = find()
                if found:
                    return found
        src = built.parent
        shutil.rmtree(src, ignore_errors=True)
        src.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["git", "clone", "--depth", "1", "--branch", WRK_TAG, WRK_GIT, str(src)],
            stdout=out, stderr=out, timeout=600, check=True,
        )  # fmt: skip
        subprocess.run(["make", "-j2"], cwd=src, stdout=out, stderr=out, timeout=1200, check=True)
    except (OSError, subprocess.SubprocessError) as error:
        raise WrkError(f"wrk is not installed and could not be installed: {error}") from error
    finally:
        if log:
            out.close()  # type: ignore[union-attr]
    if not os.access(built, os.X_OK):
        raise WrkError("wrk is not installed and building it produced no binary")
    return str(built)


def run(
    wrk: str,
    url: str,
    *,
    connections: int,
    seconds: float,
    cores: int,
    timeout_s: float = 2.0,
    method: str = "GET",
    body: str = "",
) -> Result:
    """Load `url` for `seconds` with `connections` keep-alive connections."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(SCRIPT)
    try:
        env = {**os.environ, "BENCH_METHOD": method, "BENCH_BODY": body}
        argv = [
            wrk,
            f"--threads={threads_for(connections, cores)}",
            f"--connections={connections}",
            f"--duration={max(1, round(seconds))}s",
            f"--timeout={timeout_s:g}s",
            f"--script={script.name}",
            url,
        ]
        proc = subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=seconds + 60, check=False
        )
    finally:
        os.unlink(script.name)
    if proc.returncode != 0:
        raise WrkError(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    return parse(proc.stdout)
