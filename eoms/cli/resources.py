"""Dispatch routing rules and the resource inventory."""

from __future__ import annotations

import click

from eoms.cli.common import App, emit_json, pass_app, print_table
from handlers.dispatch import add_rule, remove_rule, rules
from handlers.resources.inventory import KINDS, add_resources, resources


def register_resource_commands(cli: click.Group) -> None:
    cli.add_command(routing)
    cli.add_command(inventory)


@click.group()
def routing() -> None:
    """派单规则: which post in which unit gets a fault, by region × service type."""


@routing.command("add")
@click.argument("region")
@click.argument("service_type")
@click.option("--post", required=True, help="post code or name")
@click.option("--org", "org_unit", required=True, help="org unit code of the handling unit")
@click.option("--note", default="")
@click.option("--calendar", type=click.Choice(["workday", "24x7"]),
              help="count the routed steps' time limits on this calendar (default: the step's own)")
@pass_app
def routing_add(app: App, region: str, service_type: str, post: str, org_unit: str, note: str,
                calendar: str | None) -> None:
    """Add or replace a rule (REGION and SERVICE_TYPE may be * for any)."""
    with app.transaction() as s:
        rule = add_rule(s, region, service_type, post=post, org_unit=org_unit, note=note, calendar=calendar)
        app.audit(s, "routing.save", "routing_rule", f"{rule.region} × {rule.service_type}", post=rule.post,
                  org_unit=rule.org_unit, calendar=rule.calendar, note=rule.note)
        click.echo(f"rule {rule.id}: {rule.region} × {rule.service_type} → {rule.post} in {rule.org_unit}")


@routing.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def routing_list(app: App, as_json: bool) -> None:
    with app.transaction() as s:
        rows = [{"id": r.id, "region": r.region, "service_type": r.service_type, "post": r.post,
                 "org_unit": r.org_unit, "calendar": r.calendar or "", "note": r.note} for r in rules(s)]
    emit_json(rows) if as_json else print_table(rows, ["id", "region", "service_type", "post", "org_unit", "calendar",
                                                        "note"])


@routing.command("remove")
@click.argument("rule_id", type=int)
@pass_app
def routing_remove(app: App, rule_id: int) -> None:
    with app.transaction() as s:
        remove_rule(s, rule_id)
        app.audit(s, "routing.remove", "routing_rule", rule_id)
    click.echo(f"rule {rule_id} removed")


@click.group()
def inventory() -> None:
    """The resource inventory (ports, VLANs, IP addresses per region)."""


@inventory.command("add")
@click.argument("region")
@click.argument("kind", type=click.Choice(KINDS))
@click.argument("values", nargs=-1, required=True)
@click.option("--reserved", is_flag=True, help="only a resource dispatcher may assign them (人工调度)")
@pass_app
def inventory_add(app: App, region: str, kind: str, values: tuple[str, ...], reserved: bool) -> None:
    """Add resources to a region's inventory."""
    with app.transaction() as s:
        added = add_resources(s, region, kind, values, reserved=reserved)
        app.audit(s, "inventory.add", "resource", f"{region} {kind}", added=added, given=len(values))
    click.echo(f"{added} {kind} resource(s) added to {region}")


@inventory.command("list")
@click.option("--region")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def inventory_list(app: App, region: str | None, as_json: bool) -> None:
    with app.transaction() as s:
        rows = [{"id": r.id, "region": r.region, "kind": r.kind, "value": r.value, "status": r.status,
                 "business_key": r.business_key or ""} for r in resources(s, region)]
    emit_json(rows) if as_json else print_table(rows, ["id", "region", "kind", "value", "status", "business_key"])
