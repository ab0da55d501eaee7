"""The ``eoms`` command line. Errors print one clear line on stderr and exit non-zero, never a traceback."""

from __future__ import annotations

import sys

import click
from sqlalchemy.exc import OperationalError, ProgrammingError

from engine.errors import BpmnValidationError, EomsError
from eoms.cli.admin import register_admin_commands
from eoms.cli.api_clients import register_api_client_commands
from eoms.cli.bench import register_bench_commands
from eoms.cli.common import cli
from eoms.cli.events import register_event_commands
from eoms.cli.export import register_export_command
from eoms.cli.process import issue_line, register_process_commands
from eoms.cli.resources import register_resource_commands
from eoms.cli.serve import register_serve_commands
from eoms.cli.time import register_time_commands

register_admin_commands(cli)
register_process_commands(cli)
register_export_command(cli)
register_event_commands(cli)
register_bench_commands(cli)
register_time_commands(cli)
register_resource_commands(cli)
register_serve_commands(cli)
register_api_client_commands(cli)


def main(argv: list[str] | None = None) -> int:
    """Console entry point."""
    try:
        cli.main(args=argv, prog_name="eoms", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 1
    except click.ClickException as err:
        err.show()
        return err.exit_code
    except BpmnValidationError as err:
        for issue in err.issues:
            click.echo(issue_line(issue), err=True)
        return 1
    except EomsError as err:
        click.echo(f"error: {err}", err=True)
        return 1
    except (OperationalError, ProgrammingError) as err:  # no tables, or the server is unreachable
        reason = str(err.orig).strip().splitlines()[0] if err.orig is not None else type(err).__name__
        click.echo(f"error: the database is not ready ({reason}); check EOMS_DATABASE_URL and run "
                   "`eoms init-db`", err=True)
        return 1
    except Exception as err:  # one line, not a traceback
        click.echo(f"internal error: {type(err).__name__}: {err}", err=True)
        return 70
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
