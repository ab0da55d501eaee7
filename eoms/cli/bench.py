"""``eoms bench``: measured figures for docs/PERFORMANCE.md.

The benchmarks live in ``bench/`` of a source checkout and are not shipped in the wheel, so the application
never imports them: ``eoms bench`` loads the one module it runs, by name, when it is invoked.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from eoms.cli.common import App, emit_json, pass_app

# The checkout this package was loaded from (in an installed wheel: site-packages, which holds no bench/).
SOURCE_ROOT = Path(__file__).resolve().parents[2]

# scenario → (module in bench/, function(instances, database_url) -> figures)
SCENARIOS: dict[str, tuple[str, str]] = {
    "fault": ("bench.engine_bench", "run_fault_bench"),
    "worker": ("bench.worker_bench", "run_worker_bench"),
    "console": ("bench.console_bench", "run_console_bench"),
    "http": ("bench.http_bench", "run_http_bench"),
    "queue": ("bench.queue_bench", "run_queue_bench"),
    "storage": ("bench.storage_bench", "run_storage_bench"),
    "large": ("bench.large_bench", "run_large_bench"),
    "web": ("bench.web_bench", "run_web_bench"),
}


def register_bench_commands(cli: click.Group) -> None:
    cli.add_command(bench)


def load_scenario(scenario: str) -> Callable[[int, str | None], dict[str, Any]]:
    """The run function of a scenario, imported now; a clear error when ``bench/`` is not there."""
    module, function = SCENARIOS[scenario]
    root = str(SOURCE_ROOT)
    if (SOURCE_ROOT / "bench" / "__init__.py").is_file() and root not in sys.path:
        sys.path.insert(0, root)  # an editable install maps only the shipped packages, not bench/
    try:
        loaded = importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name not in ("bench", module):
            raise  # something the benchmark itself needs is missing: that error says what
        raise click.ClickException(
            f"eoms bench runs from a source checkout: {module} is not importable (bench/ is not installed "
            "with EOMS; run it from a clone of the repository)") from None
    return getattr(loaded, function)


@click.command()
@click.option("--scenario", type=click.Choice(list(SCENARIOS)), default="fault", show_default=True,
              help="fault: engine vs raw SpiffWorkflow; worker: tick cost with many open tasks, timer lateness; "
                   "console: supervisor pages on many work orders; http: the API over HTTP under gunicorn; "
                   "queue: the work queue's queries over many task rows; storage: bytes on disk per finished "
                   "work order; large: a 40-step flow per step; web: the 待办 list, task pages and completions "
                   "by 50 users under gunicorn")
@click.option("--instances", default=200, show_default=True,
              help="fault: instances per side; worker: open tasks in the database; queue: task rows; "
                   "storage: work orders run to their end; web: tasks completed through the web")
@click.option("--database", "database_url", help="database URL (default: a temporary SQLite file; a "
              "PostgreSQL URL gets a temporary schema that is dropped afterwards)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@pass_app
def bench(app: App, scenario: str, instances: int, database_url: str | None, as_json: bool) -> None:
    """Measured figures: the engine against raw SpiffWorkflow, or the worker's tick cost and timer lateness."""
    if instances < 1:
        raise click.BadParameter("must be at least 1", param_hint="--instances")
    result = load_scenario(scenario)(instances, database_url)
    if as_json:
        emit_json(result)
        return
    if scenario != "fault":
        for key, value in result.items():
            click.echo(f"{key}: {value}")
        return
    click.echo(f"scenario {result['scenario']}, {instances} instances, database {result['database']}")
    click.echo(f"  raw SpiffWorkflow (JSON round trip per wait state): {result['raw_instances_per_s']} instances/s")
    click.echo(f"  EOMS engine (persistence, projection, history):     {result['engine_instances_per_s']} instances/s")
    click.echo(f"  ratio engine/raw: {result['ratio']}")
