"""Standard BPMN constructs SpiffWorkflow 3.2 refuses or misreads, rewritten by engine.repository.normalize
before the library parses them, deployed and run through the services (diagrams in tests/bpmn/normalize/)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import select

from engine.repository.graph import BPMN_NS
from engine.repository.normalize import normalized
from engine.repository.normalize_links import link_pairs
from engine.runtime.models import ProcessInstance
from engine.tasks.models import HumanTask, TaskStatus
from tests.conftest import BPMN_DIR, bpmn, user

READY, DONE, CANCELLED = TaskStatus.READY, TaskStatus.COMPLETED, TaskStatus.CANCELLED


def start(pe, db, key: str, data: dict[str, Any] | None = None) -> int:  # type: ignore[no-untyped-def]
    with db.sessions.begin() as s:
        return pe.runtime.start(s, key, business_key="WO-1", data=data or {}, actor=user(s, pe, "alice")).instance.id


def rows(db, instance_id: int) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """The instance's human tasks, (node id, status), sorted."""
    with db.sessions() as s:
        found = s.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id))
        return sorted((r.node_id, str(r.status)) for r in found)


def complete(pe, db, instance_id: int, node_id: str) -> None:  # type: ignore[no-untyped-def]
    with db.sessions.begin() as s:
        task_id = s.scalar(select(HumanTask.id).where(HumanTask.instance_id == instance_id,
                                                      HumanTask.node_id == node_id, HumanTask.status == READY))
        assert task_id is not None, f"no open {node_id} task"
        pe.tasks.complete(s, task_id, user(s, pe, "alice"), {})


def correlate(pe, db, instance_id: int, message: str, **payload: Any) -> None:  # type: ignore[no-untyped-def]
    with db.sessions.begin() as s:
        pe.runtime.correlate(s, instance_id, message, payload)


def status(db, instance_id: int) -> str:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        row = s.get(ProcessInstance, instance_id)
        assert row is not None
        return str(row.status)


def data_of(pe, db, instance_id: int) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        return pe.runtime.instance_data(s, pe.runtime.get(s, instance_id))


# -- several outgoing flows from an activity ----------------------------------------------------------------
def test_plain_flows_out_of_a_task_run_in_parallel_until_both_end(pe, db, deploy):
    deploy("normalize/implicit_parallel.bpmn")
    iid = start(pe, db, "implicit_parallel")
    complete(pe, db, iid, "dispatch")
    assert rows(db, iid) == [("dispatch", DONE), ("repair", READY), ("survey", READY)]
    complete(pe, db, iid, "survey")
    assert status(db, iid) == "running"
    complete(pe, db, iid, "repair")
    assert status(db, iid) == "completed"


@pytest.mark.parametrize(("fiber_cut", "power_out", "taken"), [
    (True, False, ["fiber"]),
    (True, True, ["fiber", "power"]),
    (False, False, ["other"]),  # no condition holds: the default flow
])
def test_conditional_flows_out_of_a_task_take_every_true_one_else_the_default(pe, db, deploy, fiber_cut,
                                                                              power_out, taken):
    deploy("normalize/conditional_flows.bpmn")
    iid = start(pe, db, "conditional_flows", {"fiber_cut": fiber_cut, "power_out": power_out})
    complete(pe, db, iid, "assess")
    assert rows(db, iid) == sorted([("assess", DONE), *((node, READY) for node in taken)])
    for node in taken:
        complete(pe, db, iid, node)
    assert status(db, iid) == "completed"


@pytest.mark.parametrize(("level", "taken"), [(3, ["escalate", "report"]), (1, ["report"])])
def test_a_plain_flow_beside_a_conditional_one_is_always_taken(pe, db, deploy, level, taken):
    deploy("normalize/conditional_always.bpmn")
    iid = start(pe, db, "conditional_always", {"level": level})
    assert rows(db, iid) == [(node, READY) for node in taken]
    for node in taken:
        complete(pe, db, iid, node)
    assert status(db, iid) == "completed"


def test_two_flows_into_one_task_run_it_once_per_arrival(pe, db, deploy):
    """The library already runs BPMN's uncontrolled merge: nothing is rewritten."""
    deploy("normalize/uncontrolled_merge.bpmn")
    iid = start(pe, db, "uncontrolled_merge")
    complete(pe, db, iid, "survey")
    assert rows(db, iid) == [("record", READY), ("repair", READY), ("survey", DONE)]
    complete(pe, db, iid, "record")
    complete(pe, db, iid, "repair")
    assert rows(db, iid) == [("record", DONE), ("record", READY), ("repair", DONE), ("survey", DONE)]
    complete(pe, db, iid, "record")
    assert status(db, iid) == "completed"


# -- eventDefinitionRef -------------------------------------------------------------------------------------
def test_boundary_event_by_reference_interrupts_the_task(pe, db, deploy):
    deploy("normalize/defref_boundary.bpmn")
    iid = start(pe, db, "defref_boundary")
    assert rows(db, iid) == [("work", READY)]
    correlate(pe, db, iid, "customer_withdraws")
    assert rows(db, iid) == [("close", READY), ("work", CANCELLED)]
    complete(pe, db, iid, "close")
    assert status(db, iid) == "completed"


def test_start_catch_and_end_events_by_reference_wait_and_terminate(pe, db, deploy):
    deploy("normalize/defref_events.bpmn")
    iid = start(pe, db, "defref_events")
    assert rows(db, iid) == []  # the start event waits for its message
    correlate(pe, db, iid, "order_received", order="A-1")
    assert rows(db, iid) == [("handle", READY)]
    correlate(pe, db, iid, "customer_confirms")  # the catch event waited; the terminate end ends it all
    assert status(db, iid) == "completed"
    assert rows(db, iid) == [("handle", CANCELLED)]


# -- call activity to a global task -------------------------------------------------------------------------
def test_call_activities_to_global_script_and_user_tasks_run_in_place(pe, db, deploy):
    deploy("normalize/global_tasks.bpmn")
    iid = start(pe, db, "global_tasks", {"level": 3})
    assert data_of(pe, db, iid)["score"] == 30
    with db.sessions() as s:
        review = s.scalars(select(HumanTask).where(HumanTask.instance_id == iid)).one()
        assert (review.node_id, review.node_name, review.lane) == ("review", "Review the score", "dispatcher")
        # the call activity's own timeLimit wins, the global task's calendar is inherited
        assert (review.time_limit, review.calendar) == ("PT2H", "24x7")
    complete(pe, db, iid, "review")
    assert status(db, iid) == "completed"


def test_boundary_event_on_a_call_to_a_global_task_stays_attached(pe, db, deploy):
    deploy("normalize/global_tasks.bpmn")
    iid = start(pe, db, "global_tasks", {"level": 1})
    correlate(pe, db, iid, "order_cancelled")
    assert rows(db, iid) == [("review", CANCELLED)]
    assert status(db, iid) == "completed"


# -- link events --------------------------------------------------------------------------------------------
def test_link_events_jump_from_the_throw_to_the_catch(pe, db, deploy):
    deploy("normalize/link_events.bpmn")
    iid = start(pe, db, "link_events")
    complete(pe, db, iid, "accept")
    assert rows(db, iid) == [("accept", DONE), ("repair", READY)]
    complete(pe, db, iid, "repair")
    assert status(db, iid) == "completed"


# -- the rewrite itself -------------------------------------------------------------------------------------
def _tree(name: str) -> etree._ElementTree:
    return etree.ElementTree(etree.fromstring(bpmn(name)))


def _ids(tree: etree._ElementTree) -> list[str]:
    return [el.get("id") for el in tree.getroot().iter() if isinstance(el.tag, str) and el.get("id")]


ALL = sorted(str(p.relative_to(BPMN_DIR)) for p in (BPMN_DIR / "normalize").glob("*.bpmn"))


@pytest.mark.parametrize("name", ALL)
def test_the_input_tree_is_left_as_it_was(name):
    tree = _tree(name)
    before = etree.tostring(tree)
    result = normalized(tree)
    assert result is not tree and result.getroot() is not tree.getroot()
    assert etree.tostring(tree) == before


@pytest.mark.parametrize("name", ["tasks/plain.bpmn", "tasks/parallel.bpmn", "normalize/uncontrolled_merge.bpmn",
                                  "conformance/event_subprocess.bpmn", "review_loop.bpmn"])
def test_a_file_without_these_constructs_comes_out_the_same(name):
    tree = _tree(name)
    assert etree.tostring(normalized(tree)) == etree.tostring(tree)


@pytest.mark.parametrize("name", ALL)
def test_ids_stay_unique(name):
    ids = _ids(normalized(_tree(name)))
    assert len(ids) == len(set(ids))


def test_added_ids_step_around_ids_already_taken():
    text = bpmn("normalize/implicit_parallel.bpmn").replace(
        b'<bpmn:endEvent id="end_repair"/>',
        b'<bpmn:endEvent id="end_repair"/><bpmn:task id="dispatch__split"/><bpmn:task id="dispatch__split_2"/>'
        b'<bpmn:task id="dispatch__split_flow"/>')
    result = normalized(etree.ElementTree(etree.fromstring(text)))
    gateway = result.getroot().find(f".//{{{BPMN_NS}}}parallelGateway")
    assert gateway is not None and gateway.get("id") == "dispatch__split_3"
    flow = result.getroot().xpath("//*[@targetRef='dispatch__split_3']")[0]
    assert flow.get("id") == "dispatch__split_flow_2" and flow.get("sourceRef") == "dispatch"
    ids = _ids(result)
    assert len(ids) == len(set(ids))


def test_a_referenced_definition_used_twice_gets_two_fresh_ids():
    text = bpmn("normalize/defref_events.bpmn").replace(
        b"<bpmn:eventDefinitionRef>ed_terminate</bpmn:eventDefinitionRef>",
        b"<bpmn:eventDefinitionRef>ed_confirm</bpmn:eventDefinitionRef>")
    root = normalized(etree.ElementTree(etree.fromstring(text))).getroot()
    copies = root.findall(f".//{{{BPMN_NS}}}process//{{{BPMN_NS}}}messageEventDefinition")
    assert sorted(c.get("id") for c in copies) == ["confirmed__ed_confirm", "end_terminate__ed_confirm",
                                                   "start__ed_order"]
    assert root.find(f".//{{{BPMN_NS}}}eventDefinitionRef") is None


ODD = [
    # a reference to nothing, or to something that is not an event definition: left for validation to name
    ("<bpmn:eventDefinitionRef>ed_order</bpmn:eventDefinitionRef>",
     "<bpmn:eventDefinitionRef>nowhere</bpmn:eventDefinitionRef>", True),
    ("<bpmn:eventDefinitionRef>ed_order</bpmn:eventDefinitionRef>",
     "<bpmn:eventDefinitionRef>msg_order</bpmn:eventDefinitionRef>", True),
    ("<bpmn:eventDefinitionRef>ed_order</bpmn:eventDefinitionRef>", "<bpmn:eventDefinitionRef/>", True),
    ("<bpmn:eventDefinitionRef>ed_order</bpmn:eventDefinitionRef>",
     "<bpmn:eventDefinitionRef> x:ed_order </bpmn:eventDefinitionRef>", False),  # unknown prefix: still local
    # flows without a source, comments and processing instructions among the elements
    ('<bpmn:sequenceFlow id="f2" sourceRef="fork" targetRef="handle"/>',
     '<bpmn:sequenceFlow id="f2" targetRef="handle"/><!-- a comment --><?pi here?>', False),
    ('<bpmn:userTask id="handle" name="Handle"/>',
     '<bpmn:userTask name="Handle"/><bpmn:userTask id="x"><!-- c --></bpmn:userTask>', False),
]


@pytest.mark.parametrize(("old", "new", "kept"), ODD)
def test_odd_input_is_left_alone_not_crashed_on(old, new, kept):
    text = bpmn("normalize/defref_events.bpmn").replace(old.encode(), new.encode())
    assert text != bpmn("normalize/defref_events.bpmn")
    start = normalized(etree.ElementTree(etree.fromstring(text))).getroot().find(f".//{{{BPMN_NS}}}startEvent")
    assert start is not None
    assert (start.find(f"{{{BPMN_NS}}}eventDefinitionRef") is not None) is kept


def test_a_call_activity_to_a_process_is_left_alone():
    text = bpmn("normalize/global_tasks.bpmn").replace(b'calledElement="g_review"', b'calledElement="other_flow"')
    root = normalized(etree.ElementTree(etree.fromstring(text))).getroot()
    assert root.find(f".//{{{BPMN_NS}}}callActivity[@id='review']") is not None
    assert root.find(f".//{{{BPMN_NS}}}scriptTask[@id='score']") is not None


def test_an_ambiguous_link_is_left_alone():
    """Two catch events of one name: the throw is not connected (the path check reports it)."""
    text = bpmn("normalize/link_events.bpmn").replace(
        b'<bpmn:userTask id="repair" name="Repair"/>',
        b'<bpmn:userTask id="repair" name="Repair"/><bpmn:intermediateCatchEvent id="again">'
        b'<bpmn:linkEventDefinition id="link_again" name="repair"/></bpmn:intermediateCatchEvent>')
    tree = etree.ElementTree(etree.fromstring(text))
    assert link_pairs(tree.getroot()[0]) == []
    root = normalized(tree).getroot()
    assert root.xpath("//*[@sourceRef='to_repair']") == []


def test_a_link_target_names_its_catch_event_over_the_name():
    text = bpmn("normalize/link_events.bpmn").replace(
        b'<bpmn:linkEventDefinition id="link_out" name="repair"/>',
        b'<bpmn:linkEventDefinition id="link_out" name="elsewhere"><bpmn:target>link_in</bpmn:target>'
        b'</bpmn:linkEventDefinition>')
    process = etree.fromstring(text)[0]
    assert [(t.get("id"), c.get("id")) for t, c in link_pairs(process)] == [("to_repair", "at_repair")]


def test_normalizing_twice_changes_nothing_more():
    for name in ALL:
        once = normalized(_tree(name))
        assert etree.tostring(normalized(copy.deepcopy(once))) == etree.tostring(once), name


def test_the_split_gateway_takes_the_default_and_plain_flows_get_true():
    root = normalized(_tree("normalize/conditional_flows.bpmn")).getroot()
    assess = root.find(f".//{{{BPMN_NS}}}userTask[@id='assess']")
    gateway = root.find(f".//{{{BPMN_NS}}}inclusiveGateway[@id='assess__split']")
    assert assess is not None and assess.get("default") is None
    assert gateway is not None and gateway.get("default") == "f_other"
    assert {f.get("id") for f in root.xpath("//*[@sourceRef='assess__split']")} == {"f_fiber", "f_power", "f_other"}
    lane = [ref.text for ref in root.iter(f"{{{BPMN_NS}}}flowNodeRef")]
    assert lane[lane.index("assess") + 1] == "assess__split"
    root = normalized(_tree("normalize/conditional_always.bpmn")).getroot()
    report = root.find(f".//{{{BPMN_NS}}}sequenceFlow[@id='f_report']")
    assert report is not None and report.findtext(f"{{{BPMN_NS}}}conditionExpression") == "True"
    assert root.find(f".//{{{BPMN_NS}}}inclusiveGateway[@id='decide__split']") is not None
