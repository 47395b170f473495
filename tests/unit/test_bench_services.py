"""The service benchmark's own logic, without servers or load: reading wrk's output, the ratio
tables, the docs section it rewrites, its arguments (bench/wrk.py, report.py, services.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench import apps, report, services, wrk

WRK_OUTPUT = """\
Running 5s test @ http://127.0.0.1:8000/api/v1/catalog/items?limit=20
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    55.12ms   20.01ms 401.00ms   90.00%
  5000 requests in 5.00s, 9.00MB read
  Non-2xx or 3xx responses: 7
Requests/sec:   1000.00
Transfer/sec:      1.80MB
BENCH_JSON {"requests": 5000, "duration_us": 5000000, "connect": 0, "read": 2, "write": 1, \
"status": 7, "timeout": 3, "p50_us": 50000, "p95_us": 90500, "p99_us": 120250, "max_us": 401000}
"""


def test_parse_reads_the_scripts_line() -> None:
    result = wrk.parse(WRK_OUTPUT)
    assert result.requests == 5000
    assert result.rps == pytest.approx(1000.0)
    assert (result.p50_ms, result.p95_ms, result.p99_ms, result.max_ms) == (
        50.0,
        90.5,
        120.25,
        401.0,
    )
    assert (result.non_2xx, result.timeouts, result.socket_errors) == (7, 3, 3)
    assert result.errors == 13
    assert result.to_json()["errors"] == 13


def test_parse_without_the_line_fails_with_the_output() -> None:
    with pytest.raises(wrk.WrkError, match="Requests/sec"):
        wrk.parse(WRK_OUTPUT.split("BENCH_JSON")[0])


def test_script_prints_every_field_parse_reads() -> None:
    for key in ("requests", "duration_us", "status", "timeout", "p95_us", "p99_us", "max_us"):
        assert f'"{key}": %d' in wrk.SCRIPT


@pytest.mark.parametrize(("connections", "cores", "threads"), [(1, 2, 1), (64, 2, 2), (16, 8, 8)])
def test_wrk_never_gets_more_threads_than_connections(
    connections: int, cores: int, threads: int
) -> None:
    assert wrk.threads_for(connections, cores) == threads


def point(service: str, target: str, endpoint: str, conns: int, rps: float, **kw: Any) -> Any:
    result = {
        "rps": rps,
        "p50_ms": 1.0,
        "p99_ms": 9.0,
        "non_2xx": 0,
        "timeouts": 0,
        "errors": 0,
        # CPU per request: the inverse of req/s here, as if the server were CPU-bound.
        "cpu_ms_per_request": 1000 / rps,
    }
    return {
        "service": service,
        "target": target,
        "endpoint": endpoint,
        "connections": conns,
        "result": {**result, **kw},
    }


POINTS = [
    point("fastapi-async", "generated", "healthz", 64, 900.0),
    point("fastapi-async", "generated", "item", 64, 600.0),
    point("fastapi-async", "generated", "list", 64, 300.0, errors=2, non_2xx=2),
    point("fastapi-async", "generated", "list", 1, 100.0),
    point("fastapi-async", "bare", "healthz", 64, 1000.0),
    point("fastapi-async", "limit", "list", 64, 1200.0),
    point("fastapi-async", "core", "list", 64, 600.0),
    point("fastapi-async", "limit", "list", 1, 125.0),
]


def test_ratio_table_divides_within_the_run_and_marks_missed_targets() -> None:
    table = report.ratio_table(POINTS, 64)
    row = table.splitlines()[2]
    cells = [c.strip() for c in row.strip("|").split("|")]
    # /healthz 900/1000 meets 0.80; list 300/1200 misses 0.50; the list is half of the
    # framework with Core's, which is half of the limit's; cached item is 2x the list.
    assert cells[:6] == ["fastapi-async", "×0.90", "**×0.25**", "×0.50", "×0.50", "×2.00"]
    assert cells[10] == "2"
    # CPU per request: generated /healthz costs 1000/900 ms against the bare 1 ms.
    assert cells[11:] == ["×1.11", "×4.00", "3.33"]


def test_sweep_table_has_a_row_per_measured_connection_count() -> None:
    table = report.sweep_table(POINTS, [1, 16, 64])
    rows = table.splitlines()[2:]
    assert [r.split("|")[2].strip() for r in rows] == ["1", "64"]  # 16 was not measured
    assert "×0.80" in rows[0] and "×0.25" in rows[1]
    assert "2 (2 non-2xx, 0 timeouts)" in rows[1]
    assert "3.33 / 0.83" in rows[1]


def test_cpu_time_is_read_after_the_command_name() -> None:
    # The command name holds a space and a ")": fields are counted after its last ")".
    stat = "42 (uv (worker) x) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 9 1 1"
    assert services.stat_cpu_seconds(stat, 100.0) == pytest.approx(3.0)


def test_ratio_of_something_missing_is_unknown() -> None:
    assert report.ratio(None, 3.0) is None
    assert report.ratio(3.0, 0.0) is None
    assert report.fmt_ratio(None) == "–"


def test_write_docs_replaces_only_its_own_section(tmp_path: Path) -> None:
    page = tmp_path / "performance.md"
    page.write_text("# Performance\n\nintro\n")
    services.write_docs("first", "cmd --a", page)
    services.write_docs("second", "cmd --b", page)
    text = page.read_text()
    assert text.startswith("# Performance\n\nintro\n")
    assert text.count(services.DOCS_START) == 1
    assert "second" in text and "first" not in text and "cmd --b" in text


def test_arguments_always_measure_64_connections() -> None:
    args = services.parse_args(["--services", "django-sync", "--sweep", "1,16"])
    assert args.services == ["django-sync"]
    assert args.sweep == [1, 16, 64]
    with pytest.raises(SystemExit):
        services.parse_args(["--services", "rails"])


@pytest.mark.parametrize("framework", ["fastapi", "django"])
@pytest.mark.parametrize("concurrency", ["async", "sync"])
def test_baselines_compile_and_read_the_generated_table(framework: str, concurrency: str) -> None:
    sources = apps.sources(framework, concurrency)
    for name, source in sources.items():
        compile(source, name, "exec")
    assert "FROM catalog_items WHERE deleted_at IS NULL" in sources[apps.LIMIT_MODULE]
    argv = apps.server_argv(framework, concurrency, apps.LIMIT_MODULE, 8000, 2, 6)
    assert "--workers=2" in argv
