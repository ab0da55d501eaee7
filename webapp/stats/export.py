"""The statistics tables as Excel (openpyxl) and CSV, with exactly the numbers the page shows."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

Table = tuple[str, Sequence[str], Sequence[Sequence[Any]]]  # title, header, rows


def to_xlsx(tables: Sequence[Table]) -> bytes:
    book = Workbook()
    book.remove(book.active)
    for title, header, rows in tables:
        sheet = book.create_sheet(title=title[:31])
        sheet.append(list(header))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append(list(row))
        for column in sheet.columns:
            width = max(len(str(c.value)) if c.value is not None else 0 for c in column)
            sheet.column_dimensions[column[0].column_letter].width = min(40, max(10, width * 2))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def to_csv(tables: Sequence[Table]) -> bytes:
    """UTF-8 with a BOM so spreadsheet programs open the Chinese text correctly; tables one after another."""
    out = io.StringIO()
    writer = csv.writer(out)
    for index, (title, header, rows) in enumerate(tables):
        if index:
            writer.writerow([])
        writer.writerow([title])
        writer.writerow(list(header))
        writer.writerows([list(r) for r in rows])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
