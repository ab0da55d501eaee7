"""The diff between two versions of a diagram, element by element, in an analyst's words."""

from __future__ import annotations

from engine.repository.diff import diff_diagrams
from tests.conftest import BPMN_DIR, PROCESSES_DIR


def test_a_step_added_a_limit_and_a_post_changed_a_flow_redirected():
    old = (BPMN_DIR / "migration/steps_v1.bpmn").read_bytes()
    new = (BPMN_DIR / "migration/steps_v2.bpmn").read_bytes()
    result = diff_diagrams(old, new)
    assert [e.id for e in result.added] == ["check", "f2b"] and result.removed == []
    assert result.changed == {"first": [("时限", "PT2H", "PT8H")], "f2": [("终点", "wait", "check")],
                              "second": [("泳道（岗位）", "dispatcher", "reviewer")]}
    back = diff_diagrams(new, old)
    assert [e.id for e in back.removed] == ["check", "f2b"]


def test_layout_alone_is_no_change():
    content = (PROCESSES_DIR / "aftersales_fault.bpmn").read_text(encoding="utf-8")
    moved = content.replace('<dc:Bounds x="', '<dc:Bounds x="1')
    assert moved != content
    assert diff_diagrams(content.encode(), moved.encode()).empty


def test_scripts_conditions_handlers_and_timers_count():
    content = (PROCESSES_DIR / "aftersales_fault.bpmn").read_text(encoding="utf-8")
    changed = content.replace('route_post = route["post"]', 'route_post = route["post"] or "maintainer"')
    changed = changed.replace('<spiffworkflow:parameter id="template" type="any" value="\'dispatch\'"/>',
                              '<spiffworkflow:parameter id="template" type="any" value="\'urgent\'"/>')
    result = diff_diagrams(content.encode(), changed.encode())
    assert set(result.changed) == {"routed", "notify"}
    assert result.changed["routed"][0][0] == "脚本"
    assert result.changed["notify"][0][0] == "处理程序" and "'urgent'" in result.changed["notify"][0][2]
