"""``eoms bench --json`` prints the measured figures for SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import IN_CI, pg_available, pg_url

EOMS = str(Path(sys.executable).parent / "eoms")
KEYS = {"scenario", "instances", "database", "raw_instances_per_s", "engine_instances_per_s", "ratio"}


def run_bench(*args: str) -> dict:
    proc = subprocess.run([EOMS, "bench", "--json", "--instances", "3", *args], capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def check(result: dict, database: str) -> None:
    assert set(result) >= KEYS
    assert result["scenario"] == "fault" and result["instances"] == 3 and result["database"] == database
    assert result["raw_instances_per_s"] > 0 and result["engine_instances_per_s"] > 0
    assert result["ratio"] == pytest.approx(result["engine_instances_per_s"] / result["raw_instances_per_s"],
                                            rel=0.01)


def test_bench_sqlite():
    check(run_bench(), "sqlite")


def test_bench_postgresql():
    reason = pg_available()
    if reason and not IN_CI:
        pytest.skip(f"PostgreSQL not reachable: {reason}")
    check(run_bench("--database", pg_url()), "postgresql")


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_bench_over_http(database: str):
    """``--scenario http``: gunicorn serves the API on a fresh database; a client drives whole instances."""
    args = ["--scenario", "http"]
    if database == "postgresql":
        reason = pg_available()
        if reason and not IN_CI:
            pytest.skip(f"PostgreSQL not reachable: {reason}")
        args += ["--database", pg_url()]
    result = run_bench(*args)
    assert result["scenario"] == "http" and result["instances"] == 3 and result["database"] == database
    assert result["http_instances_per_s"] > 0 and result["engine_in_process_instances_per_s"] > 0
    # both rates are rounded to 0.1 and the ratio to 0.001: compare within what the rounding leaves
    assert result["http_over_raw"] == pytest.approx(result["http_instances_per_s"] / result["raw_instances_per_s"],
                                                    abs=0.002)
    assert set(result["latency_ms"]) == {"start", "list", "complete", "get"}
    assert len({result["latency_ms"][k]["p95"] >= result["latency_ms"][k]["p50"] for k in result["latency_ms"]}) == 1
