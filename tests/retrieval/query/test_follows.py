"""Matching papers to follows: authors by normalized name, topics by a cosine threshold."""

from __future__ import annotations

import pytest

from retrieval.models import Follow, Paper
from retrieval.query.follows import match_follows, normalize_author, parse_follow, same_author


def paper(pid: int, title: str, authors: tuple[str, ...] = (), upvotes: int = 0) -> Paper:
    return Paper(title=title, abstract="x.", id=pid, ext_id=f"p{pid}", authors=authors, upvotes=upvotes)


def follow(fid: int, user: int, kind: str, value: str) -> Follow:
    _, norm = parse_follow(kind, value)
    return Follow(id=fid, user_id=user, kind=kind, value=value, norm=norm)


@pytest.mark.parametrize(
    "a,b",
    [
        ("Łukasz Kaiser", "lukasz kaiser"),
        ("José  Hernández-Orallo", "jose hernandez orallo"),
        ("YANN LeCun", "yann lecun"),
    ],
)
def test_author_names_are_normalized_for_case_accents_and_punctuation(a, b):
    assert normalize_author(a) == b


@pytest.mark.parametrize(
    "followed,listed,same",
    [
        ("geoffrey hinton", "geoffrey hinton", True),
        ("g hinton", "geoffrey hinton", True),
        ("geoffrey hinton", "g e hinton", False),  # different number of names: not assumed
        ("geoffrey hinton", "george hinton", False),
        ("hinton", "geoffrey hinton", False),
        ("ada lovelace", "alan turing", False),
    ],
)
def test_an_initial_matches_a_first_name_but_different_names_do_not(followed, listed, same):
    assert same_author(followed, listed) is same


def test_authors_match_by_name_and_topics_by_threshold_each_user_apart():
    papers = [
        paper(1, "Attention tricks", ("Ada Lovelace", "Alan Turing"), upvotes=3),
        paper(2, "Robot hands", ("Grace Hopper",), upvotes=9),
        paper(3, "Unrelated", ("Someone Else",)),
    ]
    follows = [
        follow(1, 100, "author", "ADA lovelace"),
        follow(2, 100, "topic", "robots"),
        follow(3, 200, "topic", "robots"),
        follow(4, 300, "author", "Nobody Here"),
    ]
    cosines = {"robots": {1: 0.2, 2: 0.71, 3: 0.49}}
    found = match_follows(papers, follows, cosines, threshold=0.5)
    assert set(found) == {100, 200}
    assert [(m.paper.id, m.score) for m in found[100]] == [(1, 1.0), (2, 0.71)]
    assert found[100][0].follows == (follows[0],)
    assert [m.paper.id for m in found[200]] == [2]


def test_a_paper_matching_several_follows_appears_once_with_every_reason():
    papers = [paper(1, "Robot hands", ("Grace Hopper",))]
    follows = [follow(1, 100, "author", "Grace Hopper"), follow(2, 100, "topic", "robots")]
    found = match_follows(papers, follows, {"robots": {1: 0.8}}, threshold=0.5)
    assert len(found[100]) == 1 and found[100][0].follows == tuple(follows)
