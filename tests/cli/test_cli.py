"""The real ``eoms`` command line, run as a subprocess against a fresh SQLite file.

Each process costs well over half a second to start, so the organisation is built once per module (through
the CLI) and copied for each test, and commands that do not depend on one another run side by side.
Errors must come out as a short message on stderr with a non-zero exit, never as a traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.core import ProcessEngine
from engine.db import make_engine, make_session_factory
from engine.identity.models import OrgUnit, Post, User
from engine.repository.models import ProcessDefinition
from tests.conftest import BPMN_DIR

EOMS = shutil.which("eoms", path=str(Path(sys.executable).parent)) or str(Path(sys.executable).parent / "eoms")
REVIEW_LOOP = BPMN_DIR / "review_loop.bpmn"
TASK_FIELDS = {"id", "instance_id", "business_key", "node_id", "name", "post", "assignee", "status", "created_at",
               "warn_at", "due_at"}
START_DATA = '{"rounds":0,"approved":false}'


@dataclass
class Cli:
    """Runs ``eoms`` against one database file."""

    home: Path

    @property
    def db_file(self) -> Path:
        return self.home / "eoms.db"

    @property
    def url(self) -> str:
        return f"sqlite:///{self.db_file}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("EOMS_")}
        env.update(EOMS_DATABASE_URL=self.url, EOMS_STORAGE_DIR=str(self.home / "storage"), PYTHONUTF8="1")
        return env

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([EOMS, *args], cwd=self.home, env=self.env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, encoding="utf-8")

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        (result,) = self.run_all([*args])
        return result

    def run_all(self, *commands: list[str]) -> list[subprocess.CompletedProcess[str]]:
        """Run commands side by side (only ones that do not write, or that fail before writing)."""
        procs = [(c, self.popen(*c)) for c in commands]
        results = []
        for command, proc in procs:
            out, err = proc.communicate(timeout=120)
            results.append(subprocess.CompletedProcess([EOMS, *command], proc.returncode, out, err))
        return results

    def ok(self, *args: str) -> str:
        result = self.run(*args)
        assert_ok(result)
        return result.stdout


def assert_ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, f"{result.args} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr


def assert_clean_failure(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    """Non-zero exit, a short stderr without a traceback, mentioning every needle; returns stderr."""
    where = f"{result.args}: exit {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    assert result.returncode != 0, where
    assert result.returncode != 70, f"an unexpected internal error, not a handled one: {where}"
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, where
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert 1 <= len(lines) <= 4, where
    for needle in needles:
        assert needle in result.stderr, where
    return result.stderr


def sessions(cli: Cli):  # type: ignore[no-untyped-def]
    return make_session_factory(make_engine(cli.url))


# -- the organisation, built once through the CLI ------------------------------------------------------------
# (command, run as a subprocess?) - the commands whose output no test reads run in-process through the same
# entry point, to keep the module fast: every subprocess spends well over half a second importing the engine.
SETUP = [
    ("init-db", ["init-db"], True),
    ("org GD", ["org", "add", "GD", "广东省"], False),
    ("org GZ", ["org", "add", "GZ", "广州市", "--parent", "GD"], True),
    ("post dispatcher", ["post", "add", "dispatcher", "调度员"], True),
    ("post reviewer", ["post", "add", "reviewer", "审核员"], False),
    ("user alice", ["user", "add", "alice", "--name", "艾丽", "--password", "secret123", "--org", "GZ",
                    "--post", "dispatcher"], False),
    ("user bob", ["user", "add", "bob", "--name", "鲍勃", "--password", "secret123", "--org", "GZ",
                  "--post", "reviewer"], False),
    ("user sup", ["user", "add", "sup", "--name", "主管", "--password", "secret123", "--org", "GZ",
                  "--post", "dispatcher", "--post", "reviewer", "--role", "supervisor"], True),
    ("deploy", ["deploy", str(REVIEW_LOOP)], True),
]


@dataclass
class World:
    home: Path
    outputs: dict[str, str]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    from eoms.cli import main

    cli = Cli(tmp_path_factory.mktemp("cli_world"))
    outputs = {}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in cli.env().items():
            if key.startswith("EOMS_"):
                mp.setenv(key, value)
        mp.chdir(cli.home)
        for name, args, subprocess_run in SETUP:
            if subprocess_run:
                outputs[name] = cli.ok(*args)
            else:
                assert main(args) == 0, name
    return World(cli.home, outputs)


@pytest.fixture
def cli(world: World, tmp_path: Path) -> Cli:
    """A copy of the world's database for one test."""
    for suffix in ("", "-wal", "-shm"):
        source = world.home / f"eoms.db{suffix}"
        if source.exists():
            shutil.copy(source, tmp_path / f"eoms.db{suffix}")
    return Cli(tmp_path)


def test_eoms_script_is_installed():
    assert Path(EOMS).is_file() and os.access(EOMS, os.X_OK), EOMS


def test_init_db_and_admin_commands(world, cli):
    out = world.outputs
    assert out["init-db"].startswith("database ready: sqlite:///") and "eoms.db" in out["init-db"]
    assert out["org GZ"].strip() == "org unit GZ (广州市) added at /GD/GZ/"
    assert out["post dispatcher"].strip() == "post dispatcher (调度员) added"
    assert out["user sup"].strip() == "user sup (主管) added to GZ as supervisor, posts dispatcher, reviewer"
    with sessions(cli)() as s:
        gz = s.scalar(select(OrgUnit).where(OrgUnit.code == "GZ"))
        assert (gz.name, gz.path) == ("广州市", "/GD/GZ/")
        assert sorted(s.scalars(select(Post.code))) == ["dispatcher", "reviewer"]
        sup = s.scalar(select(User).where(User.username == "sup"))
        assert sup.role == "supervisor" and sup.org_unit.code == "GZ"
        assert [p.code for p in sup.posts] == ["dispatcher", "reviewer"]
        assert "secret123" not in sup.password_hash
        assert ProcessEngine().identity.authenticate(s, "sup", "secret123") is not None
        alice = s.scalar(select(User).where(User.username == "alice"))
        assert alice.role == "user" and [p.code for p in alice.posts] == ["dispatcher"]
    assert not (world.home / "instance").exists()  # the database named by EOMS_DATABASE_URL, nothing else


def test_validate_reports_the_element_and_exits_non_zero(cli):
    bad = cli.home / "bad_lane.bpmn"
    bad.write_bytes(REVIEW_LOOP.read_bytes().replace(b'name="reviewer"', b'name="nobody"'))
    lane, good = cli.run_all(["validate", str(bad)], ["validate", str(REVIEW_LOOP)])
    err = assert_clean_failure(lane, "[review]", "lane-unknown-post", "nobody", "bad_lane.bpmn")
    assert err.startswith("error: ")
    assert_ok(good)
    assert good.stdout.strip() == f"{REVIEW_LOOP}: ok (review_loop)"
    with sessions(cli)() as s:  # validating stores nothing
        assert s.scalar(select(func.count()).select_from(ProcessDefinition)) == 1


def test_deploy_prints_key_and_version_and_a_second_deploy_is_unchanged(world, cli):
    assert world.outputs["deploy"].strip() == "process review_loop version 1 (deployed) Review loop"
    bad = cli.home / "bad.bpmn"
    bad.write_bytes(REVIEW_LOOP.read_bytes().replace(b'name="reviewer"', b'name="nobody"'))
    again, failed = cli.run_all(["deploy", str(REVIEW_LOOP)], ["deploy", str(bad)])
    assert_ok(again)
    assert again.stdout.strip() == "process review_loop version 1 (unchanged) Review loop"
    assert_clean_failure(failed, "[review]", "lane-unknown-post")
    with sessions(cli)() as s:
        assert [(d.key, d.version) for d in s.scalars(select(ProcessDefinition))] == [("review_loop", 1)]


def queue(result: subprocess.CompletedProcess[str]) -> list[dict[str, object]]:
    assert_ok(result)
    page = json.loads(result.stdout)
    assert page["total"] == len(page["tasks"])
    return page["tasks"]


def test_start_tasks_complete_history_and_errors(cli):
    started = cli.run("start", "review_loop", "--business-key", "B1", "--data", START_DATA, "--as", "alice")
    assert_ok(started)
    assert started.stdout.strip().isdigit(), started.stdout
    instance_id = int(started.stdout)

    alice_q, incidents = cli.run_all(["tasks", "--as", "alice", "--json"], ["incidents", "--json"])
    (task,) = queue(alice_q)
    assert set(task) >= TASK_FIELDS, TASK_FIELDS - set(task)
    assert task["instance_id"] == instance_id
    assert (task["business_key"], task["node_id"], task["name"], task["post"], task["assignee"], task["status"]) == (
        "B1", "fix", "Fix", "dispatcher", "", "ready")
    assert isinstance(task["id"], int)
    assert task["created_at"] and task["warn_at"] and task["due_at"]
    created, warn, due = (datetime.fromisoformat(str(task[k])) for k in ("created_at", "warn_at", "due_at"))
    assert created.utcoffset() is not None
    assert created < warn < due
    assert_ok(incidents)
    assert json.loads(incidents.stdout) == []
    tid = str(task["id"])

    # someone else's task and bad JSON: one line each, and nothing changes
    by_bob, bad_json = cli.run_all(["complete", tid, "--as", "bob", "--data", "{}"],
                                   ["complete", tid, "--as", "alice", "--data", "{bad"])
    assert_clean_failure(by_bob, f"task {tid}")
    assert_clean_failure(bad_json, "--data", "not valid JSON")

    done = cli.ok("complete", tid, "--as", "alice", "--data", "{}")
    assert f"task {tid} completed; instance {instance_id} is running" in done
    assert "Review" in done and "reviewer" in done

    bob_q, hist = cli.run_all(["tasks", "--as", "bob", "--json"], ["history", str(instance_id), "--json"])
    (review,) = queue(bob_q)
    assert (review["node_id"], review["post"], review["instance_id"], review["status"]) == (
        "review", "reviewer", instance_id, "ready")
    assert_ok(hist)
    events = json.loads(hist.stdout)
    assert [(e["event"], e["node_id"]) for e in events] == [
        ("instance_started", ""), ("task_created", "fix"), ("task_completed", "fix"), ("step_completed", "score"),
        ("task_created", "review")]
    assert events[0]["actor"] == "alice" and events[2]["actor"] == "alice"
    assert events[2]["task_id"] == task["id"]
    assert all(e["at"] for e in events)
    # the failed attempts left no trace: one completion of the fix task, by alice
    assert [e["actor"] for e in events if e["event"] == "task_completed"] == ["alice"]


def test_signal_and_message_commands_deliver_through_the_engine(cli):
    waiter, started = (BPMN_DIR / "conformance" / "signal_waiter.bpmn"), (BPMN_DIR / "conformance" /
                                                                          "signal_started.bpmn")
    assert_ok(cli.run("deploy", str(waiter), str(started)))
    instance = cli.run("start", "signal_waiter", "--business-key", "SW-1", "--as", "alice")
    assert_ok(instance)
    sent = cli.run("signal", "outage_cleared", "--data", '{"region":"GZ"}', "--org", "GZ", "--json")
    assert_ok(sent)
    out = json.loads(sent.stdout)
    assert out["woken"] == [int(instance.stdout.strip())] and len(out["started"]) == 1 and out["failed"] == []
    refused = cli.run("signal", "outage_cleared", "--as", "alice")
    assert_clean_failure(refused, "may not send signals")
    nobody = cli.run("message", "nobody_waits")
    assert_ok(nobody)
    assert "woke 0 instance(s)" in nobody.stdout
