"""``eoms calendar …`` run as real subprocesses against a fresh SQLite file: deadlines, overrides, years.

The schema is built once per module (``eoms init-db``) and copied for each test; commands that do not depend
on one another run side by side, since every process spends a good half second importing the engine.
``calendar check`` uses the real clock, so its expectations are worked out from today's date.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from engine.sla.calendar import SHANGHAI

EOMS = str(Path(sys.executable).parent / "eoms")
LAST_COVERED = date(2026, 12, 31)  # the holiday package (chinesecalendar 1.11) stops here


@dataclass
class Cli:
    home: Path

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("EOMS_")}
        env.update(EOMS_DATABASE_URL=f"sqlite:///{self.home / 'x.db'}", EOMS_STORAGE_DIR=str(self.home / "storage"),
                   PYTHONUTF8="1")
        return env

    def run_all(self, *commands: list[str]) -> list[subprocess.CompletedProcess[str]]:
        """Run commands side by side; only ones that do not write (or that fail before writing)."""
        procs = [(c, subprocess.Popen([EOMS, *c], cwd=self.home, env=self.env(), stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True, encoding="utf-8")) for c in commands]
        results = []
        for command, proc in procs:
            out, err = proc.communicate(timeout=120)
            results.append(subprocess.CompletedProcess([EOMS, *command], proc.returncode, out, err))
        return results

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        (result,) = self.run_all([*args])
        return result

    def ok(self, *args: str) -> str:
        result = self.run(*args)
        assert_ok(result)
        return result.stdout


def assert_ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, f"{result.args} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr


def assert_clean_failure(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    """Non-zero exit (not the internal-error code 70), no traceback, exactly one error line naming every needle;
    returns that line."""
    where = f"{result.args}: exit {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    assert result.returncode not in (0, 70), where
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, where
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert 1 <= len(lines) <= 4, where
    errors = [line for line in lines if line.lower().startswith("error")]
    assert len(errors) == 1, where
    for needle in needles:
        assert needle in errors[0], where
    return errors[0]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cli = Cli(tmp_path_factory.mktemp("cli_calendar"))
    out = cli.ok("init-db")
    assert out.startswith("database ready: sqlite:///") and "x.db" in out
    return cli.home


@pytest.fixture
def cli(template: Path, tmp_path: Path) -> Cli:
    for suffix in ("", "-wal", "-shm"):
        source = template / f"x.db{suffix}"
        if source.exists():
            shutil.copy(source, tmp_path / f"x.db{suffix}")
    return Cli(tmp_path)


def test_due_prints_the_deadline_in_shanghai_time(cli):
    plain, as_json, continuous, offset, days = cli.run_all(
        ["calendar", "due", "2026-02-13T16:00", "PT4H"],
        ["calendar", "due", "2026-02-13T16:00", "PT4H", "--json"],
        ["calendar", "due", "2026-02-13T16:00", "PT4H", "--calendar", "24x7"],
        ["calendar", "due", "2026-02-13T08:00+00:00", "PT4H"],  # the same instant given in UTC
        ["calendar", "due", "2026-02-13T10:00", "P2D", "--json"],
    )
    for result in (plain, as_json, continuous, offset, days):
        assert_ok(result)
    assert plain.stdout.strip() == "2026-02-14 11:00:00 Sat (Asia/Shanghai)"  # the 调休 Saturday
    assert offset.stdout == plain.stdout
    assert continuous.stdout.strip() == "2026-02-13 20:00:00 Fri (Asia/Shanghai)"
    assert json.loads(as_json.stdout) == {
        "start": "2026-02-13T16:00:00+08:00", "limit": "PT4H", "calendar": "workday",
        "due": "2026-02-14T11:00:00+08:00", "due_utc": "2026-02-14T03:00:00+00:00",
    }
    assert json.loads(days.stdout)["due"] == "2026-02-24T10:00:00+08:00"  # over the Spring Festival


def test_due_with_a_bad_start_or_limit_fails_cleanly(cli):
    bad_start, bad_date, month, garbled, zero, bad_calendar = cli.run_all(
        ["calendar", "due", "yesterday", "PT4H"],
        ["calendar", "due", "2026-02-30T10:00", "PT4H"],
        ["calendar", "due", "2026-02-13T16:00", "P1M"],
        ["calendar", "due", "2026-02-13T16:00", "4 hours"],
        ["calendar", "due", "2026-02-13T16:00", "PT0S"],
        ["calendar", "due", "2026-02-13T16:00", "PT4H", "--calendar", "weekends"],
    )
    assert_clean_failure(bad_start, "START", "yesterday")
    assert_clean_failure(bad_date, "START", "2026-02-30T10:00")
    assert_clean_failure(month, "LIMIT", "P1M")
    assert_clean_failure(garbled, "LIMIT", "4 hours")
    assert_clean_failure(zero, "LIMIT", "PT0S", "zero")
    assert_clean_failure(bad_calendar, "weekends")


def test_set_list_and_unset_an_override(cli):
    assert cli.ok("calendar", "set", "2026-03-03", "--holiday", "--note", "x").strip() == "2026-03-03 is now a holiday"
    listed, table, due = cli.run_all(
        ["calendar", "list", "--json"],
        ["calendar", "list"],
        ["calendar", "due", "2026-03-02T16:00", "PT4H"],
    )
    for result in (listed, table, due):
        assert_ok(result)
    assert json.loads(listed.stdout) == [{"day": "2026-03-03", "kind": "holiday", "note": "x"}]
    assert "2026-03-03" in table.stdout and "holiday" in table.stdout
    assert due.stdout.strip() == "2026-03-04 11:00:00 Wed (Asia/Shanghai)"  # Tue 03-03 is skipped

    assert cli.ok("calendar", "set", "2026-03-08", "--workday", "--note", "make-up").strip() == \
        "2026-03-08 is now a working day"
    by_year, other_year, sunday = cli.run_all(
        ["calendar", "list", "--year", "2026", "--json"],
        ["calendar", "list", "--year", "2025", "--json"],
        ["calendar", "due", "2026-03-06T16:00", "PT4H"],
    )
    assert [(d["day"], d["kind"]) for d in json.loads(by_year.stdout)] == [("2026-03-03", "holiday"),
                                                                          ("2026-03-08", "workday")]
    assert json.loads(other_year.stdout) == []
    assert sunday.stdout.strip() == "2026-03-08 11:00:00 Sun (Asia/Shanghai)"

    assert cli.ok("calendar", "unset", "2026-03-03").strip() == "override for 2026-03-03 removed"
    assert cli.ok("calendar", "unset", "2026-03-03").strip() == "override for 2026-03-03 did not exist"
    listed, due = cli.run_all(["calendar", "list", "--json"], ["calendar", "due", "2026-03-02T16:00", "PT4H"])
    assert [d["day"] for d in json.loads(listed.stdout)] == ["2026-03-08"]
    assert due.stdout.strip() == "2026-03-03 11:00:00 Tue (Asia/Shanghai)"

    bad_day, no_kind = cli.run_all(["calendar", "set", "2026-02-30", "--holiday"], ["calendar", "set", "2026-03-03"])
    assert_clean_failure(bad_day, "2026-02-30")
    assert_clean_failure(no_kind)


def test_an_uncovered_year_until_it_is_declared(cli):
    today = datetime.now(SHANGHAI).date()
    if today > LAST_COVERED:
        pytest.skip(f"the real clock ({today}) is past the holiday package's last year")
    inside = min(30, (LAST_COVERED - today).days)  # 30 on 2026-11-26
    beyond = max(90, (LAST_COVERED - today).days + 1)  # 90 on 2026-11-26: reaches 2027
    covered, missing, due = cli.run_all(
        ["calendar", "check", "--days", str(inside)],
        ["calendar", "check", "--days", str(beyond)],
        ["calendar", "due", "2026-12-31T16:00", "PT4H"],
    )
    assert_ok(covered)
    assert covered.stdout.strip() == f"calendar covers {today} to {today + timedelta(days=inside)}"
    line = assert_clean_failure(missing, "2027", "eoms calendar declare-year 2027")
    assert "2026" not in line
    assert missing.returncode == 1
    assert_clean_failure(due, "2027", "eoms calendar declare-year 2027")

    assert_clean_failure(cli.run("calendar", "declare-year", "1999"), "1999")
    assert cli.ok("calendar", "declare-year", "2027", "--note", "entered").strip() == "2027 declared complete"
    again = cli.ok("calendar", "declare-year", "2027")  # declaring twice is harmless
    assert again.strip() == "2027 declared complete"
    assert cli.ok("calendar", "set", "2027-01-01", "--holiday", "--note", "New Year").strip() == \
        "2027-01-01 is now a holiday"
    checked, due, fri = cli.run_all(
        ["calendar", "check", "--days", str(beyond)],
        ["calendar", "due", "2026-12-31T16:00", "PT4H"],
        ["calendar", "due", "2027-01-07T16:00", "PT4H"],
    )
    assert_ok(checked)
    assert checked.stdout.strip() == f"calendar covers {today} to {today + timedelta(days=beyond)}"
    assert due.stdout.strip() == "2027-01-04 11:00:00 Mon (Asia/Shanghai)"  # 01-01 holiday, then the weekend
    assert fri.stdout.strip() == "2027-01-08 11:00:00 Fri (Asia/Shanghai)"  # other 2027 dates: Monday–Friday
