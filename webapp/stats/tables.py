"""The statistics tables as the page, the Excel file and the CSV file show them: typed columns (text, count,
percentage, hours, per order) holding plain values, so one table is formatted for reading on the page and
kept as numbers in the exports; ``None`` is a figure that has no value (shown "—", left blank in a file)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from webapp.i18n import gettext
from webapp.stats.queries import ORDER_DIMENSIONS, GroupRow, GroupStats, StepRow

Kind = Literal["text", "count", "percent", "hours", "ratio"]


@dataclass(frozen=True)
class Column:
    """A column's heading and what its values are."""

    title: str
    kind: Kind = "count"


@dataclass
class Table:
    """A titled table; ``notes`` are the sentences under it (work counted apart from the rows, hints)."""

    title: str
    columns: list[Column]
    rows: list[list[Any]]
    notes: list[str] = field(default_factory=list)

    @property
    def header(self) -> list[str]:
        return [c.title for c in self.columns]

    def shown(self) -> list[list[str]]:
        """The rows as the page writes them."""
        return [[show(c.kind, v) for c, v in zip(self.columns, row, strict=True)] for row in self.rows]


def show(kind: Kind, value: Any) -> str:
    """A value as the page writes it: 87.5%, 1.25 (hours, per order), 12; "—" when there is none."""
    if value is None:
        return "—"
    if kind == "percent":
        return f"{value * 100:.1f}%"
    if kind in ("hours", "ratio"):
        return str(round(value, 2))
    return str(value)


def hours(seconds: float | None) -> float | None:
    """Seconds as hours, rounded as the page shows them."""
    return round(seconds / 3600, 2) if seconds is not None else None


def per(count: int, orders: int) -> float | None:
    """``count`` per finished work order, rounded as the page shows it."""
    return round(count / orders, 2) if orders else None


def group_table(title: str, by: str, stats: GroupStats) -> Table:
    """One row per person, post, unit or flow. The work-order figures (完成工单, 退回, per order) exist only
    for the dimensions a work order belongs to (unit, flow): a step has a person and a post, an order has not."""
    columns = [Column(gettext("对象"), "text"), Column(gettext("工作量（完成）")), Column(gettext("按时")),
               Column(gettext("超时")), Column(gettext("在办")), Column(gettext("按时率"), "percent"),
               Column(gettext("平均处理时长（小时）"), "hours"), Column(gettext("P90 处理时长（小时）"), "hours"),
               Column(gettext("转派"))]
    orders = by in ORDER_DIMENSIONS
    if orders:
        columns += [Column(gettext("完成工单")), Column(gettext("退回")), Column(gettext("每单退回"), "ratio"),
                    Column(gettext("每单转派"), "ratio")]
    rows = []
    for g in stats.rows:
        row: list[Any] = [g.label, g.completed, g.on_time, g.overdue, g.open, g.on_time_rate,
                          hours(g.mean_seconds), hours(g.p90_seconds), g.transfers]
        if orders:
            row += [g.orders, g.returns, per(g.returns, g.orders), per(g.order_transfers, g.orders)]
        rows.append(row)
    return Table(title, columns, rows, _notes(by, stats.unassigned))


def _notes(by: str, apart: GroupRow | None) -> list[str]:
    """What is counted apart from the rows, so the rows and the notes together add up to all the work."""
    notes = []
    open_, overdue = (apart.open, apart.open_overdue) if apart else (0, 0)  # unclaimed work is all open
    if by == "person":
        notes.append(gettext("未签收（岗位待签收）：%(n)s 项，其中超时 %(late)s 项", n=open_, late=overdue))
        if apart and apart.completed:
            notes.append(gettext("另有 %(n)s 项已完成的环节未记录处理人。", n=apart.completed))
    elif by == "post" and apart and (apart.completed or apart.open):
        notes.append(gettext("未对应岗位的环节：完成 %(done)s 项，在办 %(n)s 项，超时 %(late)s 项",
                             done=apart.completed, n=open_, late=apart.overdue))
    if by not in ORDER_DIMENSIONS:
        notes.append(gettext("完成工单、退回、每单退回、每单转派按工单统计，见“按单位”或“按流程”。"))
    return notes


def step_table(rows: list[StepRow], names: dict[str, str]) -> Table:
    """Per step of each flow: how often it was finished, mean and P90 handling hours, share finished late."""
    columns = [Column(gettext("流程"), "text"), Column(gettext("环节"), "text"), Column(gettext("次数")),
               Column(gettext("平均处理时长（小时）"), "hours"), Column(gettext("P90 处理时长（小时）"), "hours"),
               Column(gettext("超时率"), "percent")]
    return Table(gettext("环节处理时长"), columns,
                 [[names.get(r.process_key, r.process_key), r.node_name, r.count, hours(r.mean_seconds),
                   hours(r.p90_seconds), r.overdue_rate] for r in rows])
