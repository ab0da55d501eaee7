"""``eoms bench``: measured figures for docs/PERFORMANCE.md."""

from __future__ import annotations

import click

from bench.engine_bench import run_fault_bench
from eoms.cli.common import App, emit_json, pass_app


def register_bench_commands(cli: click.Group) -> None:
    cli.add_command(bench)


@click.command()
@click.option("--instances", default=200, show_default=True, help="instances per side")
@click.option("--database", "database_url", help="database URL (default: a temporary SQLite file; a "
              "PostgreSQL URL gets a temporary schema that is dropped afterwards)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@pass_app
def bench(app: App, instances: int, database_url: str | None, as_json: bool) -> None:
    """The engine with persistence against raw SpiffWorkflow, in the same run."""
    if instances < 1:
        raise click.BadParameter("must be at least 1", param_hint="--instances")
    result = run_fault_bench(instances, database_url)
    if as_json:
        emit_json(result)
        return
    click.echo(f"scenario {result['scenario']}, {instances} instances, database {result['database']}")
    click.echo(f"  raw SpiffWorkflow (JSON round trip per wait state): {result['raw_instances_per_s']} instances/s")
    click.echo(f"  EOMS engine (persistence, projection, history):     {result['engine_instances_per_s']} instances/s")
    click.echo(f"  ratio engine/raw: {result['ratio']}")
