"""``eoms export``: a deployed version back into files (BPMN and its forms), so that what analysts deploy
from the designer can be reviewed and kept in git; ``eoms deploy`` of the written files gives that version
again (as long as its forms are still the newest)."""

from __future__ import annotations

import json
from pathlib import Path

import click
from sqlalchemy import select

from engine.errors import NotFound
from engine.forms.models import FormDefinition
from engine.repository.models import ProcessDefinition
from engine.repository.xmlsafe import xml_encoding
from eoms.cli.common import App, pass_app


def register_export_command(cli: click.Group) -> None:
    cli.add_command(export)


@click.command()
@click.argument("key")
@click.option("--version", "version", type=int, default=None, help="the version (default: the newest)")
@click.option("--out", "out", type=click.Path(file_okay=False), default="processes", show_default=True,
              help="the folder to write to (forms go to its forms/ folder)")
@pass_app
def export(app: App, key: str, version: int | None, out: str) -> None:
    """Write deployed process KEY (BPMN and forms) to files."""
    folder = Path(out)
    with app.transaction() as s:
        query = select(ProcessDefinition).where(ProcessDefinition.key == key)
        if version is not None:
            query = query.where(ProcessDefinition.version == version)
        row = s.scalar(query.order_by(ProcessDefinition.version.desc()).limit(1))
        if row is None:
            raise NotFound(f"process '{key}' has no version {version if version is not None else 'deployed'}")
        forms = [s.get(FormDefinition, form_id) for form_id in row.forms.values()]
        name = Path(row.source_name or f"{key}.bpmn").name
        if not name.endswith(".bpmn"):
            name = f"{key}.bpmn"
        written = [_write(folder / name, row.bpmn_xml.encode(xml_encoding(row.bpmn_xml[:200].encode("ascii",
                                                                                                  "replace"))))]
        for form in sorted((f for f in forms if f is not None), key=lambda f: f.key):
            path = folder / "forms" / f"{form.key}.json"
            if path.is_file() and _same_schema(path, form.schema):
                written.append((path, False))
                continue
            text = json.dumps(form.schema, ensure_ascii=False, indent=2) + "\n"
            written.append(_write(path, text.encode("utf-8")))
        click.echo(f"process {key} version {row.version}:")
    for path, changed in written:
        click.echo(f"  {path} ({'written' if changed else 'unchanged'})")


def _write(path: Path, content: bytes) -> tuple[Path, bool]:
    if path.is_file() and path.read_bytes() == content:
        return path, False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path, True


def _same_schema(path: Path, schema: object) -> bool:
    try:
        return json.loads(path.read_text(encoding="utf-8")) == schema
    except (OSError, ValueError):
        return False
