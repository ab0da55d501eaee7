"""Scripts and expressions from diagrams run under RestrictedPython; service tasks call registered handlers.

SpiffWorkflow evaluates script tasks, gateway conditions, timer expressions and service parameters through a
script engine. Ours compiles every source with RestrictedPython (no imports, no ``open``, no dunder or
``_private`` attribute access, so the ``().__class__.__subclasses__()`` escape is refused at compile time) and
turns every failure into a clear :class:`ScriptError` or :class:`HandlerError` instead of the library's
misleading ``NameError``.
"""

from __future__ import annotations

import ast
import copy
import json
import math
import operator
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from RestrictedPython import compile_restricted, limited_builtins, safe_builtins
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
)
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

from engine.errors import BusinessError, HandlerError, ScriptError

FORBIDDEN_NAMES = frozenset(
    {"open", "eval", "exec", "compile", "__import__", "globals", "locals", "vars", "input", "exit", "quit",
     "breakpoint", "memoryview", "getattr", "type", "object", "help", "dir"}
)

_INPLACE = {
    "+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv,
    "//=": operator.ifloordiv, "%=": operator.imod, "**=": operator.ipow, "|=": operator.ior,
    "&=": operator.iand, "^=": operator.ixor,
}


def _inplacevar(op: str, target: Any, value: Any) -> Any:
    if op not in _INPLACE:
        raise ScriptError(f"operator '{op}' is not allowed in scripts")
    return _INPLACE[op](target, value)


def _getitem(obj: Any, key: Any) -> Any:
    return obj[key]


def _sandbox_builtins() -> dict[str, Any]:
    names = dict(safe_builtins)
    names.update(limited_builtins)
    for unsafe in ("setattr", "delattr", "__build_class__", "id"):
        names.pop(unsafe, None)
    for fn in (dict, list, set, frozenset, sum, min, max, sorted, reversed, enumerate, zip, any, all, map,
               filter, isinstance):
        names[fn.__name__] = fn
    return names


def sandbox_globals() -> dict[str, Any]:
    """The globals every restricted script and expression sees (guards, safe builtins, a few helpers)."""
    return {
        "__builtins__": _sandbox_builtins(),
        "_getattr_": safer_getattr,
        "_getitem_": _getitem,
        "_getiter_": iter,
        "_write_": full_write_guard,
        "_inplacevar_": _inplacevar,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_unpack_sequence,
        "math": math,
        "datetime": datetime,
        "date": date,
        "timedelta": timedelta,
    }


@lru_cache(maxsize=4096)
def compile_sandboxed(source: str, mode: str) -> Any:
    """Compile ``source`` (``exec`` or ``eval`` mode) under RestrictedPython, or raise :class:`ScriptError`."""
    what = "expression" if mode == "eval" else "script"
    if not source.strip():
        raise ScriptError(f"{what} is empty")
    try:
        return compile_restricted(source, filename="<bpmn script>", mode=mode)
    except SyntaxError as err:
        reasons = err.msg if isinstance(err.msg, list | tuple) else [err.msg or str(err)]
        raise ScriptError(f"{what} refused: " + "; ".join(str(r) for r in reasons)) from None


def check_source(source: str, mode: str) -> str | None:
    """The compile error of ``source`` as text, or None when it compiles under the sandbox rules."""
    try:
        compile_sandboxed(source, mode)
    except ScriptError as err:
        return str(err)
    return _refused_at_run_time(source, mode)


def _refused_at_run_time(source: str, mode: str) -> str | None:
    """What compiles but the sandbox would stop when it runs: an import, or a call of a forbidden builtin (a
    data value is never callable, so such a call always fails). Deploy refuses these too."""
    what = "expression" if mode == "eval" else "script"
    for node in ast.walk(ast.parse(source, mode=mode)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            return f"{what} refused: import is not allowed in scripts (line {node.lineno})"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_NAMES:
            return f"{what} refused: '{node.func.id}' is not allowed in scripts (line {node.lineno})"
    return None


def _explain(err: BaseException) -> str:
    """A one-line explanation of a script failure, naming forbidden operations plainly."""
    if isinstance(err, NameError):
        name = getattr(err, "name", None)
        if name in FORBIDDEN_NAMES:
            return f"'{name}' is not allowed in scripts"
    if isinstance(err, ImportError) and "__import__" in str(err):
        return "import is not allowed in scripts"
    if isinstance(err, AttributeError) and "_" in str(err):
        return f"attribute access refused: {err}"
    return f"{type(err).__name__}: {err}"


class SandboxEnvironment(TaskDataEnvironment):
    """Runs scripts with task data as globals, compiled by RestrictedPython; errors become ScriptError."""

    def __init__(self) -> None:
        super().__init__(sandbox_globals())

    def evaluate(self, expression: str, context: dict[str, Any], external_context: Any = None) -> Any:
        code = compile_sandboxed(expression, "eval")
        my_globals = dict(self.globals)
        my_globals.update(external_context or {})
        my_globals.update(context)
        try:
            return eval(code, my_globals)
        except ScriptError:
            raise
        except Exception as err:
            raise ScriptError(f"expression '{expression}' failed: {_explain(err)}") from err

    def execute(self, script: str, context: dict[str, Any], external_context: Any = None) -> bool:
        code = compile_sandboxed(script, "exec")
        self.check_for_overwrite(context, external_context or {})
        context.update(self.globals)
        context.update(external_context or {})
        try:
            exec(code, context)
        except ScriptError:
            raise
        except Exception as err:
            raise ScriptError(f"script failed: {_explain(err)}") from err
        finally:
            self._remove_globals_and_functions_from_context(context, external_context)
        return True


class EomsScriptEngine(PythonScriptEngine):
    """Script engine for one engine operation: sandboxed scripts, handler calls through ``call_handler``.

    ``call_handler(task, name, params)`` returns the handler's result (any JSON-serializable value).
    """

    def __init__(self, call_handler: Callable[[Any, str, dict[str, Any]], Any]):
        super().__init__(environment=SandboxEnvironment())
        self._call_handler = call_handler

    def evaluate(self, task: Any, expression: str, external_context: Any = None) -> Any:
        try:
            return self.environment.evaluate(expression, task.data, external_context)
        except ScriptError as err:
            raise WorkflowTaskException(str(err), task=task, exception=err) from err

    def execute(self, task: Any, script: str, external_context: Any = None) -> bool:
        # Deep-copy first: in-place edits of nested values must not rewrite data of finished tasks.
        task.data = copy.deepcopy(task.data)
        try:
            return self.environment.execute(script, task.data, external_context)
        except ScriptError as err:
            raise WorkflowTaskException(str(err), task=task, exception=err) from err

    def call_service(self, task: Any, operation_name: str = "", operation_params: Any = None, **_: Any) -> str:
        params = {name: spec.get("value") for name, spec in (operation_params or {}).items()}
        try:
            result = self._call_handler(task, operation_name, params)
            return json.dumps(result, ensure_ascii=False, default=str)
        except HandlerError as err:
            raise WorkflowTaskException(str(err), task=task, exception=err) from err
        except BusinessError:
            raise  # a BPMN error the handler throws on purpose: the task's error boundary event may catch it
        except Exception as err:
            wrapped = HandlerError(operation_name, f"{type(err).__name__}: {err}")
            raise WorkflowTaskException(str(wrapped), task=task, exception=wrapped) from wrapped
