"""The wheel ships the application (engine, handlers, webapp, eoms, migrations and their data files), not bench/,
tools/ or tests/. Built offline from a copy of the checkout with the venv's setuptools."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ("engine", "handlers", "webapp", "eoms", "migrations")
NOT_SHIPPED = ("bench", "tools", "tests")
JUNK = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo")


def build_tools_missing() -> str | None:
    """Why this venv cannot build the wheel offline, or None."""
    import setuptools

    try:
        version = tuple(int(part) for part in setuptools.__version__.split(".")[:2])
    except ValueError:
        return None
    if version >= (70, 1) or (version >= (68, 0) and importlib.util.find_spec("wheel")):
        return None
    return f"setuptools {setuptools.__version__} cannot build a wheel here: pip install -e '.[dev]' brings a newer one"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[str]]:
    """(the copied source tree, the names in the wheel built from it)."""
    reason = build_tools_missing()
    if reason:
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("wheel")
    src, out = base / "src", base / "dist"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    for package in (*SHIPPED, *NOT_SHIPPED):
        if (ROOT / package).is_dir():
            shutil.copytree(ROOT / package, src / package, ignore=JUNK)
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                           "-q", "-w", str(out), str(src)], capture_output=True, text=True, timeout=300, env=env,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    built = sorted(out.glob("eoms-*.whl"))
    assert len(built) == 1, built
    with zipfile.ZipFile(built[0]) as archive:
        return src, set(archive.namelist())


def test_wheel_holds_the_application_packages_only(wheel: tuple[Path, set[str]]) -> None:
    _, names = wheel
    tops = {name.split("/")[0] for name in names}
    dist_info = {top for top in tops if top.endswith(".dist-info")}
    assert len(dist_info) == 1
    assert tops - dist_info == set(SHIPPED)
    assert not [name for name in names if name.split("/")[0] in NOT_SHIPPED]


def test_every_file_of_the_shipped_packages_is_in_the_wheel(wheel: tuple[Path, set[str]]) -> None:
    src, names = wheel
    files = {path.relative_to(src).as_posix() for package in SHIPPED for path in (src / package).rglob("*")
             if path.is_file()}
    missing = sorted(files - names)
    assert not missing, f"not in the wheel: {missing}"


def test_templates_static_translations_and_migrations_are_there(wheel: tuple[Path, set[str]]) -> None:
    src, names = wheel
    for name in ("webapp/templates/base.html", "webapp/static/eoms.css", "webapp/static/eoms.js",
                 "webapp/translations/en/LC_MESSAGES/messages.po", "migrations/env.py", "migrations/script.py.mako"):
        assert name in names
    blueprints = {path.relative_to(src).parts[1] for path in (src / "webapp").glob("*/templates/**/*.html")}
    assert blueprints, "no blueprint templates in the source"
    for blueprint in blueprints:
        assert any(n.startswith(f"webapp/{blueprint}/templates/") and n.endswith(".html") for n in names), blueprint
    assert [n for n in names if n.startswith("migrations/versions/") and n.endswith(".py")]


def test_wheel_declares_the_eoms_command(wheel: tuple[Path, set[str]]) -> None:
    src, names = wheel
    built = next((src.parent / "dist").glob("eoms-*.whl"))
    with zipfile.ZipFile(built) as archive:
        entry_points = archive.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    assert "eoms = eoms.cli:main" in entry_points
