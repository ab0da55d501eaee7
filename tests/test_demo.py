"""`eoms seed-demo`: a newcomer sees all five flows deployed and demo work in flight; running it twice
changes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from engine.db import make_engine, make_session_factory
from engine.repository.models import ProcessDefinition
from engine.runtime.models import Incident, ProcessInstance
from engine.tasks.models import HumanTask
from tests.conftest import ROOT

EOMS = str(Path(sys.executable).parent / "eoms")
FLOWS = {"aftersales_fault", "insale_implementation", "presales_demand", "provisioning", "workplan"}


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([EOMS, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc


def test_seed_demo_shows_every_flow_in_flight_and_is_idempotent(tmp_path):
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    env = {**os.environ, "EOMS_DATABASE_URL": url, "EOMS_STORAGE_DIR": str(tmp_path / "storage")}
    run(env, "init-db")
    first = run(env, "seed-demo")
    assert "demo work orders created: 0" not in first.stdout
    sessions = make_session_factory(make_engine(url))
    with sessions() as s:
        assert set(s.scalars(select(ProcessDefinition.key))) == FLOWS
        running = dict(s.execute(select(ProcessInstance.process_key, func.count()).where(
            ProcessInstance.status == "running").group_by(ProcessInstance.process_key)).tuples().all())
        completed = dict(s.execute(select(ProcessInstance.process_key, func.count()).where(
            ProcessInstance.status == "completed").group_by(ProcessInstance.process_key)).tuples().all())
        assert set(running) == FLOWS, running  # work in flight in every flow
        assert {"aftersales_fault", "presales_demand", "insale_implementation", "provisioning"} <= set(completed)
        instances = s.scalar(select(func.count()).select_from(ProcessInstance))
        open_tasks = s.scalar(select(func.count()).select_from(HumanTask).where(HumanTask.status == "ready"))
        assert open_tasks >= 15
        assert s.scalar(select(func.count()).select_from(Incident).where(Incident.status == "open")) == 0
    second = run(env, "seed-demo")
    assert "demo work orders created: 0" in second.stdout
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(ProcessInstance)) == instances
    queue = json.loads(run(env, "tasks", "--as", "gz_maintainer", "--json").stdout)
    assert queue["total"] >= 3
    assert {t["name"] for t in queue["tasks"]} >= {"故障处理", "恢复回单"}
