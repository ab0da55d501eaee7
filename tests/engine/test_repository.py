"""Deploying and versioning BPMN files, and the validation rules a file must pass before it is stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.errors import BpmnValidationError, ValidationIssue
from engine.repository.models import ProcessDefinition
from engine.runtime.models import ProcessInstance
from engine.tasks.models import HumanTask
from tests.conftest import BPMN_DIR, bpmn, user

VALIDATION_DIR = BPMN_DIR / "validation"
MIWG_DIR = Path("/work/shared/bpmn-samples/miwg")
BASE = (VALIDATION_DIR / "base.bpmn").read_text(encoding="utf-8")


# -- helpers -----------------------------------------------------------------------------------------------
def variant(*replacements: tuple[str, str], base: str = BASE) -> bytes:
    """The base diagram with each ``(old, new)`` applied; every ``old`` must occur exactly once."""
    text = base
    for old, new in replacements:
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in the base diagram"
        text = text.replace(old, new)
    return text.encode("utf-8")


def validate(pe, db, content: bytes, filename: str = "case.bpmn"):  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        return pe.repository.validate(s, content, filename)


def rejected(pe, db, content: bytes, filename: str = "case.bpmn") -> BpmnValidationError:  # type: ignore[no-untyped-def]
    with pytest.raises(BpmnValidationError) as info:
        validate(pe, db, content, filename)
    err = info.value
    assert err.issues, "a validation error must list at least one issue"
    return err


def issue(err: BpmnValidationError, rule: str, element_id: str) -> ValidationIssue:
    """The issue with this rule and element id; fails listing every issue when there is none."""
    found = [i for i in err.issues if i.rule == rule and i.element_id == element_id]
    assert found, f"no issue {rule} on [{element_id}] among: {[str(i) for i in err.issues]}"
    if element_id:
        assert f"[{element_id}]" in str(err)
    assert rule in str(err)
    return found[0]


def definitions(s, key: str) -> list[ProcessDefinition]:  # type: ignore[no-untyped-def]
    return list(s.scalars(select(ProcessDefinition).where(ProcessDefinition.key == key)
                          .order_by(ProcessDefinition.version)))


# -- deploy and versions -----------------------------------------------------------------------------------
def test_same_bytes_keep_version_one_changed_file_makes_version_two(pe, db, deploy):
    (first,) = deploy("review_loop.bpmn")
    assert (first.key, first.version, first.name, first.created) == ("review_loop", 1, "Review loop", True)
    (again,) = deploy("review_loop.bpmn")
    assert (again.key, again.version, again.definition_id, again.created) == ("review_loop", 1,
                                                                               first.definition_id, False)
    # the same content under another file name is still the same version
    (renamed,) = deploy("copy_of_review_loop.bpmn", bpmn("review_loop.bpmn"))
    assert (renamed.version, renamed.created) == (1, False)
    changed = bpmn("review_loop.bpmn").replace(b'name="Fix"', b'name="Fix it"')
    (second,) = deploy("review_loop.bpmn", changed)
    assert (second.key, second.version, second.created) == ("review_loop", 2, True)
    assert second.definition_id != first.definition_id
    (second_again,) = deploy("review_loop.bpmn", changed)
    assert (second_again.version, second_again.definition_id, second_again.created) == (2, second.definition_id,
                                                                                          False)
    with db.sessions() as s:
        rows = definitions(s, "review_loop")
        assert [(r.version, r.source_name) for r in rows] == [(1, "review_loop.bpmn"), (2, "review_loop.bpmn")]
        assert rows[0].content_hash != rows[1].content_hash
        assert pe.repository.latest(s, "review_loop").version == 2
        assert [(d.key, d.version) for d in pe.repository.list_latest(s)] == [("review_loop", 2)]


def version_two() -> bytes:
    """review_loop with its review step replaced by an 'approve' step and the fix step renamed."""
    text = bpmn("review_loop.bpmn").decode("utf-8")
    for old, new in [('name="Review loop"', 'name="Review loop v2"'), ('name="Fix"', 'name="Fix v2"'),
                     ('<bpmn:userTask id="review" name="Review"/>', '<bpmn:userTask id="approve" name="Approve"/>'),
                     ("<bpmn:flowNodeRef>review</bpmn:flowNodeRef>", "<bpmn:flowNodeRef>approve</bpmn:flowNodeRef>"),
                     ('targetRef="review"', 'targetRef="approve"'), ('sourceRef="review"', 'sourceRef="approve"')]:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text.encode("utf-8")


def test_running_instance_stays_on_its_version_while_new_starts_use_the_newest(pe, db, deploy):
    (v1,) = deploy("review_loop.bpmn")
    with db.sessions.begin() as s:
        started = pe.runtime.start(s, "review_loop", business_key="OLD-1", data={"rounds": 0, "approved": False},
                                   actor=user(s, pe, "alice"))
        old_id, (old_fix,) = started.instance.id, [t.id for t in started.tasks]
        assert started.instance.definition_id == v1.definition_id
    (v2,) = deploy("review_loop.bpmn", version_two())
    assert (v2.version, v2.created, v2.name) == (2, True, "Review loop v2")

    with db.sessions.begin() as s:
        started = pe.runtime.start(s, "review_loop", business_key="NEW-1", data={"rounds": 0, "approved": False},
                                   actor=user(s, pe, "alice"))
        new_id = started.instance.id
        assert started.instance.definition_id == v2.definition_id
        assert [(t.node_id, t.node_name) for t in started.tasks] == [("fix", "Fix v2")]
        new_fix = started.tasks[0].id
    with db.sessions() as s:
        assert s.get(HumanTask, old_fix).node_name == "Fix"

    # the old instance runs on along version 1: its next step is 'review', which version 2 no longer has
    with db.sessions.begin() as s:
        nxt = pe.tasks.complete(s, old_fix, user(s, pe, "alice"), {})
        assert [(t.node_id, t.node_name) for t in nxt] == [("review", "Review")]
        old_review = nxt[0].id
    with db.sessions.begin() as s:
        nxt = pe.tasks.complete(s, new_fix, user(s, pe, "alice"), {})
        assert [(t.node_id, t.node_name) for t in nxt] == [("approve", "Approve")]
    with db.sessions.begin() as s:
        assert pe.tasks.complete(s, old_review, user(s, pe, "bob"), {"approved": True}) == []
    with db.sessions() as s:
        old = s.get(ProcessInstance, old_id)
        assert (old.status, old.definition_id) == ("completed", v1.definition_id)
        new = s.get(ProcessInstance, new_id)
        assert (new.status, new.definition_id) == ("running", v2.definition_id)


def test_spec_is_stored_once_per_version_and_instance_state_holds_none(pe, db, deploy):
    deploy("review_loop.bpmn")
    deploy("review_loop.bpmn", version_two())
    with db.sessions.begin() as s:
        alice = user(s, pe, "alice")
        ids = [pe.runtime.start(s, "review_loop", business_key=f"WO-{n}", data={"rounds": 0, "approved": False},
                                actor=alice).instance.id for n in range(3)]
    deploy("review_loop.bpmn")  # unchanged: no third row
    with db.sessions() as s:
        rows = definitions(s, "review_loop")
        assert [r.version for r in rows] == [1, 2]
        assert s.scalar(select(func.count()).select_from(ProcessDefinition)) == 2
        specs = [json.loads(r.spec_json) for r in rows]
        assert all("spec" in d for d in specs)
        assert '"approve"' not in rows[0].spec_json and '"review"' in rows[0].spec_json
        assert '"approve"' in rows[1].spec_json and '"review"' not in rows[1].spec_json
        for instance_id in ids:
            instance = s.get(ProcessInstance, instance_id)
            assert instance.definition_id == rows[1].id
            state = json.loads(instance.state)
            assert "spec" not in state and "subprocess_specs" not in state
            for spec_marker in ("task_specs", "BpmnProcessSpec", "bpmn_start_events", "Review loop v2"):
                assert spec_marker not in instance.state


def test_nothing_is_stored_when_validation_fails(pe, db):
    broken = variant(('name="审核员"', 'name="监理"'))
    with db.sessions.begin() as s:
        with pytest.raises(BpmnValidationError):
            pe.repository.deploy(s, broken, "broken.bpmn")
        # not even flushed inside the caller's transaction
        assert s.scalar(select(func.count()).select_from(ProcessDefinition)) == 0
    # a file with a good and a bad process stores neither
    tiny = ('<bpmn:process id="tiny" name="Tiny" isExecutable="true"><bpmn:startEvent id="t_start"/>'
            '<bpmn:sequenceFlow id="t_flow" sourceRef="t_start" targetRef="t_end"/><bpmn:endEvent id="t_end"/>'
            "</bpmn:process></bpmn:definitions>")
    assert validate(pe, db, variant(("</bpmn:definitions>", tiny))).specs.keys() == {"vbase", "tiny"}
    two = variant(("</bpmn:definitions>", tiny), ('name="审核员"', 'name="监理"'))
    with db.sessions.begin() as s:
        with pytest.raises(BpmnValidationError) as err:
            pe.repository.deploy(s, two, "two.bpmn")
        issue(err.value, "lane-unknown-post", "review")
        assert s.scalar(select(func.count()).select_from(ProcessDefinition)) == 0
    with db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(ProcessDefinition)) == 0


# -- validation: the good base, then one test per rule -----------------------------------------------------
def test_base_diagram_is_valid(pe, db):
    parsed = validate(pe, db, BASE.encode("utf-8"))
    assert sorted(parsed.specs) == ["vbase"]
    assert parsed.names["vbase"] == "Validation base"


def test_lane_may_name_a_post_by_code_or_by_name(pe, db):
    for lane in ("reviewer", "审核员", "维护员", "maintainer"):
        validate(pe, db, variant(('name="审核员"', f'name="{lane}"')))


def test_malformed_xml_names_the_line(pe, db):
    err = rejected(pe, db, (VALIDATION_DIR / "malformed.bpmn").read_bytes(), "malformed.bpmn")
    found = issue(err, "xml-malformed", "")
    assert found.line is not None and found.line >= 51  # the unclosed <userTask> opens on line 51
    assert f"malformed.bpmn:{found.line}" in str(err)
    assert "userTask" in found.message


def _passwd_lines() -> list[str]:
    try:
        return [line for line in Path("/etc/passwd").read_text().splitlines() if line.strip()]
    except OSError:
        return ["root:x:0:0"]


@pytest.mark.parametrize("name", ["xxe.bpmn", "billion_laughs.bpmn"])
def test_doctype_and_entities_are_refused(pe, db, name):
    err = rejected(pe, db, (VALIDATION_DIR / name).read_bytes(), name)
    assert [i.rule for i in err.issues] == ["xml-doctype-forbidden"]
    issue(err, "xml-doctype-forbidden", "")
    text = str(err) + " ".join(i.message for i in err.issues)
    assert "lollollol" not in text
    for line in _passwd_lines():
        assert line not in text


@pytest.mark.parametrize("name", ["xxe.bpmn", "billion_laughs.bpmn"])
def test_doctype_is_refused_in_utf16_files_too(pe, db, name):
    """The DOCTYPE check must not depend on the file being ASCII-compatible."""
    text = (VALIDATION_DIR / name).read_text(encoding="utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"')
    err = rejected(pe, db, text.encode("utf-16"), name)
    message = str(err)
    for line in _passwd_lines():
        assert line not in message
    assert [i.rule for i in err.issues] == ["xml-doctype-forbidden"], message


def test_lane_that_is_not_a_post(pe, db):
    err = rejected(pe, db, variant(('name="审核员"', 'name="监理"')))
    found = issue(err, "lane-unknown-post", "review")
    assert "监理" in found.message
    assert found.line is not None


def test_user_task_outside_any_lane(pe, db):
    err = rejected(pe, db, variant(("<bpmn:flowNodeRef>review</bpmn:flowNodeRef>", "")))
    issue(err, "user-task-without-lane", "review")
    assert [i.rule for i in err.issues] == ["user-task-without-lane"]


def test_unknown_service_task_handler(pe, db):
    err = rejected(pe, db, variant(('serviceTaskOperator id="test.echo"', 'serviceTaskOperator id="no.such"')))
    assert "no.such" in issue(err, "unknown-handler", "notify").message


@pytest.mark.parametrize(
    ("replacement", "needle"),
    [
        (('name="timeLimit" value="PT4H"', 'name="timeLimit" value="4 hours"'), "4 hours"),
        (('name="timeLimit" value="PT4H"', 'name="timeLimit" value="P1M"'), "P1M"),
        (('name="warnPercent" value="75"', 'name="warnPercent" value="150"'), "150"),
        (('name="warnPercent" value="75"', 'name="warnBefore" value="PT5H"'), "PT5H"),
    ],
    ids=["words", "months", "percent-over-99", "warning-longer-than-limit"],
)
def test_bad_time_limit(pe, db, replacement, needle):
    err = rejected(pe, db, variant(replacement))
    found = issue(err, "bad-time-limit", "triage")
    assert needle in found.message
    assert [i.rule for i in err.issues] == ["bad-time-limit"]


@pytest.mark.parametrize(
    ("replacement", "prop", "needle"),
    [
        (('name="calendar" value="workday"', 'name="calendar" value="weekends"'), "calendar", "weekends"),
        (('name="allow" value="transfer,return"', 'name="allow" value="transfer,delete"'), "allow", "delete"),
    ],
    ids=["calendar", "allow"],
)
def test_unknown_property_values(pe, db, replacement, prop, needle):
    err = rejected(pe, db, variant(replacement))
    found = issue(err, "bad-property", "triage")
    assert found.message.startswith(f"{prop}:") and needle in found.message


def test_process_without_end_event(pe, db):
    content = variant(('<bpmn:endEvent id="end"/>', ""), ("<bpmn:flowNodeRef>end</bpmn:flowNodeRef>", ""),
                      ('<bpmn:sequenceFlow id="ok" sourceRef="gw" targetRef="end">',
                       '<bpmn:sequenceFlow id="ok" sourceRef="gw" targetRef="review">'))
    err = rejected(pe, db, content)
    found = issue(err, "no-end-event", "vbase")
    assert found.line == 3


def test_task_with_no_outgoing_flow(pe, db):
    err = rejected(pe, db, variant(('<bpmn:sequenceFlow id="f_calc" sourceRef="calc" targetRef="notify"/>', "")))
    assert "no outgoing" in issue(err, "dead-end", "calc").message
    assert [i.element_id for i in err.issues if i.rule == "dead-end"] == ["calc"]


def test_loop_without_exit(pe, db):
    loop = ('<bpmn:sequenceFlow id="to_loop" sourceRef="gw" targetRef="loop_a">'
            "<bpmn:conditionExpression>rounds &gt; 5</bpmn:conditionExpression></bpmn:sequenceFlow>"
            '<bpmn:task id="loop_a" name="Loop A"/>'
            '<bpmn:sequenceFlow id="la" sourceRef="loop_a" targetRef="loop_b"/>'
            '<bpmn:task id="loop_b" name="Loop B"/>'
            '<bpmn:sequenceFlow id="lb" sourceRef="loop_b" targetRef="loop_a"/>'
            '<bpmn:endEvent id="end"/>')
    err = rejected(pe, db, variant(('<bpmn:endEvent id="end"/>', loop)))
    issue(err, "no-path-to-end", "loop_a")
    issue(err, "no-path-to-end", "loop_b")
    # the rest of the diagram still reaches the end and is not blamed (the loop's tasks, outside any lane, are
    # also refused for that: a task people do needs a post)
    assert sorted(i.element_id for i in err.issues if i.rule in ("no-path-to-end", "dead-end")) == ["loop_a", "loop_b"]
    assert {i.rule for i in err.issues} == {"no-path-to-end", "user-task-without-lane"}


@pytest.mark.parametrize(
    ("script", "needle"),
    [("rounds = = 1", "SyntaxError"), ("x = ().__class__.__bases__[0].__subclasses__()", "__class__")],
    ids=["syntax-error", "dunder-escape"],
)
def test_script_that_does_not_compile_or_escapes_the_sandbox(pe, db, script, needle):
    err = rejected(pe, db, variant(("rounds = rounds + 1", script)))
    found = issue(err, "script-invalid", "calc")
    assert needle in found.message


def test_script_error_message_is_plain_text(pe, db):
    """The message is for people: the compiler's complaint, not the repr of a Python tuple of them."""
    err = rejected(pe, db, variant(("rounds = rounds + 1", "x = ().__class__")))
    found = issue(err, "script-invalid", "calc")
    assert "__class__" in found.message
    assert "('" not in found.message and '("' not in found.message and not found.message.endswith(",)"), \
        found.message


@pytest.mark.parametrize("definition_id", [' id="wait_timer"', ""], ids=["modeler-style", "no-definition-id"])
def test_unquoted_timer_is_refused_with_a_hint(pe, db, definition_id):
    """Modelers (bpmn.io) give the timerEventDefinition an id of its own; the issue must still name the event."""
    content = variant(('<bpmn:timerEventDefinition id="wait_timer">', f"<bpmn:timerEventDefinition{definition_id}>"),
                      ('<bpmn:timeDuration>"PT1H"</bpmn:timeDuration>', "<bpmn:timeDuration>PT4H</bpmn:timeDuration>"))
    err = rejected(pe, db, content)
    assert [i.rule for i in err.issues] == ["bad-timer"]
    found = issue(err, "bad-timer", "wait")
    assert "quoted" in found.message and '"PT4H"' in found.message


def test_gateway_flow_without_condition(pe, db):
    err = rejected(pe, db, variant(('<bpmn:exclusiveGateway id="gw" name="Approved?" default="back"/>',
                                    '<bpmn:exclusiveGateway id="gw" name="Approved?"/>')))
    found = issue(err, "missing-condition", "back")
    assert found.line is not None


def test_task_with_two_outgoing_flows_is_an_implicit_split_not_a_refusal(pe, db):
    # BPMN 2.0.2 §10.2: plain outgoing flows of an activity all run (tests/engine/test_normalize.py runs it)
    content = variant(('<bpmn:sequenceFlow id="f_calc" sourceRef="calc" targetRef="notify"/>',
                       '<bpmn:sequenceFlow id="f_calc" sourceRef="calc" targetRef="notify"/>'
                       '<bpmn:sequenceFlow id="f_calc2" sourceRef="calc" targetRef="review"/>'))
    with db.sessions.begin() as s:
        (result,) = pe.repository.deploy(s, content, "split.bpmn")
    assert result.created


def test_file_without_executable_process(pe, db):
    err = rejected(pe, db, variant(('isExecutable="true"', 'isExecutable="false"')))
    issue(err, "no-executable-process", "")
    assert [i.rule for i in err.issues] == ["no-executable-process"]


def test_issues_are_collected_not_stopped_at_the_first(pe, db):
    err = rejected(pe, db, variant(('name="审核员"', 'name="监理"'), ('id="test.echo"', 'id="no.such"'),
                                   ('value="workday"', 'value="weekends"')))
    assert {(i.rule, i.element_id) for i in err.issues} == {
        ("lane-unknown-post", "review"), ("unknown-handler", "notify"), ("bad-property", "triage")}


# -- the MIWG reference diagrams ---------------------------------------------------------------------------
MIWG_FILES = sorted(MIWG_DIR.glob("*.bpmn"))


@pytest.mark.skipif(not MIWG_FILES, reason="MIWG reference diagrams not present")
@pytest.mark.parametrize("path", MIWG_FILES, ids=[p.name for p in MIWG_FILES])
def test_miwg_reference_diagrams_are_refused_with_issues(pe, db, path):
    """None of them is executable in EOMS; each must fail validation (never crash) and say why."""
    with pytest.raises(BpmnValidationError) as info:
        validate(pe, db, path.read_bytes(), path.name)
    err = info.value
    assert err.issues
    for found in err.issues:
        assert found.rule and found.message.strip(), found
        assert found.file == path.name
        assert str(found) in str(err)


@pytest.mark.skipif(not MIWG_FILES, reason="MIWG reference diagrams not present")
@pytest.mark.parametrize("path", MIWG_FILES, ids=[p.name for p in MIWG_FILES])
def test_miwg_issue_messages_are_plain_text(pe, db, path):
    """No Python reprs of tuples or of None in what an analyst reads."""
    with pytest.raises(BpmnValidationError) as info:
        validate(pe, db, path.read_bytes(), path.name)
    for found in info.value.issues:
        assert "('" not in found.message and '("' not in found.message, str(found)
        assert "None" not in found.message, str(found)
