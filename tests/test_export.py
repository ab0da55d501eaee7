"""``eoms export`` writes a deployed version (BPMN and forms) back to files; deploying them gives the same
version, so analysts' changes made in the designer can be reviewed and kept in git."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from engine.repository.models import ProcessDefinition
from eoms.cli import main
from tests.conftest import PROCESSES_DIR


def test_export_then_deploy_gives_the_same_version(db, deploy_flows, flow_pe, tmp_path: Path, capsys, monkeypatch):
    monkeypatch.setenv("EOMS_DATABASE_URL", db.url)
    deploy_flows(flow_pe)
    changed = (PROCESSES_DIR / "aftersales_fault.bpmn").read_text(encoding="utf-8").replace(
        'name="恢复回单"', 'name="恢复回单（设计器改）"')
    with db.sessions.begin() as s:  # what the designer does when an analyst deploys
        (result,) = flow_pe.repository.deploy(s, changed.encode("utf-8"), "aftersales_fault.bpmn")
    assert result.version == 2
    out = tmp_path / "processes"
    assert main(["export", "aftersales_fault", "--out", str(out)]) == 0
    assert "恢复回单（设计器改）" in (out / "aftersales_fault.bpmn").read_text(encoding="utf-8")
    assert sorted(p.name for p in (out / "forms").glob("*.json")) == sorted(
        p.name for p in (PROCESSES_DIR / "forms").glob("fault_*.json"))
    capsys.readouterr()
    assert main(["deploy", str(out)]) == 0
    assert "process aftersales_fault version 2 (unchanged)" in capsys.readouterr().out
    with db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(ProcessDefinition)
                        .where(ProcessDefinition.key == "aftersales_fault")) == 2
    assert main(["export", "aftersales_fault", "--version", "1", "--out", str(out)]) == 0
    assert (out / "aftersales_fault.bpmn").read_bytes() == (PROCESSES_DIR / "aftersales_fault.bpmn").read_bytes()
    assert main(["export", "no_such_flow", "--out", str(out)]) == 1
