"""``eoms bench``: measured figures for docs/PERFORMANCE.md."""

from __future__ import annotations

import click

from bench.console_bench import run_console_bench
from bench.engine_bench import run_fault_bench
from bench.worker_bench import run_worker_bench
from eoms.cli.common import App, emit_json, pass_app


def register_bench_commands(cli: click.Group) -> None:
    cli.add_command(bench)


@click.command()
@click.option("--scenario", type=click.Choice(["fault", "worker", "console"]), default="fault", show_default=True,
              help="fault: engine vs raw SpiffWorkflow; worker: tick cost with many open tasks, timer lateness; "
                   "console: supervisor pages on many work orders")
@click.option("--instances", default=200, show_default=True,
              help="fault: instances per side; worker: open tasks in the database")
@click.option("--database", "database_url", help="database URL (default: a temporary SQLite file; a "
              "PostgreSQL URL gets a temporary schema that is dropped afterwards)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@pass_app
def bench(app: App, scenario: str, instances: int, database_url: str | None, as_json: bool) -> None:
    """Measured figures: the engine against raw SpiffWorkflow, or the worker's tick cost and timer lateness."""
    if instances < 1:
        raise click.BadParameter("must be at least 1", param_hint="--instances")
    if scenario in ("worker", "console"):
        result = (run_worker_bench if scenario == "worker" else run_console_bench)(instances, database_url)
        if as_json:
            emit_json(result)
        else:
            for key, value in result.items():
                click.echo(f"{key}: {value}")
        return
    result = run_fault_bench(instances, database_url)
    if as_json:
        emit_json(result)
        return
    click.echo(f"scenario {result['scenario']}, {instances} instances, database {result['database']}")
    click.echo(f"  raw SpiffWorkflow (JSON round trip per wait state): {result['raw_instances_per_s']} instances/s")
    click.echo(f"  EOMS engine (persistence, projection, history):     {result['engine_instances_per_s']} instances/s")
    click.echo(f"  ratio engine/raw: {result['ratio']}")
