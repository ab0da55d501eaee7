"""``eoms bench`` loads bench/ only when it runs, and says so clearly where bench/ is not there."""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from eoms.cli import bench as bench_cli
from eoms.cli import main

ROOT = Path(__file__).resolve().parent.parent


class NoBench:
    """A meta path finder for which bench/ does not exist (an installed wheel outside a checkout)."""

    @staticmethod
    def find_spec(name: str, path: object = None, target: object = None) -> None:
        if name == "bench" or name.startswith("bench."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


@pytest.fixture
def fresh_bench(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """bench modules forgotten and sys.path restored afterwards."""
    for name in [m for m in sys.modules if m == "bench" or m.startswith("bench.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield
    for name in [m for m in sys.modules if m == "bench" or m.startswith("bench.")]:
        del sys.modules[name]
    importlib.invalidate_caches()


def write_bench(root: Path, engine_bench: str) -> None:
    (root / "bench").mkdir()
    (root / "bench" / "__init__.py").write_text("", encoding="utf-8")
    (root / "bench" / "engine_bench.py").write_text(engine_bench, encoding="utf-8")
    importlib.invalidate_caches()


def test_the_application_does_not_import_bench(tmp_path: Path) -> None:
    code = ("import sys, eoms.cli, webapp, handlers, engine.core\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'bench'))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


@pytest.mark.usefixtures("fresh_bench")
def test_without_bench_the_command_fails_with_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(bench_cli, "SOURCE_ROOT", tmp_path)  # site-packages of a wheel: no bench/ beside eoms/
    monkeypatch.setattr(sys, "meta_path", [NoBench(), *sys.meta_path])
    assert main(["bench", "--instances", "1"]) != 0
    err = capsys.readouterr().err.strip()
    assert err.startswith("Error: eoms bench runs from a source checkout: bench.engine_bench is not importable")
    assert "\n" not in err and "Traceback" not in err


@pytest.mark.usefixtures("fresh_bench")
def test_bench_is_found_in_the_checkout_even_when_not_on_sys_path(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    write_bench(tmp_path, "def run_fault_bench(instances, database_url):\n    return {'scenario': 'stub'}\n")
    monkeypatch.setattr(bench_cli, "SOURCE_ROOT", tmp_path)
    run = bench_cli.load_scenario("fault")
    assert run(1, None) == {"scenario": "stub"}
    assert isinstance(sys.modules["bench"], ModuleType)
    assert Path(sys.modules["bench"].__file__ or "").parent == tmp_path / "bench"


@pytest.mark.usefixtures("fresh_bench")
def test_a_module_missing_inside_a_benchmark_is_not_blamed_on_the_install(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    write_bench(tmp_path, "import no_such_module_for_eoms_bench\n")
    monkeypatch.setattr(bench_cli, "SOURCE_ROOT", tmp_path)
    with pytest.raises(ModuleNotFoundError) as err:
        bench_cli.load_scenario("fault")
    assert err.value.name == "no_such_module_for_eoms_bench"


def test_the_checkout_is_where_bench_lives() -> None:
    assert bench_cli.SOURCE_ROOT == ROOT
    assert (bench_cli.SOURCE_ROOT / "bench" / "__init__.py").is_file()
