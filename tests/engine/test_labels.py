"""The names behind ids that listings show, cached per process (``engine.identity.labels``)."""

from __future__ import annotations

from sqlalchemy import select

from engine.identity.labels import Labels
from engine.identity.models import OrgUnit, Post, User
from tests.engine.test_round_trips import Ticking, counting


def test_names_are_read_once_renamed_posts_after_their_ttl_and_unknown_ids_never_kept(db) -> None:  # type: ignore[no-untyped-def]
    clock = Ticking()
    labels = Labels(post_name_ttl=30, clock=clock)
    with db.sessions.begin() as s:
        alice = s.scalar(select(User).where(User.username == "alice"))
        post = s.scalar(select(Post).where(Post.code == "reviewer"))
        unit = s.get(OrgUnit, alice.org_unit_id)
        assert labels.usernames(s, [alice.id, None, 999_999]) == {alice.id: "alice"}
        assert labels.posts(s, [post.id]) == {post.id: ("reviewer", "审核员")}
        assert labels.org_codes(s, [unit.id]) == {unit.id: unit.code}
        with counting(db.engine) as seen:
            assert labels.usernames(s, [alice.id]) == {alice.id: "alice"}
            assert labels.posts(s, [post.id]) == {post.id: ("reviewer", "审核员")}
            assert labels.org_codes(s, [unit.id]) == {unit.id: unit.code}
        assert seen == []  # all from the cache
        newcomer = User(username="late", display_name="新人", password_hash="x", org_unit_id=unit.id)
        s.add(newcomer)
        s.flush()
        assert labels.usernames(s, [newcomer.id]) == {newcomer.id: "late"}  # an unknown id is looked up each time
        post.name = "复核员"  # renamed elsewhere: the old name is shown for up to 30 s
        s.flush()
        assert labels.posts(s, [post.id])[post.id][1] == "审核员"
        clock.now = 31
        assert labels.posts(s, [post.id])[post.id][1] == "复核员"
        post.name = "终审员"
        s.flush()
        labels.forget()  # renamed in this process: shown at once
        assert labels.posts(s, [post.id])[post.id][1] == "终审员"
