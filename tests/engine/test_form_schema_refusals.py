"""Form deploy refuses, naming the field, what the form-js viewer would check in the browser and the server could
not (engine/forms/schema.py ``schema_problems``): FEEL expressions in ``validate``, validation types the server
does not know, options from data or expressions, a group with a path, a list that does not repeat. Conditions stay
allowed: a field shown under a condition, its own or its group's, is never required by the server."""

from __future__ import annotations

import json
from typing import Any

import pytest

from engine.errors import BpmnValidationError
from engine.forms.schema import VALIDATION_TYPES, fields, schema_problems
from engine.forms.service import parse_form
from engine.forms.validation import FormInvalid, Problem, validate_submission
from tests.conftest import PROCESSES_DIR


def schema(*components: dict[str, Any]) -> dict[str, Any]:
    return {"type": "default", "components": list(components)}


def field(kind: str, key: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "key": key, "label": key, **extra}


def options(*values: Any) -> list[dict[str, Any]]:
    return [{"value": v, "label": str(v)} for v in values]


def only_problem(*components: dict[str, Any]) -> str:
    (problem,) = schema_problems(schema(*components))
    return problem


def test_the_forms_of_the_processes_are_all_usable():
    for path in sorted((PROCESSES_DIR / "forms").glob("*.json")):
        assert schema_problems(json.loads(path.read_text(encoding="utf-8"))) == [], path.name


@pytest.mark.parametrize("rule", ["required", "min", "max", "minLength", "maxLength", "pattern"])
def test_an_expression_in_a_validation_rule_is_refused_naming_the_field(rule: str):
    kind = "number" if rule in ("min", "max") else "textfield"
    problem = only_problem(field(kind, "amount", validate={rule: "=limit * 2"}))
    assert problem == (f"field 'amount': validate.{rule} is an expression ('=limit * 2'); the server cannot "
                       "evaluate expressions, use a fixed value")
    # with a fixed value the same rule is fine (and the deploy accepts it)
    fixed = {"required": True, "min": 1, "max": 9.5, "minLength": 2, "maxLength": 10, "pattern": "^[0-9]+$"}[rule]
    assert schema_problems(schema(field(kind, "amount", validate={rule: fixed}))) == []


def test_an_expression_inside_a_dynamic_list_names_the_list_too():
    circuits = {"type": "dynamiclist", "path": "circuits", "isRepeating": True,
                "components": [field("number", "vlan", validate={"max": "=max_vlan"})]}
    assert only_problem(circuits).startswith("circuits.field 'vlan': validate.max is an expression")


def test_limits_must_be_numbers_the_server_can_compare():
    assert only_problem(field("number", "n", validate={"min": "5"})) == (
        "field 'n': validate.min must be a number, not '5'")
    assert only_problem(field("number", "n", validate={"max": True})) == (
        "field 'n': validate.max must be a number, not True")
    assert only_problem(field("textfield", "t", validate={"minLength": 1.5})) == (
        "field 't': validate.minLength must be a whole number of characters, not 1.5")
    assert only_problem(field("textfield", "t", validate={"maxLength": -1})) == (
        "field 't': validate.maxLength must be a whole number of characters, not -1")
    assert only_problem(field("textfield", "t", validate={"required": "yes"})) == (
        "field 't': validate.required must be true or false, not 'yes'")
    assert only_problem(field("textfield", "t", validate=["required"])) == "field 't': 'validate' must be an object"
    assert only_problem(field("textfield", "t", validate={"pattern": 7})) == "field 't': pattern 7 must be text"


def test_validation_types_are_the_ones_the_server_checks():
    for kind in (*VALIDATION_TYPES, "", None):
        assert schema_problems(schema(field("textfield", "contact", validate={"validationType": kind}))) == []
    for kind in ("url", "custom", "number"):
        assert only_problem(field("textfield", "contact", validate={"validationType": kind})) == (
            f"field 'contact': validate.validationType {kind!r} cannot be checked by the server (it checks "
            "email, phone)")


@pytest.mark.parametrize("kind", VALIDATION_TYPES)
def test_every_accepted_validation_type_is_checked_by_the_server(kind: str):
    """Keeps schema.VALIDATION_TYPES in step with validation.py: each one refuses a value that is not one."""
    form = schema(field("textfield", "contact", validate={"validationType": kind}))
    with pytest.raises(FormInvalid) as caught:
        validate_submission("f", form, {"contact": "no such thing"})
    assert caught.value.problems == {"contact": Problem(kind)}


@pytest.mark.parametrize("source", ["valuesKey", "valuesExpression"])
@pytest.mark.parametrize("kind", ["select", "radio", "checklist", "taglist"])
def test_options_the_server_cannot_check_a_choice_against_are_refused(kind: str, source: str):
    value = "regions" if source == "valuesKey" else "=regions"
    assert only_problem(field(kind, "region", **{source: value})) == (
        f"field 'region': options come from {source} ({value!r}), which the server cannot check a choice "
        "against; list the options under 'values'")
    # form-js takes a 'values' list first, as the server does: then the other source is never used
    assert schema_problems(schema(field(kind, "region", values=options("GZ"), **{source: value}))) == []


def test_options_must_be_a_list_with_values():
    assert only_problem(field("select", "region", values={"GZ": "广州"})) == (
        "field 'region': 'values' must be a list of options, each with a 'value'")
    assert only_problem(field("radio", "region", values=[{"label": "广州"}])) == (
        "field 'region': 'values' must be a list of options, each with a 'value'")


def test_a_group_with_a_path_and_a_list_that_does_not_repeat_are_refused():
    group = {"type": "group", "label": "现场", "path": "site", "components": [field("textfield", "code")]}
    assert only_problem(group) == ("group '现场' has a path ('site'): the server does not read fields saved under "
                                   "a group's path; remove the path")
    flat = {"type": "dynamiclist", "path": "rows", "isRepeating": False, "components": [field("textfield", "a")]}
    assert only_problem(flat) == ("field 'rows': a dynamic list must repeat (isRepeating: true); the server reads a "
                                  "list of rows")
    # a group without a path, and a list that repeats (or does not say), are fine
    assert schema_problems(schema({**group, "path": ""}, {**flat, "isRepeating": True})) == []
    assert schema_problems(schema({k: v for k, v in flat.items() if k != "isRepeating"})) == []


def test_the_deploy_names_the_file_and_every_refused_field():
    form = schema(field("number", "a", validate={"min": "=x"}),
                  field("select", "b", valuesKey="bs"),
                  field("textfield", "c", validate={"validationType": "url"}))
    with pytest.raises(BpmnValidationError) as caught:
        parse_form(json.dumps(form).encode(), "bad.json")
    issues = caught.value.issues
    assert [(i.file, i.rule) for i in issues] == [("bad.json", "form-invalid")] * 3
    assert [i.message.split(":")[0] for i in issues] == ["field 'a'", "field 'b'", "field 'c'"]


# -- conditions stay allowed ---------------------------------------------------------------------------------
HIDE = {"hide": '=result != "reject"'}


def test_conditions_are_allowed_and_a_hidden_field_is_not_required():
    form = schema(field("radio", "result", values=options("pass", "reject"), validate={"required": True}),
                  field("textarea", "reason", conditional=HIDE, validate={"required": True, "maxLength": 5}),
                  {"type": "group", "label": "驳回详情", "conditional": HIDE, "components": [
                      field("textfield", "ticket", validate={"required": True}),
                      {"type": "group", "components": [field("checkbox", "notify", validate={"required": True})]}]},
                  field("textfield", "always", validate={"required": True}))
    assert schema_problems(form) == []
    required = {f.key: f.required for f in fields(form["components"])}
    assert required == {"result": True, "reason": False, "ticket": False, "notify": False, "always": True}
    # what the viewer sends when it hides them: nothing for them; the server asks for none of them
    assert validate_submission("f", form, {"result": "pass", "always": "x"}) == {
        "result": "pass", "reason": None, "ticket": None, "notify": False, "always": "x"}
    # filled in, their other rules still hold
    with pytest.raises(FormInvalid) as caught:
        validate_submission("f", form, {"result": "reject", "reason": "太长的原因说明", "always": "x"})
    assert caught.value.problems == {"reason": Problem("max_length", (("n", 5),))}
