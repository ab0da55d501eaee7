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
