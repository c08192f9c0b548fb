"""Follows on both backends: limits, one DM per user and day, never the same paper twice, closed DMs."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import partial

import pytest

from bot.follow_state import FollowStore
from retrieval.query.follows import MAX_FOLLOWS, FollowError
from retrieval.storage.protocol import DmStatus, Storage
from tests.conftest import BACKENDS, make_papers

pytestmark = BACKENDS

DAY = date(2026, 11, 20)
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def storage(open_store: Callable[[], Storage]) -> Storage:
    opened = open_store()
    report = opened.papers.upsert(make_papers(6))  # follow_sent references real papers
    assert sorted(report.new) == [1, 2, 3, 4, 5, 6]
    return opened


@pytest.fixture
def follows(storage: Storage) -> FollowStore:
    return FollowStore(storage.state.follows)


def run_at_once(jobs: list[Callable[[], object]]) -> list[object]:
    """Run the jobs in threads released together; their results in job order (re-raising any error)."""
    results: list[object] = [None] * len(jobs)
    barrier = threading.Barrier(len(jobs))

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = jobs[i]()
        except Exception as exc:  # re-raised in the main thread below
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for result in results:
        if isinstance(result, Exception) and not isinstance(result, FollowError):
            raise result
    return results


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
    assert follows.dm_status(1, DAY) == DmStatus.SENDING
    follows.finish(1, DAY, DmStatus.SENT, [1, 2, 3])
    assert follows.dm_status(1, DAY) == DmStatus.SENT
    assert follows.claim(1, DAY, [4], NOW) == []  # today's DM is spent
    tomorrow = DAY + timedelta(days=1)
    assert follows.claim(1, tomorrow, [2, 3, 4, 5], NOW + timedelta(days=1)) == [4, 5]
    assert follows.unsent(1, [1, 2, 3, 4, 5, 6]) == [6]
    assert follows.claim(2, DAY, [1, 2], NOW) == [1, 2]  # another user is separate


def test_a_day_with_nothing_new_records_nothing(follows):
    follows.claim(1, DAY, [1], NOW)
    follows.finish(1, DAY, DmStatus.SENT)
    tomorrow = DAY + timedelta(days=1)
    assert follows.claim(1, tomorrow, [1], NOW) == []
    assert follows.dm_status(1, tomorrow) is None
    assert follows.claim(1, tomorrow, [2], NOW) == [2]


def test_the_claim_is_capped_and_the_rest_waits_for_a_later_dm(follows):
    assert follows.claim(1, DAY, [1, 2, 3, 4], NOW, limit=2) == [1, 2]
    assert follows.unsent(1, [1, 2, 3, 4]) == [3, 4]


def test_a_failed_dm_releases_its_papers_and_is_retried_after_a_pause(follows):
    assert follows.claim(1, DAY, [1, 2], NOW) == [1, 2]
    follows.finish(1, DAY, DmStatus.FAILED, [1, 2])
    assert follows.unsent(1, [1, 2]) == [1, 2]
    assert follows.claim(1, DAY, [1, 2], NOW + timedelta(minutes=5)) == []
    assert follows.dm_status(1, DAY) == DmStatus.FAILED
    assert follows.claim(1, DAY, [1, 2], NOW + timedelta(minutes=31)) == [1, 2]
    assert follows.dm_status(1, DAY) == DmStatus.SENDING


def test_a_retry_with_nothing_new_leaves_the_failed_day_as_it_was(follows):
    follows.claim(1, DAY, [1], NOW)
    follows.finish(1, DAY, DmStatus.FAILED, [1])
    follows.claim(2, DAY, [1], NOW)  # another user's claim does not touch user 1's papers
    assert follows.claim(1, DAY, [], NOW + timedelta(hours=1)) == []
    assert follows.dm_status(1, DAY) == DmStatus.FAILED
    assert follows.claim(1, DAY, [1], NOW + timedelta(hours=1)) == [1]


def test_closed_dms_are_marked_skipped_and_reopened_by_the_user(follows):
    follows.add(1, "topic", "robots")
    follows.add(2, "topic", "robots")
    follows.claim(1, DAY, [1], NOW)
    follows.finish(1, DAY, DmStatus.CLOSED, [1])
    follows.mark_closed(1, "403 Cannot send messages to this user", NOW)
    assert follows.closed_since(1) == NOW
    assert {f.user_id for f in follows.active()} == {2}
    assert follows.reopen(1) is True and follows.reopen(1) is False
    assert follows.closed_since(1) is None
    assert {f.user_id for f in follows.active()} == {1, 2}
    assert follows.unsent(1, [1]) == [1]


def test_follows_survive_a_restart(open_store, storage, follows):
    follows.add(1, "author", "Grace Hopper")
    follows.claim(1, DAY, [3], NOW)
    follows.finish(1, DAY, DmStatus.SENT, [3])
    again = FollowStore(open_store().state.follows)  # a new connection, as after a restart
    assert [f.value for f in again.of_user(1)] == ["Grace Hopper"]
    assert again.dm_status(1, DAY) == DmStatus.SENT and again.unsent(1, [3, 4]) == [4]


def test_concurrent_claimers_give_one_dm_per_user_and_day_and_each_paper_once(open_store, storage):
    """Four processes (each its own connection) claim for the same users at once, over overlapping papers."""
    stores = [FollowStore(open_store().state.follows) for _ in range(4)]
    users = range(1, 6)
    claimed: dict[int, list[int]] = {user: [] for user in users}
    for day_offset in range(3):
        day, now = DAY + timedelta(days=day_offset), NOW + timedelta(days=day_offset)
        for user in users:
            # Each claimer offers a different, overlapping window of the six papers.
            offers = [[(k + 2 * day_offset + j) % 6 + 1 for j in range(3)] for k in range(len(stores))]
            results = run_at_once([partial(s.claim, user, day, o, now) for s, o in zip(stores, offers, strict=True)])
            winners = [i for i, r in enumerate(results) if r]
            assert len(winners) <= 1, f"user {user} on {day}: {results}"
            if day_offset == 0:
                assert len(winners) == 1  # the first day, every paper is new: someone must win
            for i in winners:
                stores[i].finish(user, day, DmStatus.SENT, results[i])  # type: ignore[arg-type]
                claimed[user] += results[i]  # type: ignore[operator]
    for user in users:
        assert len(claimed[user]) == len(set(claimed[user])) > 3  # a second day sent something, nothing twice
        assert stores[1].store.sent_papers(user) == set(claimed[user])


def test_concurrent_claimers_never_send_a_paper_twice_across_days(open_store, storage):
    """Claims for different days race over the same papers: the papers are split, never repeated."""
    stores = [FollowStore(open_store().state.follows) for _ in range(4)]
    results = run_at_once(
        [partial(s.claim, 1, DAY + timedelta(days=k), [1, 2, 3, 4, 5, 6], NOW) for k, s in enumerate(stores)]
    )
    claimed = [paper for r in results for paper in r]  # type: ignore[union-attr]
    assert sorted(claimed) == [1, 2, 3, 4, 5, 6]


def test_concurrent_additions_keep_to_the_follow_limit(open_store, storage):
    stores = [FollowStore(open_store().state.follows) for _ in range(4)]

    def adder(store: FollowStore, k: int) -> int:
        added = 0
        for i in range(5):
            try:
                store.add(1, "topic", f"topic {k} {i}")
                added += 1
            except FollowError:
                pass
        return added

    results = run_at_once([partial(adder, s, k) for k, s in enumerate(stores)])
    assert sum(results) == MAX_FOLLOWS  # type: ignore[arg-type]
    assert len(stores[0].of_user(1)) == MAX_FOLLOWS
