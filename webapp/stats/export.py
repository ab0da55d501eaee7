"""The statistics tables as Excel (openpyxl) and CSV, with the figures the page shows kept as numbers: counts
as integers, percentages as fractions (0.875) with a percent format, hours and per-order figures as decimals,
so sums, averages and charts in the spreadsheet work. A figure without a value is a blank cell."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from webapp.stats.tables import Column, Kind, Table

FORMATS: dict[Kind, str] = {"count": "0", "percent": "0.0%", "hours": "0.00", "ratio": "0.00"}


def to_xlsx(tables: Sequence[Table]) -> bytes:
    """One sheet per table: the header bold and frozen, with a filter; the notes under the rows."""
    book = Workbook()
    book.remove(book.active)
    for table in tables:
        _sheet(book.create_sheet(title=table.title[:31]), table)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _sheet(sheet: Worksheet, table: Table) -> None:
    sheet.append(table.header)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    for row in table.rows:
        sheet.append([_value(c, v) for c, v in zip(table.columns, row, strict=True)])
    for index, column in enumerate(table.columns, start=1):
        if column.kind in FORMATS:
            for (cell,) in sheet.iter_rows(min_row=2, max_row=len(table.rows) + 1, min_col=index, max_col=index):
                cell.number_format = FORMATS[column.kind]
        width = max([len(column.title)] + [len(str(r[index - 1])) for r in table.rows if column.kind == "text"])
        sheet.column_dimensions[get_column_letter(index)].width = min(40, max(10, width * 2))
    sheet.freeze_panes = "A2"
    if table.rows:
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(table.columns))}{len(table.rows) + 1}"
    if table.notes:
        sheet.append([])
        for note in table.notes:
            sheet.append([note])
            sheet.cell(row=sheet.max_row, column=1).font = Font(italic=True)


def _value(column: Column, value: Any) -> Any:
    if value is None:
        return None
    if column.kind == "count":
        return int(value)
    if column.kind == "text":
        return str(value)
    return float(value)


def to_csv(tables: Sequence[Table]) -> bytes:
    """UTF-8 with a BOM so spreadsheet programs open the Chinese text correctly; tables one after another,
    each its title, header and rows, then its notes after an empty line. Percentages are fractions."""
    out = io.StringIO()
    writer = csv.writer(out)
    for index, table in enumerate(tables):
        if index:
            writer.writerow([])
        writer.writerow([table.title])
        writer.writerow(table.header)
        writer.writerows([[_text(c, v) for c, v in zip(table.columns, row, strict=True)] for row in table.rows])
        if table.notes:
            writer.writerow([])
            writer.writerows([[note] for note in table.notes])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _text(column: Column, value: Any) -> Any:
    if value is None:
        return ""
    if column.kind == "percent":
        return round(float(value), 4)
    return _value(column, value)
