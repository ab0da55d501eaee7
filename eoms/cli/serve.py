"""``eoms serve``: the web app on the development server, with the worker ticking beside it."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import click
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from engine.worker import Worker
from eoms.cli.common import App, pass_app
from webapp import create_app


def register_serve_commands(cli: click.Group) -> None:
    cli.add_command(serve)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-worker", is_flag=True, help="do not run the worker in this process")
@pass_app
def serve(app: App, host: str, port: int, no_worker: bool) -> None:
    """Run EOMS on the development server (production: gunicorn 'webapp.wsgi:app' plus `eoms worker`)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    web = create_app(app.settings, app.engine)
    scheduler = None
    if not no_worker:
        runner = Worker(app.engine, app.sessions, f"serve:{port}")
        runner.announce()
        scheduler = BackgroundScheduler(timezone=UTC)
        scheduler.add_job(runner.tick, IntervalTrigger(seconds=app.settings.worker_tick_seconds), max_instances=1,
                          coalesce=True, next_run_time=datetime.now(UTC))
        scheduler.start()
    click.echo(f"EOMS is running at http://{host}:{port}/  (Ctrl+C to stop)")
    try:
        web.run(host=host, port=port, debug=False, use_reloader=False, threaded=True)
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=True)
