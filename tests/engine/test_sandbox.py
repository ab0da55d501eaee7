"""Scripts and conditions run in the RestrictedPython sandbox: escapes are refused, ordinary scripts work."""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from sqlalchemy import select

from engine.errors import BpmnValidationError, NotFound, ScriptError
from engine.runtime.executor import open_instance
from engine.runtime.models import Incident, ProcessInstance
from engine.spiff.scripting import SandboxEnvironment, check_source, compile_sandboxed
from engine.tasks.models import HumanTask
from tests.conftest import bpmn, user

SCRIPT_FILE = "runtime/sandbox_script.bpmn"
CONDITION_FILE = "runtime/sandbox_condition.bpmn"
PASSWD = Path("/etc/passwd")
PASSWD_LINE = PASSWD.read_text().splitlines()[0] if PASSWD.exists() else "root:x:0:0"

# Escapes RestrictedPython refuses when compiling (and so the repository refuses at deploy).
COMPILE_REFUSED = {
    "dunder-import": ("__import__('os')", '"__import__" is an invalid variable name'),
    "subclasses": ("x = ().__class__.__base__.__subclasses__()", '"__class__" is an invalid attribute name'),
    "class-attribute": ("x = [].__class__", '"__class__" is an invalid attribute name'),
    "eval": ("eval('1')", "Eval calls are not allowed"),
    "exec": ("exec('y=1')", "Exec calls are not allowed"),
    "builtins": ("x = __builtins__", '"__builtins__" is an invalid variable name'),
    "guard": ("x = _getattr_", '"_getattr_" is an invalid variable name'),
    "frame": ("g = (i for i in [1])\nf = g.gi_frame", '"gi_frame" is a restricted name'),
    "fstring-dunder": ("x = f'{().__class__}'", '"__class__" is an invalid attribute name'),
}

# Escapes RestrictedPython compiles but the sandbox stops when they run. Deploy refuses all but the last
# (check_source looks for imports and calls of forbidden builtins); the run-time guard stays for all of them.
RUN_ONLY = {"str-format"}
RUN_REFUSED = {
    "import": ("import os\nx = os.listdir('/')", "import is not allowed"),
    "from-import": ("from os import path", "import is not allowed"),
    "open": (f"x = open('{PASSWD}').read()", "'open' is not allowed"),
    "getattr": ("x = getattr((), '__class__')", "'getattr' is not allowed"),
    "type": ("x = type(1)", "'type' is not allowed"),
    "globals": ("x = globals()", "'globals' is not allowed"),
    "compile": ("x = compile('1', 'f', 'eval')", "'compile' is not allowed"),
    "str-format": ("x = '{0.__class__}'.format(1)", "format"),
}


def with_script(script: str) -> bytes:
    content = bpmn(SCRIPT_FILE)
    old = b"<bpmn:script>result = 1</bpmn:script>"
    assert content.count(old) == 1
    return content.replace(old, f"<bpmn:script>{escape(script)}</bpmn:script>".encode())


def with_condition(condition: str) -> bytes:
    content = bpmn(CONDITION_FILE)
    old = b"<bpmn:conditionExpression>amount &gt; 100</bpmn:conditionExpression>"
    assert content.count(old) == 1
    return content.replace(old, f"<bpmn:conditionExpression>{escape(condition)}</bpmn:conditionExpression>".encode())


def start(pe, db, process_key, data, business_key="WO-1"):  # type: ignore[no-untyped-def]
    with db.sessions.begin() as s:
        result = pe.runtime.start(s, process_key, business_key=business_key, data=data, actor=user(s, pe, "alice"))
        return result.instance.id, [(t.id, t.node_id) for t in result.tasks], result.incident is not None


def spiff_data(pe, s, instance_id, node_id):  # type: ignore[no-untyped-def]
    instance = s.get(ProcessInstance, instance_id)
    workflow = open_instance(pe.ctx, s, instance, None).workflow
    found = [t for t in workflow.tasks.values() if t.task_spec.bpmn_id == node_id]
    assert found, f"no task {node_id} in the stored state"
    return found[-1].data


def open_incidents(s, instance_id):  # type: ignore[no-untyped-def]
    return s.scalars(select(Incident).where(Incident.instance_id == instance_id, Incident.status == "open")).all()


# -- the sandbox itself ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(COMPILE_REFUSED))
def test_sandbox_refuses_to_compile(name):
    source, fragment = COMPILE_REFUSED[name]
    with pytest.raises(ScriptError, match="script refused") as err:
        compile_sandboxed(source, "exec")
    assert fragment in str(err.value)
    assert check_source(source, "exec") is not None
    with pytest.raises(ScriptError, match="script refused"):
        SandboxEnvironment().execute(source, {})


@pytest.mark.parametrize("name", sorted(RUN_REFUSED))
def test_sandbox_refuses_at_run_time(name):
    source, fragment = RUN_REFUSED[name]
    assert (check_source(source, "exec") is None) == (name in RUN_ONLY)
    assert compile_sandboxed(source, "exec") is not None
    context: dict = {"amount": 1}
    with pytest.raises(ScriptError, match="script failed") as err:
        SandboxEnvironment().execute(source, context)
    assert fragment in str(err.value)
    assert PASSWD_LINE not in str(err.value)
    assert "x" not in context and "os" not in context
    assert context["amount"] == 1


@pytest.mark.parametrize("expression, fragment", [
    (f"open('{PASSWD}').read()", "'open' is not allowed"),
    ("getattr(1, 'real')", "'getattr' is not allowed"),
    ("type(amount)", "'type' is not allowed"),
    ("vars()", "'vars' is not allowed"),
])
def test_sandbox_refuses_in_expressions(expression, fragment):
    assert fragment in (check_source(expression, "eval") or "")  # refused at deploy …
    with pytest.raises(ScriptError, match="failed") as err:
        SandboxEnvironment().evaluate(expression, {"amount": 5})
    assert fragment in str(err.value)
    assert PASSWD_LINE not in str(err.value)


@pytest.mark.parametrize("expression", ["().__class__", "__import__('os')", "eval('1')", "amount.__class__"])
def test_sandbox_refuses_to_compile_expressions(expression):
    with pytest.raises(ScriptError, match="expression refused"):
        compile_sandboxed(expression, "eval")
    assert check_source(expression, "eval") is not None
    with pytest.raises(ScriptError, match="expression refused"):
        SandboxEnvironment().evaluate(expression, {"amount": 5})


def test_compile_refusal_reads_as_plain_text():
    """The reason is shown to whoever deploys the diagram: plain sentences, not a Python tuple."""
    problem = check_source("x = [].__class__", "exec")
    assert problem is not None
    assert '"__class__" is an invalid attribute name' in problem
    assert "('" not in problem and "',)" not in problem, problem


def test_ordinary_scripts_run_in_the_sandbox():
    context = {"amounts": [3, 1, 2], "name": "fiber cut", "info": {"count": 1}}
    SandboxEnvironment().execute(
        "total = sum(amounts)\n"
        "biggest = max(amounts)\n"
        "smallest = min(amounts)\n"
        "ordered = sorted(amounts, reverse=True)\n"
        "count = len(amounts)\n"
        "squares = [a * a for a in amounts if a > 1]\n"
        "summary = {'total': total, 'count': count}\n"
        "summary['label'] = name.upper()\n"
        "info['count'] = info['count'] + 1\n"
        "counter = 0\n"
        "counter += 1\n"
        "counter += 2\n"
        "due = (datetime(2026, 3, 2, 9, 0) + timedelta(hours=4)).isoformat()\n"
        "day = date(2026, 3, 2).isoformat()\n"
        "root = math.sqrt(16)\n"
        "first, second = ordered[0], ordered[1]\n"
        "pairs = {k: v for k, v in zip(['a', 'b'], [1, 2])}\n",
        context,
    )
    assert context["total"] == 6 and context["biggest"] == 3 and context["smallest"] == 1
    assert context["ordered"] == [3, 2, 1] and context["count"] == 3
    assert context["squares"] == [9, 4]
    assert context["summary"] == {"total": 6, "count": 3, "label": "FIBER CUT"}
    assert context["info"] == {"count": 2}
    assert context["counter"] == 3
    assert context["due"] == "2026-03-02T13:00:00"
    assert context["day"] == "2026-03-02"
    assert context["root"] == 4.0
    assert (context["first"], context["second"]) == (3, 2)
    assert context["pairs"] == {"a": 1, "b": 2}
    # the sandbox's own names do not leak into the data
    assert not any(key.startswith("_") for key in context)
    assert "datetime" not in context and "math" not in context
    assert SandboxEnvironment().evaluate("amount > 100 and name.startswith('f')", {"amount": 150, "name": "f"})


# -- through the engine: deploy refuses what does not compile -----------------------------------------------
@pytest.mark.parametrize("name", ["dunder-import", "subclasses", "class-attribute", "eval", "exec"])
def test_deploy_refuses_scripts_that_do_not_compile(pe, db, deploy, name):
    source, fragment = COMPILE_REFUSED[name]
    with pytest.raises(BpmnValidationError) as err:
        deploy("sandbox_escape.bpmn", with_script(source))
    issues = [(i.rule, i.element_id) for i in err.value.issues]
    assert ("script-invalid", "calc") in issues
    assert fragment in str(err.value)
    with db.sessions() as s, pytest.raises(NotFound):
        pe.repository.latest(s, "sandbox_script")


@pytest.mark.parametrize("condition", ["().__class__ is not None", "__import__('os') is None",
                                       "amount.__class__ is int"])
def test_deploy_refuses_conditions_that_do_not_compile(pe, db, deploy, condition):
    with pytest.raises(BpmnValidationError) as err:
        deploy("sandbox_escape.bpmn", with_condition(condition))
    assert ("condition-invalid", "to_big") in [(i.rule, i.element_id) for i in err.value.issues]
    with db.sessions() as s, pytest.raises(NotFound):
        pe.repository.latest(s, "sandbox_condition")


# -- through the engine: what compiles but is refused at run time becomes a script incident ----------------
@pytest.mark.parametrize("name", sorted(set(RUN_REFUSED) - RUN_ONLY))
def test_deploy_refuses_scripts_the_sandbox_would_stop(pe, db, deploy, name):
    source, fragment = RUN_REFUSED[name]
    with pytest.raises(BpmnValidationError) as err:
        deploy("sandbox_escape.bpmn", with_script(f"partial = 1\n{source}\nresult = 2"))
    (issue,) = [i for i in err.value.issues if i.rule == "script-invalid"]
    assert issue.element_id == "calc" and fragment in issue.message
    with db.sessions() as s, pytest.raises(NotFound):
        pe.repository.latest(s, "sandbox_script")


@pytest.mark.parametrize("name", sorted(RUN_ONLY))
def test_escape_at_run_time_opens_a_script_incident(pe, db, deploy, name):
    source, fragment = RUN_REFUSED[name]
    deploy("sandbox_escape.bpmn", with_script(f"partial = 1\n{source}\nresult = 2"))
    instance_id, tasks, has_incident = start(pe, db, "sandbox_script", {"order_no": "WO-1"})
    assert tasks == [] and has_incident
    with db.sessions() as s:
        instance = s.get(ProcessInstance, instance_id)
        assert instance.status == "running"
        (incident,) = open_incidents(s, instance_id)
        assert (incident.kind, incident.node_id) == ("script", "calc")
        assert fragment in incident.message
        assert "NameError" not in incident.message
        assert PASSWD_LINE not in incident.message and PASSWD_LINE not in instance.state
        events = [(e.event_type, e.node_id) for e in pe.history.timeline(s, instance_id)]
        assert ("incident_opened", "calc") in events
        assert ("step_completed", "calc") not in events
        # what the script did before it was stopped is not kept
        data = spiff_data(pe, s, instance_id, "calc")
        assert "partial" not in data and "result" not in data and "x" not in data
        assert data["order_no"] == "WO-1"


@pytest.mark.parametrize("condition, fragment", [
    (f"open('{PASSWD}').read() != ''", "'open' is not allowed"),
    ("getattr(amount, 'real') > 0", "'getattr' is not allowed"),
])
def test_deploy_refuses_conditions_the_sandbox_would_stop(pe, db, deploy, condition, fragment):
    with pytest.raises(BpmnValidationError) as err:
        deploy("sandbox_escape.bpmn", with_condition(condition))
    assert any(i.rule == "condition-invalid" and fragment in i.message for i in err.value.issues)


@pytest.mark.parametrize("condition, fragment", [
    ("'{0.__class__}'.format(amount) != ''", "format"),
])
def test_condition_escape_at_run_time_opens_a_script_incident(pe, db, deploy, condition, fragment):
    deploy("sandbox_escape.bpmn", with_condition(condition))
    instance_id, tasks, has_incident = start(pe, db, "sandbox_condition", {"amount": 500})
    assert tasks == [] and has_incident
    with db.sessions() as s:
        instance = s.get(ProcessInstance, instance_id)
        assert instance.status == "running"
        (incident,) = open_incidents(s, instance_id)
        assert (incident.kind, incident.node_id) == ("script", "gw")
        assert fragment in incident.message
        assert PASSWD_LINE not in incident.message and PASSWD_LINE not in instance.state
        assert s.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id)).all() == []


# -- through the engine: ordinary scripts and conditions work ----------------------------------------------
def test_ordinary_script_runs_through_the_engine(pe, db, deploy):
    deploy("sandbox_ok.bpmn", with_script(
        "total = sum(amounts)\n"
        "ordered = sorted(amounts)\n"
        "extremes = [min(amounts), max(amounts)]\n"
        "count = len(amounts)\n"
        "doubled = [a * 2 for a in amounts]\n"
        "summary = {'total': total}\n"
        "summary['label'] = name.upper()\n"
        "counter = 10\n"
        "counter += 1\n"
        "due = (datetime(2026, 3, 2, 9, 0) + timedelta(hours=4)).isoformat()\n"
        "result = 'ok'"
    ))
    instance_id, tasks, has_incident = start(pe, db, "sandbox_script", {"amounts": [5, 2, 9], "name": "fiber"})
    assert not has_incident
    assert [node for _, node in tasks] == ["look"]
    with db.sessions() as s:
        assert open_incidents(s, instance_id) == []
        data = spiff_data(pe, s, instance_id, "look")
    assert data["total"] == 16 and data["ordered"] == [2, 5, 9] and data["extremes"] == [2, 9]
    assert data["count"] == 3 and data["doubled"] == [10, 4, 18]
    assert data["summary"] == {"total": 16, "label": "FIBER"}
    assert data["counter"] == 11
    assert data["due"] == "2026-03-02T13:00:00"
    assert data["result"] == "ok"
    assert not any(key.startswith("_") for key in data)
    [(look_id, _)] = tasks
    with db.sessions.begin() as s:
        assert pe.tasks.complete(s, look_id, user(s, pe, "alice"), {}) == []
    with db.sessions() as s:
        assert s.get(ProcessInstance, instance_id).status == "completed"


def test_script_may_keep_dates_in_the_data(pe, db, deploy):
    deploy("sandbox_dates.bpmn", with_script("due = datetime(2026, 3, 2, 9, 0) + timedelta(hours=4)"))
    instance_id, tasks, has_incident = start(pe, db, "sandbox_script", {})
    assert not has_incident and [node for _, node in tasks] == ["look"]
    with db.sessions() as s:
        due = spiff_data(pe, s, instance_id, "look")["due"]
    assert due.isoformat().startswith("2026-03-02T13:00")


@pytest.mark.parametrize("amount, node", [(150, "big"), (100, "small"), (5, "small")])
def test_ordinary_condition_routes(pe, db, deploy, amount, node):
    deploy(CONDITION_FILE)
    _, tasks, has_incident = start(pe, db, "sandbox_condition", {"amount": amount})
    assert not has_incident
    assert [n for _, n in tasks] == [node]


# -- a script changing nested values in place does not rewrite what an earlier task recorded --------------
def test_in_place_changes_do_not_rewrite_earlier_task_data(pe, db, deploy):
    deploy("runtime/nested_data.bpmn")
    instance_id, tasks, _ = start(pe, db, "nested_data", {"info": {"count": 1, "tags": ["a"]}})
    [(fill_id, node)] = tasks
    assert node == "fill"
    with db.sessions.begin() as s:
        created = pe.tasks.complete(s, fill_id, user(s, pe, "alice"), {"form": {"ok": True, "lines": [1, 2]}})
        assert [t.node_id for t in created] == ["look"]
    with db.sessions() as s:
        assert open_incidents(s, instance_id) == []
        assert s.get(HumanTask, fill_id).data == {"form": {"ok": True, "lines": [1, 2]}}
        fill = spiff_data(pe, s, instance_id, "fill")
        look = spiff_data(pe, s, instance_id, "look")
        start_data = spiff_data(pe, s, instance_id, "start")
    assert look["info"] == {"count": 2, "tags": ["a", "scripted"]}
    assert look["form"] == {"ok": True, "lines": [1, 2, 3], "seen": True}
    # the user task's recorded data is what the user submitted, the start data what the instance began with
    assert fill["form"] == {"ok": True, "lines": [1, 2]}
    assert fill["info"] == {"count": 1, "tags": ["a"]}
    assert start_data["info"] == {"count": 1, "tags": ["a"]}
