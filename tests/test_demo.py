"""`eoms seed-demo`: a newcomer sees every flow deployed and demo work in flight; running it twice
changes nothing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import func, select

from engine.db import make_engine, make_session_factory
from engine.identity.models import OrgUnit, Post
from engine.repository.models import ProcessDefinition
from engine.runtime.models import Incident, ProcessInstance
from engine.tasks.models import HumanTask
from eoms.demo import BPMN_NS, POSTS, DemoSetupError, diagram_lanes, flow_posts
from tests.conftest import PROCESSES_DIR, ROOT

EOMS = str(Path(sys.executable).parent / "eoms")
FLOWS = {"aftersales_fault", "insale_implementation", "presales_demand", "provisioning", "workplan", "project_setup",
         "cost_request"}


def run(env: dict[str, str], *args: str, returncode: int = 0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([EOMS, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == returncode, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc


def diagrams_with_lane(tmp_path: Path, lane_name: str, diagram: str = "workplan.bpmn") -> Path:
    """A copy of processes/ (forms included) where ``diagram`` has one more lane, named ``lane_name``."""
    folder = tmp_path / "processes"
    shutil.copytree(PROCESSES_DIR, folder)
    tree = etree.parse(str(folder / diagram))
    lane_set = tree.find(".//bpmn:laneSet", BPMN_NS)
    assert lane_set is not None
    etree.SubElement(lane_set, f"{{{BPMN_NS['bpmn']}}}lane", id="L_added", name=lane_name)
    tree.write(str(folder / diagram), xml_declaration=True, encoding="UTF-8")
    return folder


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


# -- the posts come from the diagrams' lanes -----------------------------------------------------------------
def test_the_demo_creates_the_post_of_every_lane_of_the_diagrams():
    lanes = {name for _, _, name in diagram_lanes(PROCESSES_DIR)}
    assert "维护员" in lanes and "计划审批人" in lanes  # nested lanes (workplan's per-unit branch) are read too
    posts = flow_posts(PROCESSES_DIR)
    assert {name for _, name in posts} == lanes
    assert posts == [p for p in POSTS if p in posts]  # in the order of POSTS, so phone numbers stay put


def test_a_lane_added_in_a_diagram_brings_its_post_and_an_unused_post_is_left_out(tmp_path):
    folder = tmp_path / "one"
    folder.mkdir()
    shutil.copy(PROCESSES_DIR / "workplan.bpmn", folder)
    assert flow_posts(folder) == [("maintainer", "维护员"), ("planner", "计划专责"), ("plan_approver", "计划审批人")]
    added = diagrams_with_lane(tmp_path, "客服代表")
    shutil.copy(added / "workplan.bpmn", folder)
    assert ("customer_service", "客服代表") in flow_posts(folder)
    by_code = diagrams_with_lane(tmp_path / "code", "network_operator")  # a lane may name a post by its code
    shutil.copy(by_code / "workplan.bpmn", folder)
    assert ("network_operator", "开通工程师") in flow_posts(folder)


def test_a_lane_naming_no_post_the_demo_knows_fails_naming_the_lane_and_the_file(tmp_path):
    folder = diagrams_with_lane(tmp_path, "网优工程师")
    with pytest.raises(DemoSetupError, match=r"workplan\.bpmn: lane '网优工程师' \(id L_added\)") as err:
        flow_posts(folder)
    assert err.value.details == {"file": "workplan.bpmn", "lane_id": "L_added", "lane": "网优工程师"}


def test_seed_demo_stops_before_writing_anything_when_a_lane_has_no_post(tmp_path):
    folder = diagrams_with_lane(tmp_path, "网优工程师")
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    env = {**os.environ, "EOMS_DATABASE_URL": url, "EOMS_STORAGE_DIR": str(tmp_path / "storage")}
    run(env, "init-db")
    failed = run(env, "seed-demo", "--processes", str(folder), returncode=1)
    assert "error: workplan.bpmn: lane '网优工程师'" in failed.stderr
    assert "eoms.demo.POSTS" in failed.stderr
    with make_session_factory(make_engine(url))() as s:
        assert s.scalar(select(func.count()).select_from(OrgUnit)) == 0
        assert s.scalar(select(func.count()).select_from(Post)) == 0
