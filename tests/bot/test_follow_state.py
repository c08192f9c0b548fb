"""Follows in SQLite: limits, one DM per user and day, never the same paper twice, closed DMs."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.follow_state import CLOSED, FAILED, SENT, FollowStore
from retrieval.query.follows import MAX_FOLLOWS, FollowError
from retrieval.storage.sqlite.db import Database
from retrieval.storage.sqlite.store import PaperStore
from tests.conftest import make_papers

DAY = date(2026, 11, 20)
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def db(tmp_path):
    database = Database(tmp_path / "state.sqlite3")
    PaperStore(database).upsert(make_papers(6))  # follow_sent references real papers
    yield database
    database.close()


@pytest.fixture
def follows(db):
    return FollowStore(db)


def test_follows_are_stored_per_user_and_listed_oldest_first(follows):
    follows.add(1, "topic", "  speculative   decoding ")
    follows.add(1, "author", "Yann LeCun")
    follows.add(2, "topic", "diffusion")
    mine = follows.of_user(1)
    assert [(f.kind, f.value) for f in mine] == [("topic", "speculative decoding"), ("author", "Yann LeCun")]
    assert mine[1].norm == "yann lecun"
    assert [f.value for f in follows.of_user(2)] == ["diffusion"]


def test_the_same_follow_twice_is_refused_whatever_its_case(follows):
    follows.add(1, "topic", "Diffusion Models")
    with pytest.raises(FollowError, match="already follow"):
        follows.add(1, "topic", "diffusion  models")
    assert len(follows.of_user(1)) == 1


def test_a_user_may_follow_at_most_the_limit(follows):
    for i in range(MAX_FOLLOWS):
        follows.add(1, "topic", f"topic number {i}")
    with pytest.raises(FollowError, match=str(MAX_FOLLOWS)):
        follows.add(1, "author", "Ada Lovelace")
    assert len(follows.of_user(1)) == MAX_FOLLOWS
    follows.add(2, "topic", "another user is not limited by user 1")


@pytest.mark.parametrize("kind,text", [("topic", "x"), ("topic", "y" * 61), ("author", "!!"), ("author", "z" * 81)])
def test_bad_follows_are_refused_with_a_message(follows, kind, text):
    with pytest.raises(FollowError):
        follows.add(1, kind, text)
    assert follows.of_user(1) == []


def test_a_user_removes_only_their_own_follows(follows):
    mine = follows.add(1, "topic", "robots")
    assert follows.remove(2, mine.id) is None
    assert follows.remove(1, mine.id) == mine
    assert follows.of_user(1) == [] and follows.remove(1, mine.id) is None


def test_one_dm_a_day_and_never_the_same_paper_twice(follows):
    assert follows.claim(1, DAY, [1, 2, 3], NOW) == [1, 2, 3]
    follows.finish(1, DAY, SENT)
    assert follows.claim(1, DAY, [4], NOW) == []  # today's DM is spent
    tomorrow = DAY + timedelta(days=1)
    assert follows.claim(1, tomorrow, [2, 3, 4, 5], NOW + timedelta(days=1)) == [4, 5]
    assert follows.unsent(1, [1, 2, 3, 4, 5, 6]) == [6]
    assert follows.claim(2, DAY, [1, 2], NOW) == [1, 2]  # another user is separate


def test_a_day_with_nothing_new_records_nothing(follows):
    follows.claim(1, DAY, [1], NOW)
    follows.finish(1, DAY, SENT)
    tomorrow = DAY + timedelta(days=1)
    assert follows.claim(1, tomorrow, [1], NOW) == []
    assert follows.dm_status(1, tomorrow) is None
    assert follows.claim(1, tomorrow, [2], NOW) == [2]


def test_the_claim_is_capped_and_the_rest_waits_for_a_later_dm(follows):
    assert follows.claim(1, DAY, [1, 2, 3, 4], NOW, limit=2) == [1, 2]
    assert follows.unsent(1, [1, 2, 3, 4]) == [3, 4]


def test_a_failed_dm_releases_its_papers_and_is_retried_after_a_pause(follows):
    assert follows.claim(1, DAY, [1, 2], NOW) == [1, 2]
    follows.finish(1, DAY, FAILED, [1, 2])
    assert follows.unsent(1, [1, 2]) == [1, 2]
    assert follows.claim(1, DAY, [1, 2], NOW + timedelta(minutes=5)) == []
    assert follows.claim(1, DAY, [1, 2], NOW + timedelta(minutes=31)) == [1, 2]


def test_closed_dms_are_marked_skipped_and_reopened_by_the_user(follows):
    follows.add(1, "topic", "robots")
    follows.add(2, "topic", "robots")
    follows.claim(1, DAY, [1], NOW)
    follows.finish(1, DAY, CLOSED, [1])
    follows.mark_closed(1, "403 Cannot send messages to this user", NOW)
    assert follows.closed_since(1) == NOW
    assert {f.user_id for f in follows.active()} == {2}
    assert follows.reopen(1) is True and follows.reopen(1) is False
    assert {f.user_id for f in follows.active()} == {1, 2}
    assert follows.unsent(1, [1]) == [1]


def test_two_processes_claiming_at_once_send_each_paper_once(tmp_path, db):
    stores = [FollowStore(db), FollowStore(Database(db.path))]
    results: list[list[int]] = []
    barrier = threading.Barrier(2)

    def run(store: FollowStore) -> None:
        barrier.wait()
        results.append(store.claim(1, DAY, [1, 2, 3], NOW))

    threads = [threading.Thread(target=run, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stores[1].db.close()
    assert sorted(len(r) for r in results) == [0, 3]
