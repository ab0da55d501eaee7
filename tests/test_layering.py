"""The layering contract, checked on the source with ``ast`` (no import-linter needed).

The contract is the data at the top of this file. Every import counts: inside functions, inside
``if TYPE_CHECKING:``, relative ones, and ``importlib.import_module("…")`` / ``__import__("…")`` with a literal
name. A failure names the file, the line and the import.
"""

from __future__ import annotations

import ast
import itertools
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# ── The contract ────────────────────────────────────────────────────────────────────────────────────────────────
# A name matches itself and everything below it: "eoms.settings" also matches "eoms.settings.x".

FIRST_PARTY = ("engine", "handlers", "webapp", "eoms", "migrations", "bench", "tools", "tests")
FLASK = ("flask", "flask_babel", "flask_login", "flask_wtf")
WEB_STACK = (*FLASK, "werkzeug", "jinja2", "wtforms")

# 1. Top-level packages. Every first-party import must match "may import"; no third-party one may match "never".
PACKAGES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # package     may import (first party)                                          never imports (third party)
    "webapp":   (("webapp", "engine", "handlers", "eoms.settings", "eoms.wiring"), ()),
    "handlers": (("handlers", "engine"),                                            FLASK),
    "engine":   (("engine",),                                                       WEB_STACK),
    "eoms":     (("eoms", "engine", "handlers", "webapp", "migrations"),            ()),
}
# The only first-party imports outside that table: (file, package, how).
EXCEPTIONS = {
    ("eoms/cli/bench.py", "bench", "dynamic"),  # `eoms bench` loads bench/ by name when it is run
}

# 2. handlers → engine: the public API only. Public: no module or name that starts with "_". Then the import must
#    not match an internal module, and must match a row of the API ("*": any public name of that module).
HANDLERS_ENGINE_INTERNAL = ("engine.runtime.executor", "engine.spiff")
HANDLERS_ENGINE_API: dict[str, tuple[str, ...]] = {
    # module pattern       names handlers may import
    "engine.errors":       ("*",),                              # the exception hierarchy
    "engine.enums":        ("*",),                              # shared vocabularies (statuses, kinds)
    "engine.registry":     ("*",),                              # the handler contract: contexts and the registry
    "engine.db":           ("Base", "UTCDateTime", "utcnow"),   # for the handlers' own tables
    "engine.core":         ("ProcessEngine",),                  # the entry point, nothing else from core
    "engine.sla.notices":  ("NOTICE_EVENTS", "Notice"),         # what deadline and urge listeners receive
    "engine.models":       ("*",),                              # the shared schema …
    "engine.*.models":     ("*",),                              # … table by table
    "engine.*.service":    ("*",),                              # the services ProcessEngine wires
}

# 3. Inside engine/: layers from the top; a module may import its own layer and the layers below it, never one
#    above. A layer is a module or a package alike (engine/context.py or engine/context/); a listed layer that does
#    not exist is no error. `if TYPE_CHECKING:` imports count.
ENGINE_LAYERS: tuple[tuple[str, ...], ...] = (
    ("worker",),
    ("core",),
    ("management",),
    ("tasks",),
    ("runtime",),
    ("context",),
    ("jobs",),
    ("repository",),
    ("attachments",),
    ("forms",),
    ("registry",),
    ("sla",),
    ("audit",),
    ("history",),
    ("identity",),
    ("spiff",),
    ("errors", "db", "enums", "migrate", "models", "paging"),  # base (engine/__init__.py too)
)
# Tables are the shared schema: any engine module may import any models module (engine.models, which imports every
# table, included); a models module itself may import only these, other models modules and the standard library.
MODELS_MAY_IMPORT = ("engine.db", "engine.errors", "sqlalchemy")

# ── The checker ─────────────────────────────────────────────────────────────────────────────────────────────────

LAYER_RANK = {name: rank for rank, layer in enumerate(ENGINE_LAYERS) for name in layer}
BASE_RANK = len(ENGINE_LAYERS) - 1


@dataclass(frozen=True)
class Import:
    """One import in one file: ``from module import name`` (name None: the whole module)."""

    path: str  # relative to the scanned root, with "/"
    line: int
    module: str
    name: str | None = None
    dynamic: bool = False  # importlib.import_module("…") or __import__("…")

    def __str__(self) -> str:
        if self.dynamic:
            statement = f'importlib.import_module("{self.module}")'
        elif self.name is None:
            statement = f"import {self.module}"
        else:
            statement = f"from {self.module} import {self.name}"
        return f"{self.path}:{self.line}: {statement}"


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def python_files(root: Path, packages: Iterable[str] = PACKAGES) -> list[Path]:
    return sorted(f for package in packages for f in (root / package).rglob("*.py") if "__pycache__" not in f.parts)


def _dynamic_target(node: ast.Call) -> str | None:
    func = node.func
    called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    if called not in ("import_module", "__import__") or not node.args:
        return None
    first = node.args[0]
    if isinstance(first, ast.Constant) and isinstance(first.value, str) and not first.value.startswith("."):
        return first.value
    return None


def imports_of(path: Path, root: Path, known: set[str]) -> list[Import]:
    """Every import in one file; ``from a import b`` is module ``a.b`` when ``a.b`` is a module under root."""
    rel = path.relative_to(root).as_posix()
    this = module_name(path, root)
    package = this.split(".") if path.name == "__init__.py" else this.split(".")[:-1]
    found: list[Import] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=rel)):
        if isinstance(node, ast.Import):
            found.extend(Import(rel, node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                found.append(Import(rel, node.lineno, sub) if sub in known else Import(rel, node.lineno, module,
                                                                                           alias.name))
        elif isinstance(node, ast.Call) and (target := _dynamic_target(node)):
            found.append(Import(rel, node.lineno, target, dynamic=True))
    return sorted(found, key=lambda imp: imp.line)


def scan(root: Path, packages: Iterable[str] = PACKAGES) -> list[Import]:
    files = python_files(root, packages)
    known = {module_name(f, root) for f in files}
    return [imp for f in files for imp in imports_of(f, root, known)]


def matches(module: str, prefixes: Iterable[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def package_violations(imports: Iterable[Import]) -> list[str]:
    """Rule 1: each top-level package imports only what the PACKAGES table allows."""
    found = []
    for imp in imports:
        source, top = imp.path.split("/")[0], imp.module.split(".")[0]
        if source not in PACKAGES:
            continue
        allowed, never = PACKAGES[source]
        if top in FIRST_PARTY:
            how = "dynamic" if imp.dynamic else "static"
            if not matches(imp.module, allowed) and (imp.path, top, how) not in EXCEPTIONS:
                found.append(f"{imp} — {source}/ may import only {', '.join(allowed)} (first party)")
        elif matches(imp.module, never):
            found.append(f"{imp} — {source}/ never imports {top}")
    return found


def handlers_api_violations(imports: Iterable[Import]) -> list[str]:
    """Rule 2: handlers/ imports only the engine's public API, as the HANDLERS_ENGINE_API table lists it."""
    found = []
    for imp in imports:
        if not imp.path.startswith("handlers/") or not matches(imp.module, ("engine",)):
            continue
        names = next((n for pattern, n in HANDLERS_ENGINE_API.items() if fnmatchcase(imp.module, pattern)), None)
        if any(part.startswith("_") for part in imp.module.split(".")) or (imp.name or "").startswith("_"):
            found.append(f"{imp} — private to the engine")
        elif matches(imp.module, HANDLERS_ENGINE_INTERNAL):
            found.append(f"{imp} — engine internals")
        elif names is None:
            found.append(f"{imp} — {imp.module} is not in the handlers' engine API")
        elif names != ("*",) and imp.name not in names:
            found.append(f"{imp} — from {imp.module} handlers may import only {', '.join(names)}")
    return found


def engine_layer(module: str) -> str | None:
    """The layer of an engine module: its sub-package or top module (``""`` for the root ``engine``)."""
    parts = module.split(".")
    return None if parts[0] != "engine" else parts[1] if len(parts) > 1 else ""


def is_models(module: str) -> bool:
    return engine_layer(module) is not None and "models" in module.split(".")[1:]


def rank(layer: str) -> int | None:
    return BASE_RANK if layer == "" else LAYER_RANK.get(layer)


def engine_dag_violations(imports: Iterable[Import], root: Path) -> list[str]:
    """Rule 3: engine modules import their own layer or lower ones (models modules: the schema only)."""
    found = []
    for imp in imports:
        if not imp.path.startswith("engine/"):
            continue
        source = module_name(root / imp.path, root)
        src_layer, dst_layer = engine_layer(source), engine_layer(imp.module)
        if is_models(source):
            top = imp.module.split(".")[0]
            if not (is_models(imp.module) or matches(imp.module, MODELS_MAY_IMPORT) or top in sys.stdlib_module_names):
                found.append(f"{imp} — a models module imports only {', '.join(MODELS_MAY_IMPORT)}, other models "
                             "modules and the standard library")
            continue
        if dst_layer is None or dst_layer == src_layer or is_models(imp.module):
            continue
        src_rank, dst_rank = rank(src_layer or ""), rank(dst_layer)
        if src_rank is not None and dst_rank is not None and dst_rank < src_rank:
            found.append(f"{imp} — {src_layer or 'engine'} is below {dst_layer} in ENGINE_LAYERS")
    return found


def unlisted_engine_modules(root: Path) -> list[str]:
    """Engine modules whose layer is not in ENGINE_LAYERS (the contract must place every one)."""
    return [f"{f.relative_to(root).as_posix()}: layer '{layer}' is not in ENGINE_LAYERS"
            for f in python_files(root, ["engine"])
            if (layer := engine_layer(module_name(f, root))) and layer not in LAYER_RANK]


def engine_cycles(imports: Iterable[Import], root: Path) -> list[str]:
    """Import cycles between engine modules, one shortest chain per strongly connected group."""
    modules = {module_name(f, root) for f in python_files(root, ["engine"])}
    edges: dict[str, dict[str, Import]] = {m: {} for m in modules}
    for imp in imports:
        source = module_name(root / imp.path, root)
        if source in edges and imp.module in modules and imp.module != source:
            edges[source].setdefault(imp.module, imp)
    found = []
    for group in _strongly_connected(edges):
        if len(group) < 2:
            continue
        start = min(group)
        chain = _shortest_cycle(start, edges, group)
        links = "; ".join(str(edges[a][b]) for a, b in itertools.pairwise(chain))
        found.append(f"{' → '.join(chain)} ({links})")
    return found


def _strongly_connected(edges: dict[str, dict[str, Import]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative (deep module graphs do not hit the recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                groups.append(group)
    return groups


def _shortest_cycle(start: str, edges: dict[str, dict[str, Import]], group: set[str]) -> list[str]:
    """Breadth-first from start back to start, inside one strongly connected group."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(edges[node]):
                if child == start:
                    chain = [node]
                    while chain[-1] != start:
                        chain.append(previous[chain[-1]])
                    return [*reversed(chain), start]
                if child in group and child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    raise AssertionError(f"{start} is in no cycle")


def report(title: str, lines: list[str]) -> str:
    return f"{title} ({len(lines)}):\n  " + "\n  ".join(lines)


# ── The contract on this repository ─────────────────────────────────────────────────────────────────────────────


@pytest.fixture(scope="module")
def repo_imports() -> list[Import]:
    for package in PACKAGES:
        assert python_files(ROOT, [package]), f"no Python files under {package}/"
    return scan(ROOT)


def test_top_level_packages_import_only_what_the_table_allows(repo_imports: list[Import]) -> None:
    found = package_violations(repo_imports)
    assert not found, report("imports across the top-level layers", found)


def test_handlers_use_only_the_engine_public_api(repo_imports: list[Import]) -> None:
    found = handlers_api_violations(repo_imports)
    assert not found, report("handlers/ imports outside the engine's public API", found)


def test_engine_layers_form_a_dag(repo_imports: list[Import]) -> None:
    found = engine_dag_violations(repo_imports, ROOT)
    assert not found, report("engine/ imports against ENGINE_LAYERS", found)


def test_every_engine_module_has_a_layer() -> None:
    found = unlisted_engine_modules(ROOT)
    assert not found, report("engine modules outside the contract", found)


def test_engine_has_no_import_cycles(repo_imports: list[Import]) -> None:
    found = engine_cycles(repo_imports, ROOT)
    assert not found, report("import cycles in engine/", found)


# ── The checker fails on wrong imports (small trees in tmp_path) ────────────────────────────────────────────────


def tree(root: Path, files: dict[str, str]) -> Path:
    """Write files (and the __init__.py of every package above them) under root."""
    for rel, text in files.items():
        path = root / rel
        for parent in path.relative_to(root).parents:
            if parent != Path(".") and not (root / parent / "__init__.py").exists():
                (root / parent).mkdir(parents=True, exist_ok=True)
                (root / parent / "__init__.py").write_text("", encoding="utf-8")
        path.write_text(text, encoding="utf-8")
    return root


def check_all(root: Path) -> list[str]:
    imports = scan(root)
    return [*package_violations(imports), *handlers_api_violations(imports), *engine_dag_violations(imports, root),
            *unlisted_engine_modules(root), *engine_cycles(imports, root)]


def test_engine_import_upwards_is_reported_with_file_line_and_import(tmp_path: Path) -> None:
    tree(tmp_path, {"engine/sla/x.py": "import datetime\nfrom engine.tasks.service import TaskService\n",
                    "engine/tasks/service.py": "TaskService = None\n"})
    assert check_all(tmp_path) == [
        "engine/sla/x.py:2: from engine.tasks.service import TaskService — sla is below tasks in ENGINE_LAYERS"]


def test_type_checking_relative_and_lazy_imports_count(tmp_path: Path) -> None:
    tree(tmp_path, {
        "engine/sla/x.py": ("from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n"
                            "    from engine.runtime.service import RuntimeService\n"
                            "from ..tasks import service\n\n\ndef later():\n    import engine.core\n"),
        "engine/tasks/service.py": "",
    })
    found = engine_dag_violations(scan(tmp_path), tmp_path)
    assert [line.split(" — ")[0] for line in found] == [
        "engine/sla/x.py:4: from engine.runtime.service import RuntimeService",
        "engine/sla/x.py:5: import engine.tasks.service",
        "engine/sla/x.py:9: import engine.core",
    ]


def test_lower_layers_own_layer_and_tables_are_allowed(tmp_path: Path) -> None:
    tree(tmp_path, {
        "engine/tasks/x.py": ("from engine.sla.service import SlaService\nfrom engine.tasks import y\n"
                              "from engine.errors import NotFound\nimport engine\n"),
        "engine/tasks/y.py": "",
        "engine/sla/service.py": "from engine.tasks.models import HumanTask\nfrom engine.models import metadata\n",
        "engine/tasks/models.py": ("from datetime import datetime\nfrom sqlalchemy import Column\n"
                                   "from engine.db import Base\nfrom engine.runtime.models import ProcessInstance\n"),
        "engine/runtime/models.py": "from engine.errors import EomsError\n",
        "engine/models.py": ("from engine.runtime.models import ProcessInstance\n"
                             "from engine.tasks.models import HumanTask\n"),
    })
    assert check_all(tmp_path) == []


def test_a_models_module_imports_only_the_schema(tmp_path: Path) -> None:
    tree(tmp_path, {"engine/sla/models.py": "from engine.sla.service import SlaService\nimport lxml\n",
                    "engine/sla/service.py": ""})
    found = engine_dag_violations(scan(tmp_path), tmp_path)
    assert [line.split(" — ")[0] for line in found] == [
        "engine/sla/models.py:1: from engine.sla.service import SlaService",
        "engine/sla/models.py:2: import lxml",
    ]


def test_layers_are_modules_or_packages_alike_and_may_be_missing(tmp_path: Path) -> None:
    module_tree = tree(tmp_path / "a", {"engine/context.py": "from engine.runtime.service import X\n"})
    package_tree = tree(tmp_path / "b", {"engine/context/__init__.py": "from engine.runtime.service import X\n",
                                         "engine/context/limits.py": "from engine.sla import service\n"})
    why = "from engine.runtime.service import X — context is below runtime in ENGINE_LAYERS"
    assert check_all(module_tree) == [f"engine/context.py:1: {why}"]
    assert check_all(package_tree) == [f"engine/context/__init__.py:1: {why}"]


def test_an_engine_module_outside_the_layers_is_reported(tmp_path: Path) -> None:
    tree(tmp_path, {"engine/helpers.py": "", "engine/db.py": ""})
    assert check_all(tmp_path) == ["engine/helpers.py: layer 'helpers' is not in ENGINE_LAYERS"]


def test_handlers_may_not_import_engine_internals(tmp_path: Path) -> None:
    tree(tmp_path, {
        "handlers/x.py": "\n".join([
            "from engine.spiff.stepping import run_steps",
            "from engine.runtime.executor import conflict_guard",
            "from engine.core import ProcessEngine",
            "from engine.core import EngineContext",
            "import engine.core",
            "from engine.tasks.service import TaskService",
            "from engine.tasks.service import _helper",
            "from engine.sla.scanner import SMS_JOB",
            "from engine.db import Base, make_engine",
            "from engine._private import x",
            "from engine.errors import *",
        ]) + "\n",
    })
    found = handlers_api_violations(scan(tmp_path))
    assert [line.split(" — ")[0] for line in found] == [
        "handlers/x.py:1: from engine.spiff.stepping import run_steps",
        "handlers/x.py:2: from engine.runtime.executor import conflict_guard",
        "handlers/x.py:4: from engine.core import EngineContext",
        "handlers/x.py:5: import engine.core",
        "handlers/x.py:7: from engine.tasks.service import _helper",
        "handlers/x.py:8: from engine.sla.scanner import SMS_JOB",
        "handlers/x.py:9: from engine.db import make_engine",
        "handlers/x.py:10: from engine._private import x",
    ]


def test_a_submodule_imported_by_name_is_resolved(tmp_path: Path) -> None:
    tree(tmp_path, {"handlers/x.py": "from engine.spiff import stepping\n", "engine/spiff/stepping.py": ""})
    assert [line.split(" — ")[0] for line in handlers_api_violations(scan(tmp_path))] == [
        "handlers/x.py:1: import engine.spiff.stepping"]


def test_top_level_rules(tmp_path: Path) -> None:
    tree(tmp_path, {
        "webapp/v.py": ("from eoms.cli import main\nfrom eoms.settings import Settings\nimport eoms.demo\n"
                        "from eoms import wiring\nimport importlib\nimportlib.import_module('bench.engine_bench')\n"),
        "eoms/cli/__init__.py": "from tests.conftest import pg_url\n",
        "eoms/wiring.py": "from webapp.factory import create_app\nimport flask\n",
        "eoms/cli/bench.py": ("import importlib\nimportlib.import_module('bench.engine_bench')\n"
                              "from bench.engine_bench import run_fault_bench\nfrom tools import flowgen\n"),
        "handlers/h.py": ("import flask_login\nfrom webapp import db\nfrom eoms.settings import Settings\n"
                          "import jinja2\n"),
        "engine/e.py": ("from werkzeug.utils import secure_filename\nimport jinja2\n"
                        "from handlers import build_registry\n"),
    })
    found = package_violations(scan(tmp_path))
    assert [line.split(" — ")[0] for line in found] == [
        "engine/e.py:1: from werkzeug.utils import secure_filename",
        "engine/e.py:2: import jinja2",
        "engine/e.py:3: from handlers import build_registry",
        "eoms/cli/__init__.py:1: from tests.conftest import pg_url",
        "eoms/cli/bench.py:3: from bench.engine_bench import run_fault_bench",
        "eoms/cli/bench.py:4: from tools import flowgen",
        "handlers/h.py:1: import flask_login",
        "handlers/h.py:2: from webapp import db",
        "handlers/h.py:3: from eoms.settings import Settings",
        "webapp/v.py:1: from eoms.cli import main",
        "webapp/v.py:3: import eoms.demo",
        'webapp/v.py:6: importlib.import_module("bench.engine_bench")',
    ]


def test_cycles_are_reported_with_the_chain(tmp_path: Path) -> None:
    tree(tmp_path, {
        "engine/tasks/a.py": "from engine.tasks import b\n",
        "engine/tasks/b.py": "\n\nfrom engine.tasks.c import x\n",
        "engine/tasks/c.py": "from engine.tasks.a import y\n",
        "engine/tasks/d.py": "from engine.tasks import a\n",
    })
    assert engine_cycles(scan(tmp_path), tmp_path) == [
        "engine.tasks.a → engine.tasks.b → engine.tasks.c → engine.tasks.a ("
        "engine/tasks/a.py:1: import engine.tasks.b; engine/tasks/b.py:3: from engine.tasks.c import x; "
        "engine/tasks/c.py:1: from engine.tasks.a import y)"]
