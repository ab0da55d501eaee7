"""考核 statistics from the KPI facts (kpi_step, kpi_order) and the open task rows. Aggregates run in the
database (counts, sums, nearest-rank p90 through window functions) over indexed ranges, so the pages stay
fast on hundreds of thousands of work orders."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, case, func, literal, literal_column, select
from sqlalchemy.orm import Session

from engine.identity.models import OrgUnit, Post, User, subtree_ids, under, unit_subtree_ids
from engine.repository.models import ProcessDefinition
from engine.runtime.models import ProcessInstance
from engine.tasks.models import HumanTask
from handlers.kpi.models import KpiOrder, KpiStep
from handlers.kpi.rollup import is_beijing_midnight
from webapp.stats import rollup

DIMENSIONS = ("person", "post", "org", "flow")
ORDER_DIMENSIONS = ("org", "flow")  # the dimensions a work order belongs to (its unit, its flow)


@dataclass
class StatsFilter:
    """What to count: steps and orders finished in [start, end), within ``org_path`` (the viewer's scope)."""

    start: datetime
    end: datetime
    org_path: str | None = None  # None: everything (administrators)
    process_key: str | None = None
    org_unit_id: int | None = None
    customer: str | None = None
    customer_phone: str | None = None
    circuit: str | None = None


@dataclass
class GroupRow:
    key: Any
    label: str
    completed: int = 0
    with_limit: int = 0
    on_time: int = 0
    late: int = 0
    open: int = 0
    open_overdue: int = 0
    mean_seconds: float | None = None
    p90_seconds: float | None = None
    transfers: int = 0
    orders: int = 0
    returns: int = 0
    order_transfers: int = 0

    @property
    def overdue(self) -> int:
        """Finished late plus still open past the deadline (工单完成情况: 超时)."""
        return self.late + self.open_overdue

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.with_limit if self.with_limit else None


@dataclass
class GroupStats:
    """The rows of one dimension, each a real person, post, unit or flow, and apart from them the work that
    belongs to none: open steps nobody has claimed (按人员), steps whose lane names no post (按岗位)."""

    rows: list[GroupRow]
    unassigned: GroupRow | None = None


@dataclass
class StepRow:
    process_key: str
    node_id: str
    node_name: str
    count: int
    mean_seconds: float
    p90_seconds: float
    with_limit: int
    late: int

    @property
    def overdue_rate(self) -> float | None:
        return self.late / self.with_limit if self.with_limit else None


def scope_units(session: Session, f: StatsFilter) -> list[int] | None:
    """The ids of the units counted: the viewer's subtree, narrowed to the chosen unit's subtree; None for
    everything. Read first and given to the queries as a list: the planner then knows how many facts they
    cover (a path prefix condition inside the query makes it guess one unit and pick a plan for one)."""
    if not (f.org_unit_id or f.org_path):
        return None
    key = ("stats_units", f.org_unit_id, f.org_path)  # a page asks for them several times: once per session
    if key not in session.info:
        if f.org_unit_id:
            chosen = unit_subtree_ids(session, f.org_unit_id)
            units = chosen.where(under(f.org_path)) if f.org_path else chosen
        else:
            units = subtree_ids(f.org_path)
        session.info[key] = list(session.scalars(units))
    return list(session.info[key])


def _instance_filter(f: StatsFilter) -> Select[tuple[int]] | None:
    conditions = []
    if f.customer:
        conditions.append(ProcessInstance.customer.contains(f.customer.strip()))
    if f.customer_phone:
        conditions.append(ProcessInstance.customer_phone.startswith(f.customer_phone.strip()))
    if f.circuit:
        conditions.append(ProcessInstance.circuit.startswith(f.circuit.strip()))
    return select(ProcessInstance.id).where(and_(*conditions)) if conditions else None


def rolls_up(f: StatsFilter) -> bool:
    """Whether the day rollups can answer for ``f``: whole Beijing days, and no filter by customer, phone or
    circuit (those reach inside the work orders, which the rollups do not hold)."""
    return _reads_from_top(f) and is_beijing_midnight(f.start) and is_beijing_midnight(f.end)


def step_conditions(session: Session, f: StatsFilter) -> list[Any]:
    conditions: list[Any] = [KpiStep.completed_at >= f.start, KpiStep.completed_at < f.end]
    if f.process_key:
        conditions.append(KpiStep.process_key == f.process_key)
    if (units := scope_units(session, f)) is not None:
        conditions.append(KpiStep.org_unit_id.in_(units))
    if (instances := _instance_filter(f)) is not None:
        conditions.append(KpiStep.instance_id.in_(instances))
    return conditions


def _group_column(by: str) -> Any:
    return {"person": KpiStep.user_id, "post": KpiStep.post_id, "org": KpiStep.org_unit_id,
            "flow": KpiStep.process_key}[by]


def _open_column(by: str) -> Any:
    return {"person": HumanTask.assignee_id, "post": HumanTask.post_id, "org": HumanTask.org_unit_id,
            "flow": HumanTask.process_key}[by]


# The nearest-rank 90th percentile of n values is the k-th smallest, k = ceil(9n/10), counted in integers here.
# PostgreSQL's ``percentile_disc(0.9)`` takes the value at ceil(0.9 × n) in floating point, which is the same k
# for every n up to ten million at least (tests/stats/test_p90_exact.py checks them all).
NEAREST_90 = 0.9


def nearest_rank_90(n: int) -> int:
    """k of the nearest-rank p90 of n values (1-based, ascending)."""
    return (9 * n + 9) // 10


def _p90_inline(session: Session, value: Any) -> Any | None:
    """On PostgreSQL the nearest-rank p90 in the same pass as the other aggregates; None elsewhere (see
    :func:`p90_by`)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.percentile_disc(NEAREST_90).within_group(value.asc())
    return None


def p90_by(session: Session, groups: list[Any], value: Any, conditions: list[Any]) -> dict[tuple[Any, ...], float]:
    """Nearest-rank 90th percentile of ``value`` per ``groups``, for databases without ``percentile_disc``:
    the rows ranked with window functions, the rank compared in integers."""
    keys = [g.label(f"g{i}") for i, g in enumerate(groups)]
    ranked = (select(*keys, value.label("v"),
                     func.row_number().over(partition_by=groups, order_by=value).label("rn"),
                     func.count().over(partition_by=groups).label("n"))
              .where(*conditions).subquery())
    columns = [ranked.c[f"g{i}"] for i in range(len(groups))]
    rows = session.execute(select(*columns, func.min(ranked.c.v))
                           .where(ranked.c.rn * 10 >= ranked.c.n * 9).group_by(*columns))
    return {tuple(r[:-1]): float(r[-1]) for r in rows}


def p90_from_top(session: Session, groups: list[Any], conditions: list[Any],
                 counts: dict[tuple[Any, ...], int]) -> dict[tuple[Any, ...], float]:
    """The exact nearest-rank p90 of the working time of each group whose size ``counts`` gives, one query per
    group reading the index on (group, working time) from the top: the k-th smallest of n values is the
    (n − k + 1)-th largest, so only the top tenth of each group is read, however long the range."""
    found: dict[tuple[Any, ...], float] = {}
    for key, n in counts.items():
        if not n:
            continue
        same = [g.is_(None) if v is None else g == v for g, v in zip(groups, key, strict=True)]
        value = session.scalar(select(KpiStep.working_seconds).where(*conditions, *same)
                               .order_by(KpiStep.working_seconds.desc())
                               .offset(literal_column(str(n - nearest_rank_90(n)))).limit(1))
        if value is not None:
            found[key] = float(value)
    return found


def _p90_apart(session: Session, groups: list[Any], conditions: list[Any], counts: dict[tuple[Any, ...], int],
               from_top: bool) -> dict[tuple[Any, ...], float]:
    """The p90 per group when the aggregate pass did not compute it: from the top of the index, or ranked."""
    if from_top:
        return p90_from_top(session, groups, conditions, counts)
    return p90_by(session, groups, KpiStep.working_seconds, conditions)


def _reads_from_top(f: StatsFilter) -> bool:
    """Whether the per-group index read suits: not with a filter by customer, phone or circuit (those narrow the
    rows to a few, which one sort handles best, and the index does not hold them)."""
    return not (f.customer or f.customer_phone or f.circuit)


def group_stats(session: Session, f: StatsFilter, by: str, now: datetime) -> GroupStats:
    """工作量 / 工单完成情况 / 按时率 / 处理时长 per person, post, org unit or flow; the work without a person
    (unclaimed) or a post is counted apart, never as a row of its own."""
    column = _group_column(by)
    conditions = step_conditions(session, f)
    from_top = by == "flow" and _reads_from_top(f)  # flows are few, and indexed by working time
    inline = None if from_top else _p90_inline(session, KpiStep.working_seconds)
    if from_top and rolls_up(f):
        rows = _rolled_group_rows(session, f)
    else:
        rows = _group_rows(session, column, conditions, inline)
    if inline is None:
        found = _p90_apart(session, [column], conditions, {(k,): r.completed for k, r in rows.items()}, from_top)
        for (key,), value in found.items():
            rows[key].p90_seconds = value
    _add_open(session, f, by, now, rows)
    if by in ORDER_DIMENSIONS:
        _add_orders(session, f, by, rows)
    unassigned = rows.pop(None, None)
    _label(session, by, rows)
    return GroupStats(sorted(rows.values(), key=lambda r: (-r.completed, str(r.label))), unassigned)


def _group_rows(session: Session, column: Any, conditions: list[Any], inline: Any | None) -> dict[Any, GroupRow]:
    """Counts, sums and (``inline``: in the same pass) the p90 per group."""
    limited = KpiStep.on_time.is_not(None)
    rows: dict[Any, GroupRow] = {}
    for key, completed, with_limit, on_time, mean, transfers, p90 in session.execute(
        select(column, func.count(), func.sum(case((limited, 1), else_=0)),
               func.sum(case((KpiStep.on_time.is_(True), 1), else_=0)), func.avg(KpiStep.working_seconds),
               func.sum(KpiStep.transfers), inline if inline is not None else literal(None))
        .where(*conditions).group_by(column)
    ):
        rows[key] = GroupRow(key, "", completed=completed, with_limit=int(with_limit or 0), on_time=int(on_time or 0),
                             late=int(with_limit or 0) - int(on_time or 0), mean_seconds=float(mean or 0),
                             p90_seconds=float(p90) if p90 is not None else None, transfers=int(transfers or 0))
    return rows


def _rolled_group_rows(session: Session, f: StatsFilter) -> dict[Any, GroupRow]:
    """What :func:`_group_rows` gives per flow, from the day rollup."""
    rows: dict[Any, GroupRow] = {}
    for key, completed, with_limit, on_time, working, transfers in rollup.step_sums(
            session, f.start, f.end, f.process_key, scope_units(session, f), by_step=False):
        rows[key] = GroupRow(key, "", completed=int(completed), with_limit=int(with_limit), on_time=int(on_time),
                             late=int(with_limit) - int(on_time), mean_seconds=int(working) / int(completed),
                             transfers=int(transfers))
    return rows


def _add_open(session: Session, f: StatsFilter, by: str, now: datetime, rows: dict[Any, GroupRow]) -> None:
    column = _open_column(by)
    # a suspended task's clock stopped: it is overdue only if its deadline passed before it was suspended
    overdue = HumanTask.overdue_clause(now)
    conditions: list[Any] = [HumanTask.status == "ready"]
    if f.process_key:
        conditions.append(HumanTask.process_key == f.process_key)
    if (units := scope_units(session, f)) is not None:
        conditions.append(HumanTask.org_unit_id.in_(units))
    if (instances := _instance_filter(f)) is not None:
        conditions.append(HumanTask.instance_id.in_(instances))
    for key, count, late in session.execute(
        select(column, func.count(), func.sum(case((overdue, 1), else_=0)))
        .where(*conditions).group_by(column)
    ):
        row = rows.setdefault(key, GroupRow(key, ""))
        row.open, row.open_overdue = count, int(late or 0)


def order_conditions(session: Session, f: StatsFilter) -> list[Any]:
    """The finished work orders counted: ended in the range, within the scope and the filter."""
    conditions: list[Any] = [KpiOrder.ended_at >= f.start, KpiOrder.ended_at < f.end]
    if f.process_key:
        conditions.append(KpiOrder.process_key == f.process_key)
    if (units := scope_units(session, f)) is not None:
        conditions.append(KpiOrder.org_unit_id.in_(units))
    if (instances := _instance_filter(f)) is not None:
        conditions.append(KpiOrder.instance_id.in_(instances))
    return conditions


def _add_orders(session: Session, f: StatsFilter, by: str, rows: dict[Any, GroupRow]) -> None:
    column = KpiOrder.process_key if by == "flow" else KpiOrder.org_unit_id
    found = rollup.order_sums(session, f.start, f.end, f.process_key, scope_units(session, f), by=by) \
        if rolls_up(f) else session.execute(
            select(column, func.count(), func.sum(KpiOrder.returns), func.sum(KpiOrder.transfers))
            .where(*order_conditions(session, f)).group_by(column))
    for key, orders, returns, transfers in found:
        row = rows.setdefault(key, GroupRow(key, ""))
        row.orders, row.returns = orders, int(returns or 0)
        row.order_transfers = int(transfers or 0)


def _label(session: Session, by: str, rows: dict[Any, GroupRow]) -> None:
    ids = list(rows)
    if by == "person":
        names = _distinct(session.execute(
            select(User.id, User.display_name, User.username).where(User.id.in_(ids))).tuples().all())
    elif by == "post":
        names = _distinct(session.execute(select(Post.id, Post.name, Post.code).where(Post.id.in_(ids))).tuples().all())
    elif by == "org":
        names = _distinct(session.execute(
            select(OrgUnit.id, OrgUnit.name, OrgUnit.code).where(OrgUnit.id.in_(ids))).tuples().all())
    else:
        names = flow_names(session)
    for key, row in rows.items():
        row.label = names.get(key, str(key))


def _distinct(found: Sequence[tuple[Any, str, str]]) -> dict[Any, str]:
    """Names by id; two of the same name (two 张伟, two 网络部 in different cities) are told apart by their code."""
    counts = Counter(name for _, name, _ in found)
    return {key: name if counts[name] == 1 else f"{name}（{code}）" for key, name, code in found}


def flow_names(session: Session) -> dict[str, str]:
    newest = select(ProcessDefinition.key, func.max(ProcessDefinition.version).label("v")) \
        .group_by(ProcessDefinition.key).subquery()
    return dict(session.execute(
        select(ProcessDefinition.key, ProcessDefinition.name)
        .join(newest, and_(ProcessDefinition.key == newest.c.key, ProcessDefinition.version == newest.c.v))
    ).tuples().all())


def step_stats(session: Session, f: StatsFilter, definition_id: int | None = None) -> list[StepRow]:
    """Per step: how often it ran, mean and p90 handling time, how often late. ``definition_id`` narrows to
    the instances of one process version (the heatmap)."""
    conditions = step_conditions(session, f)
    if definition_id is not None:
        conditions.append(KpiStep.instance_id.in_(
            select(ProcessInstance.id).where(ProcessInstance.definition_id == definition_id)))
    from_top = definition_id is None and _reads_from_top(f)  # each step's top tenth from its index
    inline = None if from_top else _p90_inline(session, KpiStep.working_seconds)
    if from_top and rolls_up(f):
        found = [(key, node_id, name, int(count), int(working) / int(count), with_limit, on_time, None)
                 for key, node_id, name, count, with_limit, on_time, working, _ in rollup.step_sums(
                     session, f.start, f.end, f.process_key, scope_units(session, f), by_step=True)]
    else:
        found = _step_rows(session, conditions, inline)
    if inline is None:
        p90 = _p90_apart(session, [KpiStep.process_key, KpiStep.node_id], conditions,
                         {(r[0], r[1]): r[3] for r in found}, from_top)
    else:
        p90 = {(r[0], r[1]): r[7] for r in found}
    rows = [StepRow(key, node_id, name, count, float(mean or 0), float(p90.get((key, node_id)) or 0),
                    int(with_limit or 0), int(with_limit or 0) - int(on_time or 0))
            for key, node_id, name, count, mean, with_limit, on_time, _ in found]
    return sorted(rows, key=lambda r: (r.process_key, -r.mean_seconds))


def _step_rows(session: Session, conditions: list[Any], inline: Any | None) -> list[tuple[Any, ...]]:
    """Per (flow, step): name, count, mean, with a limit, on time and (``inline``) the p90, in one pass."""
    limited = KpiStep.on_time.is_not(None)
    return [tuple(row) for row in session.execute(
        select(KpiStep.process_key, KpiStep.node_id, func.max(KpiStep.node_name), func.count(),
               func.avg(KpiStep.working_seconds), func.sum(case((limited, 1), else_=0)),
               func.sum(case((KpiStep.on_time.is_(True), 1), else_=0)),
               inline if inline is not None else literal(None))
        .where(*conditions).group_by(KpiStep.process_key, KpiStep.node_id))]
