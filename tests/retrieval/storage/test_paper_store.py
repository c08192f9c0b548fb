"""The paper store on both backends: merge rules, look-ups, full-text search, other connections' writes."""

from __future__ import annotations

from datetime import date

import pytest

from retrieval.models import Paper
from tests.conftest import BACKENDS

ABSTRACT = "We propose a method. It works well on many benchmarks."

pytestmark = BACKENDS


@pytest.fixture
def store(open_store):
    return open_store().papers


def test_the_same_paper_from_two_sources_is_one_record_with_its_arxiv_id_attached(store):
    page = Paper(title="Pointer Networks", abstract=ABSTRACT, listed_on=date(2026, 3, 11), source="hf-page")
    first = store.upsert([page])
    feed = Paper(
        title="Pointer  networks",
        abstract="A different summary of the same paper, from the API.",
        arxiv_id="1506.03134",
        ext_id="1506.03134",
        upvotes=12,
        github="https://github.com/x/ptr",
        listed_on=date(2026, 11, 20),
        source="hf-daily",
    )
    second = store.upsert([feed])
    assert first.new == second.updated and store.count() == 1
    paper = store.get(first.new[0])
    assert paper.arxiv_id == "1506.03134" and paper.upvotes == 12 and paper.github == "https://github.com/x/ptr"
    assert paper.abstract == ABSTRACT  # a title match keeps the stored text
    assert store.newest_day() == date(2026, 11, 20)
    assert [p.title for p in store.papers_on(date(2026, 3, 11))] == ["Pointer Networks"]


def test_reimporting_the_same_records_changes_nothing(store):
    papers = [Paper(title=f"Title {i}", abstract=ABSTRACT, ext_id=f"id-{i}", upvotes=i) for i in range(5)]
    store.upsert(papers)
    before = store.id_hashes()
    report = store.upsert(papers)
    assert (report.new, report.updated, report.unchanged) == ([], [], 5)
    assert store.id_hashes() == before and store.count() == 5


def test_two_different_arxiv_papers_with_the_same_title_stay_apart(store):
    store.upsert([Paper(title="Same", abstract=ABSTRACT, arxiv_id="2401.00001")])
    store.upsert([Paper(title="Same", abstract=ABSTRACT, arxiv_id="2401.00002")])
    assert store.count() == 2


def test_lexical_search_treats_fts_syntax_in_questions_as_plain_words(store):
    store.upsert([Paper(title="Gradient noise", abstract="Adding gradient noise helps very deep networks train.")])
    store.upsert([Paper(title="Other", abstract=ABSTRACT)])
    hits = store.lexical_search(['noise"', "AND", "NEAR(", "deep*"], 10)
    assert hits and store.get(hits[0][0]).title == "Gradient noise"
    assert store.lexical_search([], 10) == []


def test_title_suggestions_put_prefix_matches_first(store):
    store.upsert([Paper(title=t, abstract=ABSTRACT) for t in ["Deep Pointer Nets", "Pointer Networks", "Other"]])
    titles = [t for _, t in store.suggest_titles("pointer", 25)]
    assert titles == ["Pointer Networks", "Deep Pointer Nets"]
    assert len(store.suggest_titles("", 2)) == 2
    assert store.suggest_titles("100%_\\", 25) == []


def test_exact_title_and_id_lookups(store):
    report = store.upsert(
        [
            Paper(title="Attention Is All You Need", abstract=ABSTRACT, arxiv_id="1706.03762", source="a"),
            Paper(title="Other paper", abstract=ABSTRACT, ext_id="other-1", source="b"),
        ]
    )
    first, second = report.new
    assert store.find_exact("attention is all you need!") == [first]
    assert store.find_exact("1706.03762") == [first] and store.find_exact("other-1") == [second]
    assert store.find_exact("attention") == []
    assert store.get_by_ext_id("1706.03762").title == "Attention Is All You Need"
    assert store.get_many([first, second, 10**9]).keys() == {first, second}
    assert store.source_counts() == {"a": 1, "b": 1}


def test_a_title_match_ranks_above_an_abstract_match(store):
    store.upsert(
        [
            Paper(title="Methods", abstract="Zebra stripes confuse biting flies, we show."),
            Paper(title="Zebra stripes", abstract="Why some animals carry patterns on their coats."),
            Paper(title="Other", abstract=ABSTRACT),
        ]
    )
    hits = store.lexical_search(["zebra", "stripes"], 10)
    assert [store.get(i).title for i, _ in hits] == ["Zebra stripes", "Methods"]
    assert hits[0][1] > hits[1][1] > 0


def test_term_matches_say_which_candidates_contain_each_word(store):
    ids = store.upsert(
        [
            Paper(title="Zebra stripes", abstract="Stripes on zebras."),
            Paper(title="Horses", abstract="Horses run fast."),
        ]
    ).new
    matches = store.term_matches(["zebra", "horses"], ids)
    assert set(matches["zebra"].tolist()) & set(ids) == {ids[0]}
    assert set(matches["horses"].tolist()) & set(ids) == {ids[1]}
    freqs, total = store.doc_freqs(["zebra", "horses", "absent"])
    assert freqs == {"zebra": 1, "horses": 1, "absent": 0} and total == 2


def test_papers_written_through_another_connection_are_seen(open_store, monkeypatch):
    import retrieval.storage.postgres.store as pg_store

    monkeypatch.setattr(pg_store, "CHECK_EVERY", 0.0)  # PostgreSQL checks the change marker every few seconds
    mine = open_store().papers
    mine.upsert([Paper(title="Zebra stripes", abstract="Why zebras have stripes.")])
    assert mine.count() == 1 and len(mine.lexical_search(["zebra"], 10)) == 1
    open_store().papers.upsert([Paper(title="Zebra finches", abstract="Song learning in zebra finches.")])
    assert mine.count() == 2 and len(mine.lexical_search(["zebra"], 10)) == 2
    assert mine.doc_freqs(["zebra"]) == ({"zebra": 2}, 2)


def test_the_exclusive_lock_is_held_by_one_opener_at_a_time(open_store):
    first, second = open_store(), open_store()
    with first.exclusive("refresh") as mine:
        assert mine
        with second.exclusive("refresh") as theirs:
            assert not theirs
        with second.exclusive("other") as unrelated:
            assert unrelated
    with second.exclusive("refresh") as now_free:
        assert now_free


def test_papers_between_lists_each_paper_once_with_its_latest_day_in_the_range(store):
    store.upsert(
        [
            Paper(title="Early", abstract=ABSTRACT, ext_id="e", listed_on=date(2026, 11, 2)),
            Paper(title="Twice", abstract=ABSTRACT, ext_id="t", listed_on=date(2026, 11, 3)),
            Paper(title="Twice", abstract=ABSTRACT, ext_id="t", listed_on=date(2026, 11, 5)),
            Paper(title="Later", abstract=ABSTRACT, ext_id="l", listed_on=date(2026, 11, 9)),
        ]
    )
    found = store.papers_between(date(2026, 11, 3), date(2026, 11, 8))
    assert [(p.title, p.listed_on) for p in found] == [("Twice", date(2026, 11, 5))]
