"""The statistics page and its exports through the Flask test client, on SQLite and PostgreSQL (the world of
tests/stats/stats_world.py): 按人员 has a row per real person and counts the work nobody has claimed apart
from them, so the rows and that line add up to every open step (two people of the same name are told apart by
their login name); a dimension shows only columns that have a value for it; the Excel file keeps counts,
percentages and hours as numbers with number formats (so =AVERAGE and =SUM work), the CSV as plain numbers;
the chart has a point for every day of the range, 0 when nothing was finished."""

from __future__ import annotations

import csv
import io
import json
import re
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import select

from engine.identity.models import User
from engine.runtime.models import ProcessInstance
from tests.conftest import Database, FakeClock
from tests.stats import stats_world as w
from webapp.stats.queries import GroupRow, GroupStats
from webapp.stats.tables import group_table

ORDER_COLUMNS = ["完成工单", "退回", "每单退回", "每单转派"]
GROUP_HEADER = ["对象", "工作量（完成）", "按时", "超时", "在办", "按时率", "平均处理时长（小时）",
                "P90 处理时长（小时）", "转派"]


@pytest.fixture
def web_app(db: Database, tmp_path: Path, clock: FakeClock, storage: Path) -> Flask:
    app = w.make_app(db, tmp_path, clock, storage)
    w.build(app, db, clock)
    return app


@pytest.fixture
def sup(web_app: Flask, db: Database) -> FlaskClient:
    """The Guangzhou supervisor, signed in (the session set directly: the sign-in form is tested elsewhere)."""
    with db.sessions() as s:
        user_id = s.scalar(select(User.id).where(User.username == "sup"))
    client = web_app.test_client()
    with client.session_transaction() as session:
        session.update({"_user_id": str(user_id), "_fresh": True, "last_active": time.time()})
    return client


class Tables(HTMLParser):
    """Each ``section.stats-table`` of the page: title, header, rows (cell texts) and the notes under it."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict] = []
        self.text: str | None = None
        self.into: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = dict(attrs).get("class") or ""
        if tag == "section" and "stats-table" in classes:
            self.tables.append({"title": "", "header": [], "rows": [], "notes": []})
        elif not self.tables:
            return
        elif tag == "tr":
            self.tables[-1]["rows"].append([])
        elif tag in ("h2", "td", "th") or (tag == "p" and "stats-note" in classes):
            self.text, self.into = "", tag

    def handle_endtag(self, tag: str) -> None:
        if self.text is None or tag != self.into:
            return
        table, value = self.tables[-1], self.text.strip()
        if tag == "h2":
            table["title"] = value
        elif tag == "p":
            table["notes"].append(value)
        else:
            table["rows"][-1].append(value)
        self.text = self.into = None

    def handle_data(self, data: str) -> None:
        if self.text is not None:
            self.text += data


def page(client: FlaskClient, by: str) -> tuple[list[dict], str]:
    response = client.get("/stats/", query_string={**w.RANGE, "by": by})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    parser = Tables()
    parser.feed(html)
    for table in parser.tables:
        table["header"], *table["rows"] = table["rows"]
    return parser.tables, html


def test_by_person_rows_are_people_and_unclaimed_work_is_counted_apart(sup: FlaskClient, db: Database) -> None:
    tables, _ = page(sup, "person")
    people = tables[0]
    assert people["title"] == "按人员"
    rows = {r[0]: r for r in people["rows"]}
    assert "未签收" not in rows and "—" not in rows
    # only what a person has: the work-order figures (完成工单, 退回, per order) belong to 按单位 / 按流程
    assert people["header"] == GROUP_HEADER
    assert list(rows) == ["广州调度员", "迈克", "广州回单审核员", "广州客服代表", "艾丽"]
    assert rows["迈克"][1:6] == ["2", "1", "2", "1", "50.0%"]  # 故障处理 late, 恢复回单 on time; ST-02 open, overdue
    assert rows["艾丽"][1:6] == ["1", "0", "1", "0", "0.0%"]
    assert rows["广州调度员"][1:6] == ["2", "2", "0", "0", "100.0%"]
    assert all(cell != "" for row in people["rows"] for cell in row), people["rows"]
    # the three open steps nobody has claimed, one overdue, under the table; with the people's they are all
    assert people["notes"][0] == f"未签收（岗位待签收）：{w.UNCLAIMED} 项，其中超时 {w.UNCLAIMED_OVERDUE} 项"
    assert sum(int(r[4]) for r in people["rows"]) + w.UNCLAIMED == w.open_steps(db) == 4
    assert any("按单位" in note for note in people["notes"])


def test_every_dimension_has_real_rows_and_no_empty_columns(sup: FlaskClient, db: Database) -> None:
    posts = page(sup, "post")[0][0]
    assert posts["header"] == GROUP_HEADER
    rows = {r[0]: r for r in posts["rows"]}
    assert set(rows) == {"调度员", "维护员", "回单审核员", "客服代表"}
    assert rows["调度员"][1:5] == ["3", "2", "2", "2"]  # 艾丽 late; ST-03 and ST-04 wait, ST-04 overdue
    assert rows["维护员"][1:5] == ["2", "1", "2", "2"]  # ST-02 (overdue, claimed) and ST-05 at 故障处理
    assert sum(int(r[4]) for r in posts["rows"]) == w.open_steps(db)
    assert not any("未对应岗位" in note for note in posts["notes"])

    for by, title, label in (("org", "按单位", "广州市"), ("flow", "按流程", "售后故障")):
        table = page(sup, by)[0][0]
        assert (table["title"], table["header"]) == (title, GROUP_HEADER + ORDER_COLUMNS)
        (row,) = table["rows"]
        assert row == [label, "7", "5", "4", "4", "71.4%", row[6], row[7], "0", "1", "0", "0.0", "0.0"], row
        assert table["notes"] == []

    steps = page(sup, "person")[0][1]
    assert steps["title"] == "环节处理时长"
    assert {r[1]: r[2] for r in steps["rows"]} == {"故障受理": "3", "故障处理": "1", "恢复回单": "1", "回单审核": "1",
                                                 "客户回访": "1"}
    assert all(cell != "" for row in steps["rows"] for cell in row)


def test_the_post_note_counts_steps_whose_lane_names_no_post() -> None:
    apart = GroupRow(None, "", completed=2, with_limit=2, on_time=1, late=1, open=3, open_overdue=1)
    table = group_table("按岗位", "post", GroupStats([], apart))
    assert table.rows == [] and table.notes[0] == "未对应岗位的环节：完成 2 项，在办 3 项，超时 2 项"
    person = group_table("按人员", "person", GroupStats([], None))
    assert person.notes[0] == "未签收（岗位待签收）：0 项，其中超时 0 项"


def test_the_excel_file_keeps_numbers_with_number_formats(sup: FlaskClient) -> None:
    response = sup.get("/stats/export.xlsx", query_string={**w.RANGE, "by": "person"})
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["按人员", "环节处理时长"]
    sheet = book["按人员"]
    header = [c.value for c in sheet[1]]
    body = [row for row in sheet.iter_rows(min_row=2) if row[1].value is not None]
    rate, mean, completed = header.index("按时率"), header.index("平均处理时长（小时）"), header.index("工作量（完成）")
    for row in body:
        assert row[rate].data_type == "n" and "%" in row[rate].number_format, (row[rate].value, row[rate].number_format)
        assert isinstance(row[rate].value, int | float) and 0 <= row[rate].value <= 1  # 1.0 reads back as 1
        assert row[mean].data_type == "n" and isinstance(row[mean].value, int | float)
        assert row[mean].number_format == "0.00"
        assert type(row[completed].value) is int and row[completed].number_format == "0"
    # =AVERAGE / =SUM over a column count numeric cells only: every row's figure is one
    rates = [r[rate].value for r in body if isinstance(r[rate].value, int | float)]
    assert len(rates) == len(body)
    assert sum(rates) / len(rates) == pytest.approx((1 + 0.5 + 1 + 1 + 0) / 5)
    assert header == GROUP_HEADER
    assert all(c.font.b for c in sheet[1]) and sheet.freeze_panes == "A2"
    assert [r[0].value for r in body] == ["广州调度员", "迈克", "广州回单审核员", "广州客服代表", "艾丽"]
    mike = next(r for r in body if r[0].value == "迈克")
    assert mike[rate].value == 0.5 and mike[mean].value == pytest.approx(2.75)  # (5 h + 30 min) / 2
    notes = [c.value for (c,) in sheet.iter_rows(min_col=1, max_col=1) if isinstance(c.value, str)]
    assert f"未签收（岗位待签收）：{w.UNCLAIMED} 项，其中超时 {w.UNCLAIMED_OVERDUE} 项" in notes

    steps = book["环节处理时长"]
    late = [c.value for c in steps[1]].index("超时率")
    accept = next(r for r in steps.iter_rows(min_row=2) if r[1].value == "故障受理")
    assert accept[late].data_type == "n" and accept[late].value == pytest.approx(1 / 3)
    assert "%" in accept[late].number_format

    flows = load_workbook(io.BytesIO(sup.get("/stats/export.xlsx", query_string={**w.RANGE, "by": "flow"}).data))
    header = [c.value for c in flows["按流程"][1]]
    row = [c for c in flows["按流程"][2]]
    assert header == GROUP_HEADER + ORDER_COLUMNS
    assert row[header.index("每单退回")].data_type == "n" and row[header.index("每单退回")].value == 0
    assert row[header.index("完成工单")].value == 1


def test_the_csv_file_holds_plain_numbers(sup: FlaskClient) -> None:
    response = sup.get("/stats/export.csv", query_string={**w.RANGE, "by": "person"})
    lines = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert lines[0] == ["按人员"] and lines[1] == GROUP_HEADER
    rows = {line[0]: line for line in lines[2:7]}
    assert rows["迈克"][5] == "0.5" and rows["艾丽"][5] == "0.0" and rows["广州调度员"][5] == "1.0"
    assert rows["迈克"][6] == "2.75"
    assert [f"未签收（岗位待签收）：{w.UNCLAIMED} 项，其中超时 {w.UNCLAIMED_OVERDUE} 项"] in lines
    assert all("%" not in cell and cell != "—" for line in lines[2:7] for cell in line)


def test_the_daily_chart_has_every_day_of_the_range(sup: FlaskClient) -> None:
    html = page(sup, "person")[1]
    found = re.search(r'<script type="application/json" id="stats-daily-data">(.*?)</script>', html, re.S)
    assert found, "the statistics page has no daily chart"
    data = json.loads(found.group(1))
    assert data["unit"] == "day" and data["labels"] == w.DAYS
    assert data["steps"] == w.STEPS_PER_DAY and data["orders"] == w.ORDERS_PER_DAY
    assert data["names"] == {"steps": "完成环节", "orders": "完成工单"}
    assert 'id="chart-daily"' in html and "charts.js" in html

    # a range longer than a year is drawn per month, still with every month of it
    long = sup.get("/stats/", query_string={"from": "2025-01-01", "to": "2026-03-31"}).get_data(as_text=True)
    data = json.loads(re.search(r'id="stats-daily-data">(.*?)</script>', long, re.S).group(1))  # type: ignore[union-attr]
    assert data["unit"] == "month" and len(data["labels"]) == 15 and data["labels"][-1] == "2026-03"
    assert data["steps"][-1] == 7 and sum(data["steps"]) == 7 and data["orders"][-1] == 1
    assert "每月完成" in long
    # a range far too long is cut to the months with work, never hundreds of empty points
    huge = sup.get("/stats/", query_string={"from": "1900-01-01", "to": "2026-03-31"}).get_data(as_text=True)
    data = json.loads(re.search(r'id="stats-daily-data">(.*?)</script>', huge, re.S).group(1))  # type: ignore[union-attr]
    assert data["labels"] == ["2026-03"] and data["steps"] == [7]


def test_two_people_of_the_same_name_are_told_apart(web_app: Flask, db: Database, clock: FakeClock,
                                                   sup: FlaskClient) -> None:
    pe = web_app.extensions["eoms"]["engine"]
    with db.sessions.begin() as s:
        pe.identity.add_user(s, "mike2", display_name="迈克", password="secret123", org_code="GZ",
                             post_codes=["maintainer"], role="user")
    orders = w.Orders(web_app, db, clock)
    orders.act("claim", orders.open_task(orders_id(db, "ST-05"), "handle"), "mike2")
    people = page(sup, "person")[0][0]
    rows = {r[0]: r for r in people["rows"]}
    assert "迈克" not in rows and rows["迈克（mike）"][4] == "1" and rows["迈克（mike2）"][4] == "1"
    assert people["notes"][0] == f"未签收（岗位待签收）：{w.UNCLAIMED - 1} 项，其中超时 {w.UNCLAIMED_OVERDUE} 项"


def orders_id(db: Database, key: str) -> int:
    with db.sessions() as s:
        return s.scalars(select(ProcessInstance.id).where(ProcessInstance.business_key == key)).one()
