"""Who a task may be handed to (engine/identity/directory.py): the search by name, username, pinyin initials,
full pinyin, unit and post; the rule for a holder and for a supervisor; and TaskService.transfer refusing what
the rule leaves out (code ``task.transfer_target``, field "not allowed") — the picker lists exactly what the
transfer accepts. The world: 广东省 (GD) above 广州市 (GZ) and 深圳市 (SZ), plus 天河区 (TH) under GZ and an empty
佛山市 (FS); review_loop's lanes are dispatcher and reviewer, its first step 'fix' waits for GZ's dispatchers."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import insert, select

from engine.errors import Code, NotAllowed, NotFound
from engine.history.models import HistoryEvent
from engine.identity.directory import Target, transfer_targets
from engine.identity.models import OrgUnit, Post, User, user_post
from engine.tasks.models import HumanTask
from tests.conftest import PASSWORD, user

REVIEW_DATA = {"rounds": 0, "approved": False}
EVERYTHING = 10_000


@pytest.fixture
def fix(pe, db, deploy) -> int:  # type: ignore[no-untyped-def]
    """review_loop started by alice: the id of 'fix', offered to the dispatchers of GZ."""
    deploy("review_loop.bpmn")
    with db.sessions.begin() as s:
        ident = pe.identity
        ident.add_org_unit(s, "TH", "天河区", "GZ")
        ident.add_org_unit(s, "FS", "佛山市", "GD")
        for username, name, org, posts in [("zhang_sf", "张三丰", "TH", ["dispatcher"]),
                                           ("zeng_xx", "曾小贤", "SZ", ["dispatcher"]),
                                           ("gd_disp", "省调度", "GD", ["dispatcher"]),
                                           ("th_fixer", "天河维护", "TH", ["maintainer"])]:
            ident.add_user(s, username, display_name=name, password=PASSWORD, org_code=org, post_codes=posts)
        result = pe.runtime.start(s, "review_loop", business_key="WO-1", data=dict(REVIEW_DATA),
                                  actor=user(s, pe, "alice"))
        return result.tasks[0].id


def found(pe, db, username: str, task_id: int, query: str = "", limit: int = EVERYTHING) -> list[Target]:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        return transfer_targets(s, user(s, pe, username), s.get(HumanTask, task_id), query, limit=limit).items


def people(targets: list[Target]) -> list[str]:
    return [t.code for t in targets if t.kind == "user"]


def pools(targets: list[Target]) -> set[str]:
    return {f"{t.code}@{t.unit_code}" for t in targets if t.kind == "post"}


def transfer(pe, db, task_id: int, username: str, **kwargs: Any) -> HumanTask:  # type: ignore[no-untyped-def]
    with db.sessions.begin() as s:
        return pe.tasks.transfer(s, task_id, user(s, pe, username), reason="请协助", **kwargs)


def refused(pe, db, task_id: int, username: str, **kwargs: Any) -> NotAllowed:  # type: ignore[no-untyped-def]
    with pytest.raises(NotAllowed) as caught:
        transfer(pe, db, task_id, username, **kwargs)
    return caught.value


# -- search ------------------------------------------------------------------------------------------------
def test_search_by_name_username_pinyin_and_unit(pe, db, fix):  # type: ignore[no-untyped-def]
    for query in ("zsf", "ZSF", "zhangsanfeng", "zhangsan", "张三丰", "张三", "三丰", "zhang_sf", "zhang"):
        hits = found(pe, db, "alice", fix, query)
        assert people(hits)[:1] == ["zhang_sf"], query
    (hit,) = [t for t in found(pe, db, "alice", fix, "zsf") if t.code == "zhang_sf"]
    assert (hit.kind, hit.name, hit.unit_name, hit.posts, hit.in_task_unit) == ("user", "张三丰", "天河区", ("调度员",),
                                                                               False)
    # the surname's other reading: 曾 is zeng as a name, ceng in 曾经
    for query in ("zxx", "cxx", "zengxiaoxian", "cengxiaoxian"):
        assert people(found(pe, db, "alice", fix, query))[:1] == ["zeng_xx"], query
    # by unit, by its pinyin, by its code; and every word must match
    assert people(found(pe, db, "alice", fix, "天河")) == ["zhang_sf"]
    assert people(found(pe, db, "alice", fix, "thq")) == ["zhang_sf"]
    assert set(people(found(pe, db, "alice", fix, "深圳"))) == {"carol", "sz_dispatcher", "zeng_xx"}
    assert people(found(pe, db, "alice", fix, "深圳 zxx")) == ["zeng_xx"]
    assert people(found(pe, db, "alice", fix, "nobody-like-this")) == []
    # by post: people who hold it, and its pools
    hits = found(pe, db, "alice", fix, "审核")
    assert set(people(hits)) == {"bob", "carol"} and pools(hits) == {"reviewer@GZ", "reviewer@SZ"}
    assert pools(found(pe, db, "alice", fix, "post:reviewer@SZ")) == {"reviewer@SZ"}
    assert people(found(pe, db, "alice", fix, "post:reviewer")) == []
    assert people(found(pe, db, "alice", fix, "user:anna")) == ["anna"]


def test_people_first_best_match_first_and_a_limit(pe, db, fix):  # type: ignore[no-untyped-def]
    everyone = found(pe, db, "alice", fix)
    kinds = [t.kind for t in everyone]
    assert kinds == sorted(kinds, key=lambda k: k != "user")  # people, then pools
    # no query: the holders of the task's post in the task's unit first, then below it, then beside it
    names = people(everyone)
    assert names[:2] == ["anna", "gz_dispatcher"] or names[:2] == ["gz_dispatcher", "anna"]
    assert names.index("zhang_sf") < names.index("carol") and names.index("bob") > names.index("zeng_xx")
    # an exact name beats a prefix, a prefix beats a part of a name, a name beats a unit
    assert people(found(pe, db, "alice", fix, "an"))[:1] == ["anna"]
    with db.sessions.begin() as s:
        pe.identity.add_user(s, "annabel", display_name="小安娜", password=PASSWORD, org_code="GZ",
                             post_codes=["dispatcher"])
    assert people(found(pe, db, "alice", fix, "安娜")) == ["anna", "annabel"]
    # a page: at most the limit, people first but room kept for pools; total counts them all
    with db.sessions() as s:
        page = transfer_targets(s, user(s, pe, "alice"), s.get(HumanTask, fix), "", limit=6)
    assert len(page.items) == 6 and page.total == len(found(pe, db, "alice", fix))
    assert [t.kind for t in page.items].count("post") == 1  # 6 // 4 places kept
    assert people(page.items) == people(found(pe, db, "alice", fix))[:5]


# -- the rule ------------------------------------------------------------------------------------------------
def test_a_holder_may_hand_to_the_flows_posts_in_the_neighbourhood(pe, db, fix):  # type: ignore[no-untyped-def]
    everyone = found(pe, db, "alice", fix)
    # people holding dispatcher or reviewer (review_loop's lanes) in GZ, beside it (SZ) or below (TH) …
    assert set(people(everyone)) == {"anna", "gz_dispatcher", "bob", "zhang_sf", "carol", "sz_dispatcher",
                                     "zeng_xx"}
    # … not herself, not another post (mike, th_fixer), not the unit above (gd_disp), not supervisors
    # pools of those posts where someone holds them, but not the pool the task is in
    assert pools(everyone) == {"reviewer@GZ", "dispatcher@TH", "dispatcher@SZ", "reviewer@SZ"}
    assert all(t.in_task_unit == (t.unit_code == "GZ") for t in everyone)
    # anna, a colleague on the post, may hand it on as well while nobody has claimed it
    assert set(people(found(pe, db, "anna", fix))) == set(people(everyone)) - {"anna"} | {"alice"}
    # once alice claims it, it is hers: anna is no longer its holder; alice's pool is a target now
    with db.sessions.begin() as s:
        pe.tasks.claim(s, fix, user(s, pe, "alice"))
    assert found(pe, db, "anna", fix) == []
    assert "dispatcher@GZ" in pools(found(pe, db, "alice", fix))
    # someone who may not hand it on is offered nothing
    assert found(pe, db, "bob", fix) == [] and found(pe, db, "mike", fix) == []


def test_a_supervisor_may_hand_to_anyone_in_the_units_he_oversees(pe, db, fix):  # type: ignore[no-untyped-def]
    gz = set(people(found(pe, db, "sup", fix)))
    assert {"alice", "anna", "bob", "mike", "zhang_sf", "th_fixer", "gz_maintainer"} <= gz
    assert not gz & {"carol", "sz_dispatcher", "zeng_xx", "gd_disp", "sup"}
    assert "maintainer@GZ" in pools(found(pe, db, "sup", fix))
    assert not {p for p in pools(found(pe, db, "sup", fix)) if not p.endswith(("@GZ", "@TH"))}
    province = set(people(found(pe, db, "boss", fix)))
    assert {"carol", "gd_disp", "mike", "sup", "admin"} <= province and "boss" not in province
    assert "maintainer@SZ" in pools(found(pe, db, "boss", fix))
    assert "dispatcher@FS" not in pools(found(pe, db, "admin", fix))  # nobody holds it there


def test_transfer_refuses_a_target_outside_the_rule(pe, db, fix):  # type: ignore[no-untyped-def]
    for kwargs, field in [({"to_user": "mike"}, "to_user"), ({"to_user": "gd_disp"}, "to_user"),
                          ({"to_user": "sup"}, "to_user"), ({"to_post": "maintainer"}, "to_post"),
                          ({"to_post": "dispatcher", "to_org": "GD"}, "to_org"),
                          ({"to_post": "dispatcher", "to_org": "FS"}, "to_org"),
                          ({"to_post": "maintainer", "to_org": "SZ"}, "to_post")]:
        err = refused(pe, db, fix, "alice", **kwargs)
        assert (err.code, err.details) == (Code.TRANSFER_TARGET, {"fields": {field: "not allowed"}}), kwargs
    # an unknown name is still "unknown", and an inactive person is nobody
    with pytest.raises(NotFound):
        transfer(pe, db, fix, "alice", to_user="nobody")
    with db.sessions.begin() as s:
        user(s, pe, "anna").is_active = False
    with pytest.raises(NotFound):
        transfer(pe, db, fix, "alice", to_user="anna")
    with db.sessions() as s:
        row = s.get(HumanTask, fix)
        assert (row.assignee_id, row.post_id, row.org_unit_id) == (
            None, s.scalar(select(Post.id).where(Post.code == "dispatcher")),
            s.scalar(select(OrgUnit.id).where(OrgUnit.code == "GZ")))
        assert s.scalars(select(HistoryEvent).where(HistoryEvent.event_type == "task_transferred")).all() == []
    # what the rule allows goes through: a neighbour, a unit below, a pool beside; a supervisor hands to mike
    assert transfer(pe, db, fix, "alice", to_user="carol").assignee_id == user(db.session(), pe, "carol").id
    transfer(pe, db, fix, "sup", to_user="mike")
    transfer(pe, db, fix, "mike", to_post="reviewer")  # mike holds it now; reviewer is a lane of the flow
    transfer(pe, db, fix, "bob", to_post="dispatcher", to_org="SZ")
    assert refused(pe, db, fix, "carol", to_user="mike").details == {"fields": {"to_user": "not allowed"}}


def test_the_picker_lists_exactly_what_the_transfer_accepts(pe, db, fix):  # type: ignore[no-untyped-def]
    for actor in ("alice", "sup", "boss"):
        listed = set(people(found(pe, db, actor, fix)))
        listed_pools = pools(found(pe, db, actor, fix))
        with db.sessions() as s:
            me = user(s, pe, actor)
            candidates = s.scalars(select(User).where(User.is_active.is_(True), User.id != me.id)).all()
            units = s.scalars(select(OrgUnit)).all()
            posts = s.scalars(select(Post)).all()
            for person in candidates:
                assert accepted(s, pe, fix, me, to_user=person.username) == (person.username in listed), (
                    actor, person.username)
            for post in posts:
                for unit in units:
                    if (post.code, unit.code) == ("dispatcher", "GZ"):
                        continue  # the pool the task waits in
                    key = f"{post.code}@{unit.code}"
                    assert accepted(s, pe, fix, me, to_post=post.code, to_org=unit.code) == (key in listed_pools), (
                        actor, key)


def accepted(s, pe, task_id: int, actor: User, **kwargs: Any) -> bool:  # type: ignore[no-untyped-def]
    """Whether the transfer goes through (tried in a savepoint, undone either way)."""
    savepoint = s.begin_nested()
    try:
        pe.tasks.transfer(s, task_id, actor, reason="试一试", **kwargs)
        return True
    except NotAllowed as err:
        assert err.code == Code.TRANSFER_TARGET
        return False
    finally:
        savepoint.rollback()


# -- cost ----------------------------------------------------------------------------------------------------
def test_a_search_over_five_thousand_people_is_quick(pe, db, fix):  # type: ignore[no-untyped-def]
    surnames, given = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗", "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂"
    with db.sessions.begin() as s:
        unit_ids = [s.scalar(select(OrgUnit.id).where(OrgUnit.code == c)) for c in ("GZ", "SZ", "TH")]
        dispatcher = s.scalar(select(Post.id).where(Post.code == "dispatcher"))
        rows = [{"username": f"u{i:04d}", "display_name": surnames[i % 20] + given[i // 20 % 22] + given[i % 22],
                 "password_hash": "x", "org_unit_id": unit_ids[i % 3], "role": "user", "is_active": True}
                for i in range(5000)]
        s.execute(insert(User), rows)
        ids = s.scalars(select(User.id).where(User.username.startswith("u"))).all()
        s.execute(insert(user_post), [{"user_id": i, "post_id": dispatcher} for i in ids])
    with db.sessions() as s:
        alice, admin, task = user(s, pe, "alice"), user(s, pe, "admin"), s.get(HumanTask, fix)
        transfer_targets(s, admin, task, "zw")  # the first search spells the names
        began = time.process_time()  # the CPU this process spends: the machine may be busy with other work
        for query in ("zw", "王伟", "天河", "u12", "lj"):
            page = transfer_targets(s, admin, task, query)
            assert page.items and page.total >= len(page.items)
        each = (time.process_time() - began) / 5
        assert len(transfer_targets(s, alice, task, "").items) == 20  # a holder's page of the same crowd
    print(f"search over 5,000 people: {each * 1000:.0f} ms")
    assert each < 0.5, f"{each * 1000:.0f} ms per search over 5,000 people"
