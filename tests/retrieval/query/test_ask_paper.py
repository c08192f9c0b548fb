"""Asking about one paper: the paper by title, id or keywords; its sentences, or that it does not say."""

from __future__ import annotations

from retrieval.text import split_sentences

POINTS = "POINTS: Improving Your Vision-language Model with Affordable Strategies"


def test_asking_one_paper_by_title_quotes_that_paper_only(library):
    answer = library.ask_paper("how many parameters does the model have?", POINTS)
    assert not answer.abstained and answer.reason == ""
    assert [s.title for s in answer.sources] == [POINTS]
    sentences = split_sentences(library.get_paper(answer.sources[0].paper_id).abstract)
    assert "These innovations resulted in a 9B parameter model" in answer.quotes[0].text
    assert all(q.text in " ".join(sentences) for q in answer.quotes)
    assert answer.sources[0].url in answer.text


def test_the_paper_can_be_named_by_row_id_external_id_or_a_part_of_its_title(library):
    paper = library.resolve_paper(POINTS)
    assert paper is not None and paper.id is not None
    assert library.resolve_paper(paper.id) == paper
    assert library.resolve_paper(str(paper.ext_id)) == paper
    assert library.resolve_paper("points: improving your vision-language") == paper
    by_id = library.ask_paper("what data did they train on?", paper.id)
    assert by_id.sources[0].paper_id == paper.id


def test_keywords_that_match_no_title_name_no_paper(library):
    answer = library.ask_paper("what dataset did they use?", "sourdough bread fermentation")
    assert answer.abstained and answer.reason == "no_such_paper" and answer.sources == ()
    assert "No paper in the library matches 'sourdough bread fermentation'" in answer.text
    assert library.ask_paper("what dataset?", 10**9).reason == "no_such_paper"


def test_a_question_the_abstract_does_not_answer_is_said_so_with_the_paper_linked(library):
    answer = library.ask_paper("what is the best recipe for a vegetarian lasagna?", POINTS)
    assert answer.abstained and answer.reason == "not_in_paper" and answer.quotes == ()
    assert f'"{POINTS}" does not say' in answer.text and answer.sources[0].url in answer.text


def test_an_empty_question_about_a_paper_gets_the_usual_message(library):
    answer = library.ask_paper("   ", POINTS)
    assert answer.abstained and answer.reason == "empty"
