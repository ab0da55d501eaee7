"""Filling the inventory in bulk: value ranges an administrator types (VLAN ``100-199``, an IP network
``10.1.0.0/28``, one port per line) and rows from an Excel sheet (区域, 类型, 值, 预留)."""

from __future__ import annotations

import io
import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass

from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.errors import InvalidInput
from handlers.resources.inventory import KINDS, add_resources
from handlers.resources.models import Resource

MAX_VALUES = 10_000  # in one request or one file
HEADERS = {"区域": "region", "region": "region", "类型": "kind", "kind": "kind", "值": "value", "value": "value",
           "预留": "reserved", "reserved": "reserved"}
KIND_WORDS = {"端口": "port", "port": "port", "vlan": "vlan", "ip": "ip", "ip地址": "ip"}
YES = {"是", "y", "yes", "true", "1", "预留"}


def expand(kind: str, text: str) -> list[str]:
    """The values a typed line list stands for: ``100-120`` for VLANs, ``a.b.c.d/nn`` (its hosts) or
    ``a.b.c.d-a.b.c.e`` for IP addresses, anything else as typed."""
    values: list[str] = []
    for line in text.replace(",", "\n").replace("，", "\n").splitlines():
        item = line.strip()
        if not item:
            continue
        values.extend(_expand_one(kind, item))
        if len(values) > MAX_VALUES:
            raise InvalidInput(f"more than {MAX_VALUES} values at once", {"values": "too many"})
    return values


def _expand_one(kind: str, item: str) -> Iterator[str]:
    if kind == "vlan" and "-" in item:
        low, _, high = item.partition("-")
        if not (low.strip().isdigit() and high.strip().isdigit()) or int(low) > int(high):
            raise InvalidInput(f"'{item}' is not a VLAN range like 100-199", {"values": "bad range"})
        yield from (str(v) for v in range(int(low), int(high) + 1))
    elif kind == "ip" and "/" in item:
        try:
            network = ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise InvalidInput(f"'{item}' is not an IP network like 10.1.0.0/28", {"values": "bad network"}) from None
        if network.num_addresses > MAX_VALUES:
            raise InvalidInput(f"network {item} has more than {MAX_VALUES} addresses", {"values": "too many"})
        yield from (str(a) for a in (network.hosts() if network.num_addresses > 2 else network))
    elif kind == "ip" and "-" in item:
        low, _, high = item.partition("-")
        try:
            first, last = ipaddress.ip_address(low.strip()), ipaddress.ip_address(high.strip())
        except ValueError:
            raise InvalidInput(f"'{item}' is not an IP range like 10.1.0.1-10.1.0.9", {"values": "bad range"}) from None
        if first.version != last.version or int(last) < int(first) or int(last) - int(first) >= MAX_VALUES:
            raise InvalidInput(f"'{item}' is not an IP range like 10.1.0.1-10.1.0.9", {"values": "bad range"})
        yield from (str(ipaddress.ip_address(i)) for i in range(int(first), int(last) + 1))
    else:
        yield item


@dataclass(frozen=True)
class ImportRow:
    line: int  # the sheet's row number, for messages
    region: str
    kind: str
    value: str
    reserved: bool


def read_sheet(data: bytes) -> list[ImportRow]:
    """The rows of the first sheet; the first row names the columns (区域, 类型, 值, 预留 or English). A row
    that is wrong is refused with its number, so nothing of the file is stored."""
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds of error for a file that is not a workbook
        raise InvalidInput("the file is not an Excel workbook (.xlsx)", {"file": "not xlsx"}) from None
    rows = book.worksheets[0].iter_rows(values_only=True)
    header = next(rows, None)
    columns = {HEADERS.get(str(c).strip().lower() if c is not None else "", ""): i for i, c in enumerate(header or ())}
    missing = [name for name in ("region", "kind", "value") if name not in columns]
    if missing:
        raise InvalidInput(f"the first row must name the columns 区域, 类型, 值 (missing: {', '.join(missing)})",
                           {"file": "missing columns"})
    found: list[ImportRow] = []
    for line, row in enumerate(rows, start=2):
        cells = {name: _cell(row, columns.get(name)) for name in ("region", "kind", "value", "reserved")}
        if not any(cells[n] for n in ("region", "kind", "value")):
            continue
        kind = KIND_WORDS.get(cells["kind"].lower(), cells["kind"].lower())
        if kind not in KINDS or not cells["region"] or not cells["value"]:
            raise InvalidInput(f"row {line}: needs a region, a kind ({', '.join(KINDS)}) and a value",
                               {"file": "bad row"}, details={"row": line})
        found.append(ImportRow(line, cells["region"], kind, cells["value"], cells["reserved"].lower() in YES))
        if len(found) > MAX_VALUES:
            raise InvalidInput(f"more than {MAX_VALUES} rows", {"file": "too many"})
    return found


def _cell(row: tuple[object, ...], index: int | None) -> str:
    return "" if index is None or index >= len(row) or row[index] is None else str(row[index]).strip()


def import_rows(session: Session, rows: list[ImportRow], known_regions: set[str]) -> dict[tuple[str, str], int]:
    """Add the rows (values already there are skipped); returns how many were added per (region, kind)."""
    for row in rows:
        if row.region not in known_regions:
            raise InvalidInput(f"row {row.line}: region '{row.region}' is not an org unit code",
                               {"file": "unknown region"}, details={"row": row.line})
    added: dict[tuple[str, str], int] = {}
    groups: dict[tuple[str, str, bool], list[str]] = {}
    for row in rows:
        groups.setdefault((row.region, row.kind, row.reserved), []).append(row.value)
    for (region, kind, reserved), values in groups.items():
        added[(region, kind)] = added.get((region, kind), 0) + add_resources(session, region, kind, values,
                                                                              reserved=reserved)
    return added


def template_workbook() -> bytes:
    """An empty sheet with the column names and one example row per kind."""
    book = Workbook()
    sheet = book.active
    sheet.title = "资源"
    sheet.append(["区域", "类型", "值", "预留"])
    for row in (["GZ", "端口", "GZ-OLT01-1/1/1", "否"], ["GZ", "vlan", "2001", "否"], ["GZ", "ip", "10.20.0.10", "是"]):
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def summary(session: Session) -> list[tuple[str, str, str, int]]:
    """(region, kind, status, count) of the whole inventory."""
    return [tuple(r) for r in session.execute(  # type: ignore[misc]
        select(Resource.region, Resource.kind, Resource.status, func.count())
        .group_by(Resource.region, Resource.kind, Resource.status)
        .order_by(Resource.region, Resource.kind, Resource.status)).all()]


def listing(session: Session, region: str | None, kind: str | None, status: str | None, text: str, *,
            offset: int, limit: int) -> tuple[int, list[Resource]]:
    stmt = select(Resource)
    if region:
        stmt = stmt.where(Resource.region == region)
    if kind:
        stmt = stmt.where(Resource.kind == kind)
    if status:
        stmt = stmt.where(Resource.status == status)
    if text:
        stmt = stmt.where(Resource.value.contains(text, autoescape=True)
                          | Resource.business_key.contains(text, autoescape=True))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    return total, list(session.scalars(stmt.order_by(Resource.region, Resource.kind, Resource.id)
                                       .offset(offset).limit(limit)))
