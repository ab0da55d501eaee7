"""Who a task may be handed to (转派 by its holder, 改派 by a supervisor), and the search the picker runs over them.

The rule — :func:`transfer_targets` lists exactly what :func:`require_person` / :func:`require_pool` (called by
``TaskService.transfer``) accept:

* **The task's holder** — the person it is assigned to, or while it is unclaimed anyone holding its post in its
  unit — may hand it
  - to an active person who holds one of the *flow's posts* (the posts the diagram's lanes name, and the task's
    own post) and works in the task's *neighbourhood*: the task's unit or a unit beside it (the same parent
    unit), or any unit below those (a Guangzhou maintainer may ask a Shenzhen one for help); for a task in a
    top unit, that unit and the units below it;
  - to the pool of one of the flow's posts in a unit of the neighbourhood where someone active holds it.
* **A supervisor who oversees the task's unit** (:func:`engine.identity.access.oversees`: his unit and the units
  below it; an admin: every unit) may hand it to any active person in the units he oversees, or to the pool of
  any post in those units where someone active holds it.
* Someone who is both may do either. Nobody else may hand the task on (and :func:`transfer_targets` lists
  nothing for them).

A pool nobody holds is never a target: the task would wait where no one sees it.

Search: a query matches a person's display name, username, the pinyin initials of the name (张三丰 → ``zsf``) or
its full pinyin (``zhangsanfeng``; the surname's other readings too: 曾 → ``zeng``/``ceng``), the names of their
posts and the name, code or pinyin of their unit; a pool by its post's name, code or pinyin and its unit's. Each
word of the query must match. People come first, by relevance (an exact match, then a prefix, a part of the
name, then unit or post only), then holders of the task's post, then of the flow's posts, then the task's unit
before the units below it and beside it, then by pinyin; pools after them in the same way.

Cost: no schema support. Each search reads the allowed units' active people and their posts (two plain
queries) and matches in Python, the pinyin of each name cached (``_spell``). Measured with 5,000 people in
reach (``tests/engine/test_directory.py``, an admin): about 30-60 ms of CPU per search on SQLite and on
PostgreSQL, on a busy 2-core machine; the first search also spells the names (about 70 ms more).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from functools import lru_cache

from lxml import etree
from pypinyin import Style, lazy_pinyin, pinyin
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine.errors import Code, NotAllowed
from engine.identity.access import holds_post_in, oversees
from engine.identity.models import OrgUnit, Post, User, user_post
from engine.repository.models import ProcessDefinition
from engine.runtime.models import ProcessInstance
from engine.tasks.models import HumanTask

DEFAULT_LIMIT = 20
POOL_ROOM = 5  # places kept for pools when many people match
LANE = "{http://www.omg.org/spec/BPMN/20100524/MODEL}lane"


# -- the rule ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Reach:
    """Units a task may go to, and which posts: ``posts`` None means any post, and people need hold none."""

    units: frozenset[int]
    posts: frozenset[int] | None

    def takes_person(self, unit_id: int, post_ids: Collection[int]) -> bool:
        return unit_id in self.units and (self.posts is None or not self.posts.isdisjoint(post_ids))

    def takes_post(self, unit_id: int, post_id: int) -> bool:
        return unit_id in self.units and (self.posts is None or post_id in self.posts)


@dataclass(frozen=True)
class Scope:
    """Everything a user may hand one task to: the union of the reaches their roles give them."""

    reaches: tuple[Reach, ...]
    units: dict[int, OrgUnit] = field(default_factory=dict)  # every unit, by id
    flow: frozenset[int] = frozenset()  # the flow's posts (listed first)

    def takes_person(self, unit_id: int, post_ids: Collection[int]) -> bool:
        return any(r.takes_person(unit_id, post_ids) for r in self.reaches)

    def takes_post(self, unit_id: int, post_id: int) -> bool:
        return any(r.takes_post(unit_id, post_id) for r in self.reaches)

    @property
    def unit_ids(self) -> frozenset[int]:
        return frozenset().union(*(r.units for r in self.reaches))


def transfer_scope(session: Session, user: User, task: HumanTask) -> Scope:
    """Where ``user`` may hand ``task`` under the rule of this module (empty when they may not hand it on)."""
    units = {u.id: u for u in session.scalars(select(OrgUnit))}
    home = units.get(task.org_unit_id)
    reaches: list[Reach] = []
    flow = flow_posts(session, task)
    if home is not None and is_holder(user, task):
        top = units.get(home.parent_id) if home.parent_id is not None else None
        area = top.path if top is not None else home.path
        near = {i for i, u in units.items() if u.path.startswith(area) and (top is None or i != top.id)}
        reaches.append(Reach(frozenset(near), flow))
    if home is not None and oversees(session, user, home.id):
        overseen = units if user.role == "admin" else {
            i: u for i, u in units.items() if u.path.startswith(user.org_unit.path)}
        reaches.append(Reach(frozenset(overseen), None))
    return Scope(tuple(reaches), units, flow)


def is_holder(user: User, task: HumanTask) -> bool:
    """The task is the user's: assigned to them, or unclaimed and offered to a post they hold in its unit."""
    if task.assignee_id is not None:
        return task.assignee_id == user.id
    return holds_post_in(user, task.post_id, task.org_unit_id)


def flow_posts(session: Session, task: HumanTask) -> frozenset[int]:
    """The ids of the posts the lanes of the task's diagram name (by code or name), and the task's own post."""
    found = session.execute(select(ProcessDefinition.id, ProcessDefinition.content_hash).join(
        ProcessInstance, ProcessInstance.definition_id == ProcessDefinition.id).where(
        ProcessInstance.id == task.instance_id)).first()
    names = _definition_lanes(session, found[0], found[1]) if found else frozenset()
    found = set(session.scalars(select(Post.id).where(or_(Post.code.in_(names), Post.name.in_(names))))) \
        if names else set()
    return frozenset(found | ({task.post_id} if task.post_id is not None else set()))


# lane names by the diagram's content hash: a deployed diagram never changes, and the same content has the same
# lanes under any id (the task page asks on every view; the diagram's text is the largest column read)
_LANES_BY_CONTENT: dict[str, frozenset[str]] = {}
LANES_KEPT = 256


def _definition_lanes(session: Session, definition_id: int, content_hash: str) -> frozenset[str]:
    names = _LANES_BY_CONTENT.get(content_hash)
    if names is None:
        xml = session.scalar(select(ProcessDefinition.bpmn_xml).where(ProcessDefinition.id == definition_id))
        names = _lane_names(xml) if xml else frozenset()
        if len(_LANES_BY_CONTENT) >= LANES_KEPT:
            _LANES_BY_CONTENT.clear()
        _LANES_BY_CONTENT[content_hash] = names
    return names


def _lane_names(xml: str) -> frozenset[str]:
    """The lane names of a stored diagram (checked when it was deployed; parsed without entities or network)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)  # one per call: not shared
    root = etree.fromstring(xml.encode(), parser)
    return frozenset(name.strip() for lane in root.iter(LANE) if (name := lane.get("name")) and name.strip())


def require_person(session: Session, user: User, task: HumanTask, person: User) -> None:
    """Refuse (``task.transfer_target``, field ``to_user``: "not allowed") a person outside the rule."""
    posts = [p.id for p in person.posts]
    if not (person.is_active and transfer_scope(session, user, task).takes_person(person.org_unit_id, posts)):
        raise NotAllowed(f"{user.username} may not hand task {task.id} to '{person.username}'",
                         code=Code.TRANSFER_TARGET, details={"fields": {"to_user": "not allowed"}})


def require_pool(session: Session, user: User, task: HumanTask, post: Post, org_unit_id: int, *,
                 named_unit: bool) -> None:
    """Refuse (``task.transfer_target``: "not allowed" on ``to_org`` when the unit was named and the post would be
    allowed elsewhere, else on ``to_post``) a pool outside the rule or that nobody holds."""
    scope = transfer_scope(session, user, task)
    held = session.scalar(select(User.id).where(User.org_unit_id == org_unit_id, User.is_active.is_(True),
                                                User.posts.any(Post.id == post.id)).limit(1)) is not None
    if held and scope.takes_post(org_unit_id, post.id):
        return
    elsewhere = any(r.posts is None or post.id in r.posts for r in scope.reaches)
    where = "to_org" if named_unit and elsewhere else "to_post"
    raise NotAllowed(f"{user.username} may not hand task {task.id} to post '{post.code}' in unit {org_unit_id}",
                     code=Code.TRANSFER_TARGET, details={"fields": {where: "not allowed"}})


# -- the search ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    """A person or a post's pool the task may go to, with what the picker shows of it."""

    kind: str  # "user" or "post"
    code: str  # the username, or the post's code
    name: str  # the display name, or the post's name
    unit_code: str
    unit_name: str
    in_task_unit: bool  # a pool here needs no unit named
    posts: tuple[str, ...] = ()  # a person's posts (names)
    holders: int = 0  # a pool: active people holding the post in that unit


@dataclass(frozen=True)
class Targets:
    """One page of matches: ``items`` (people first), and how many matched in all."""

    items: list[Target]
    total: int


@dataclass(slots=True)
class _Person:
    id: int
    username: str
    name: str
    unit_id: int
    posts: list[int] = field(default_factory=list)


def transfer_targets(session: Session, user: User, task: HumanTask, query: str = "", *,
                     limit: int = DEFAULT_LIMIT) -> Targets:
    """The people and pools ``user`` may hand ``task`` to that match ``query`` (all of them for an empty query),
    best first, at most ``limit``. ``user:`` or ``post:`` before the query keeps to one kind."""
    scope = transfer_scope(session, user, task)
    if not scope.reaches:
        return Targets([], 0)
    kinds, words = _parse(query)
    units = scope.units
    posts = {p.id: p for p in session.scalars(select(Post))}
    people = _people(session, scope.unit_ids)
    holders: dict[tuple[int, int], int] = {}
    for person in people:
        for post_id in person.posts:
            holders[post_id, person.unit_id] = holders.get((post_id, person.unit_id), 0) + 1
    # what each word finds among the few units and posts, once per search
    unit_hits = [{i for i in scope.unit_ids if _tier(w, _fields(units[i].code, units[i].name)) is not None}
                 for w in words]
    post_hits = [{i for i, p in posts.items() if _tier(w, _fields(p.code, p.name)) is not None} for w in words]

    found_people: list[tuple[tuple[object, ...], _Person]] = []
    if "user" in kinds:
        for person in people:
            if person.id in (user.id, task.assignee_id) or not scope.takes_person(person.unit_id, person.posts):
                continue
            score = _score(words, _fields(person.username, person.name),
                           lambda n, p=person: p.unit_id in unit_hits[n] or not post_hits[n].isdisjoint(p.posts))
            if score is not None:
                found_people.append(((score, task.post_id not in person.posts, scope.flow.isdisjoint(person.posts),
                                      _distance(units, units[person.unit_id], task.org_unit_id),
                                      _spell(person.name)[1][0], person.username), person))
    found_pools: list[tuple[tuple[object, ...], tuple[int, int]]] = []
    if "post" in kinds:
        for post_id, unit_id in holders:
            if not scope.takes_post(unit_id, post_id):
                continue
            if task.assignee_id is None and (post_id, unit_id) == (task.post_id, task.org_unit_id):
                continue  # it is in that pool already
            post = posts[post_id]
            score = _score(words, _fields(post.code, post.name), lambda n, u=unit_id: u in unit_hits[n])
            if score is not None:
                found_pools.append(((score, unit_id != task.org_unit_id, post_id != task.post_id,
                                     post_id not in scope.flow, _distance(units, units[unit_id], task.org_unit_id),
                                     post.code, units[unit_id].path), (post_id, unit_id)))
    found_people.sort(key=lambda pair: pair[0])
    found_pools.sort(key=lambda pair: pair[0])
    pool_room = min(len(found_pools), max(min(POOL_ROOM, limit // 4), limit - len(found_people)))
    chosen = [_person_target(p, units[p.unit_id], posts, task) for _, p in found_people[:max(limit - pool_room, 0)]]
    chosen += [Target("post", posts[post_id].code, posts[post_id].name, units[unit_id].code, units[unit_id].name,
                      unit_id == task.org_unit_id, holders=holders[post_id, unit_id])
               for _, (post_id, unit_id) in found_pools[:limit - len(chosen)]]
    return Targets(chosen, len(found_people) + len(found_pools))


def _person_target(person: _Person, unit: OrgUnit, posts: dict[int, Post], task: HumanTask) -> Target:
    held = sorted((posts[i] for i in person.posts), key=lambda p: (p.id != task.post_id, p.code))
    return Target("user", person.username, person.name, unit.code, unit.name, unit.id == task.org_unit_id,
                  tuple(p.name for p in held))


def _people(session: Session, unit_ids: frozenset[int]) -> list[_Person]:
    """Active people of these units with the ids of their posts (two plain queries: thousands of rows)."""
    if not unit_ids:
        return []
    conn = session.connection()
    where = (User.is_active.is_(True), User.org_unit_id.in_(sorted(unit_ids)))
    people = {i: _Person(i, username, name, unit_id) for i, username, name, unit_id in conn.execute(
        select(User.id, User.username, User.display_name, User.org_unit_id).where(*where))}
    for user_id, post_id in conn.execute(
            select(user_post.c.user_id, user_post.c.post_id).join(User, User.id == user_post.c.user_id).where(*where)):
        people[user_id].posts.append(post_id)
    return list(people.values())


def _distance(units: dict[int, OrgUnit], unit: OrgUnit, task_unit_id: int) -> int:
    """0 for the task's unit, 1 below it, 2 anywhere else."""
    home = units.get(task_unit_id)
    if unit.id == task_unit_id:
        return 0
    return 1 if home is not None and unit.path.startswith(home.path) else 2


# -- matching ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Fields:
    """The texts a candidate is found by (its code and name, the name's pinyin), ready for quick tests."""

    exact: frozenset[str]
    starts: str  # every text after a newline: "\n" + word in it is a prefix match
    inside: str  # names and full pinyin: word in it is a match inside a text
    initials: str


@lru_cache(maxsize=65536)
def _fields(code: str, name: str) -> _Fields:
    initials, spelled = _spell(name)
    names = (code.lower(), name.lower())
    return _Fields(frozenset((*names, *initials, *spelled)), "".join("\n" + t for t in (*names, *initials, *spelled)),
                   "\n".join((*names, *spelled)), "\n".join(initials))


def _parse(query: str) -> tuple[set[str], list[str]]:
    text = " ".join(query.split()).lower()
    kinds = {"user", "post"}
    for kind in ("user", "post"):
        if text.startswith(kind + ":"):
            kinds, text = {kind}, text[len(kind) + 1:]
    return kinds, text.replace("@", " ").split()


def _score(words: list[str], own: _Fields, around: Callable[[int], bool]) -> int | None:
    """The sum of each word's best tier (0 exact, 1 prefix, 2 inside the name, 3 only the unit or a post, which
    ``around(n)`` tells for the n-th word), or None when a word matches nothing."""
    total = 0
    for n, word in enumerate(words):
        tier = _tier(word, own)
        if tier is None:
            if not around(n):
                return None
            tier = 3
        total += tier
    return total


def _tier(word: str, f: _Fields) -> int | None:
    if word in f.exact:
        return 0
    if "\n" + word in f.starts:
        return 1
    if word in f.inside or (len(word) > 1 and word in f.initials):
        return 2
    return None


@lru_cache(maxsize=65536)
def _spell(name: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(initials, full pinyin) of a name in lower case, one pair per reading of its first character
    (张三丰 → ``("zsf",), ("zhangsanfeng",)``); letters and digits in the name are kept as words."""
    syllables = [s.lower() for s in lazy_pinyin(name, errors=lambda chars: chars.split())]
    if not syllables:
        return ("",), ("",)
    readings = [syllables[0]]
    if "\u4e00" <= name[:1] <= "\u9fff":
        readings += [r for r in pinyin(name[0], style=Style.NORMAL, heteronym=True)[0] if r not in readings]
    rest = syllables[1:]
    initials = tuple(dict.fromkeys("".join(s[:1] for s in [first, *rest]) for first in readings))
    spelled = tuple(dict.fromkeys("".join([first, *rest]) for first in readings))
    return initials, spelled
