"""The library's follow matching and weekly digest over a real store, index and model."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from retrieval.models import Follow
from retrieval.query.follows import parse_follow
from tests.conftest import make_papers


def follow(fid: int, user: int, kind: str, value: str) -> Follow:
    return Follow(id=fid, user_id=user, kind=kind, value=value, norm=parse_follow(kind, value)[1])


def test_a_topic_matches_the_papers_about_it_and_not_the_others(small_library):
    papers = small_library.papers_listed(date(2026, 11, 20), date(2026, 11, 20))
    found = small_library.follow_matches(papers, [follow(1, 7, "topic", "protein structure prediction")])
    titles = [m.paper.title for m in found[7]]
    assert titles and all("Protein" in t for t in titles)


def test_a_topic_about_nothing_in_the_library_matches_nothing(small_library):
    papers = small_library.papers_listed(date(2026, 11, 20), date(2026, 11, 20))
    assert small_library.follow_matches(papers, [follow(1, 7, "topic", "medieval tax law in Flanders")]) == {}


def test_an_author_matches_by_name(open_library):
    library = open_library()
    papers = [
        replace(p, authors=("Grace Hopper",) if i == 2 else ("Someone Else",)) for i, p in enumerate(make_papers(4))
    ]
    library.add_papers(papers)
    listed = library.papers_listed(date(2026, 11, 20), date(2026, 11, 20))
    found = library.follow_matches(listed, [follow(1, 7, "author", "grace HOPPER")])
    assert [m.paper.ext_id for m in found[7]] == ["paper-2"]


def test_the_weekly_digest_takes_the_seven_days_ending_the_day_each_paper_once(open_library):
    library = open_library()
    base = make_papers(6)
    days = [date(2026, 11, 13), date(2026, 11, 14), date(2026, 11, 19), date(2026, 11, 20), date(2026, 11, 21)]
    papers = [replace(p, listed_on=days[min(i, 4)]) for i, p in enumerate(base)]
    papers.append(replace(base[2], listed_on=date(2026, 11, 20)))  # listed twice in the week
    library.add_papers(papers)
    week = library.week_digest(date(2026, 11, 20), limit=10)
    assert (week.since, week.day) == (date(2026, 11, 14), date(2026, 11, 20))
    assert sorted(e.paper.ext_id for e in week.entries) == ["paper-1", "paper-2", "paper-3"]
    assert week.total == 3
    assert [e.paper.upvotes for e in week.entries] == [3, 2, 1]  # most upvoted first
