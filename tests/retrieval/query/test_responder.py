"""Extractive answers on the bundled corpus: quotes, links, abstention, bad input."""

from __future__ import annotations

from retrieval.text import split_sentences


def test_an_answer_quotes_verbatim_sentences_of_the_cited_papers(library):
    answer = library.ask("Which optimizer adapts per-parameter learning rates from gradient moment estimates?")
    assert not answer.abstained
    assert answer.sources[0].title == "Adam: A Method for Stochastic Optimization"
    assert 1 <= len(answer.quotes) <= 3
    quoted = 0
    for quote in answer.quotes:
        source = answer.sources[quote.source_index]
        sentences = split_sentences(library.get_paper(source.paper_id).abstract)
        runs = {
            " ".join(sentences[i:j]): j - i for i in range(len(sentences)) for j in range(i + 1, len(sentences) + 1)
        }
        assert quote.text in runs  # whole, adjacent sentences, verbatim
        quoted += runs[quote.text]
        assert quote.text in answer.text
    assert 1 <= quoted <= 3
    assert answer.sources[0].url in answer.text


def test_adjacent_quoted_sentences_become_one_passage_as_the_abstract_has_them():
    from retrieval.models import Hit, Paper
    from retrieval.query.responder import select_quotes
    from retrieval.query.search import SearchResult

    sentences = ["A one.", "B two.", "C three.", "D four.", "E five."]
    paper = Paper(id=1, title="T", abstract=" ".join(sentences))
    scores = [0.1, 2.0, 1.9, 0.2, 1.8]
    result = SearchResult(
        "q", [Hit(paper=paper, score=1.0)], 1, sentences={1: list(zip(sentences, scores, strict=True))}
    )
    quotes = select_quotes(result)
    assert [q.text for q in quotes] == ["B two. C three.", "E five."]
    assert all(q.text in paper.abstract for q in quotes) and quotes[0].score == 2.0


def test_links_come_from_stored_data_only(library):
    answer = library.ask("real-time animatable head avatars with gaussian splats")
    top = answer.sources[0]
    assert top.title.startswith("HeadGaS")
    # The saved pages carry no arXiv id: a search link, never an invented /papers/<id>.
    assert top.url.startswith("https://huggingface.co/papers?q=HeadGaS")
    assert not any("arxiv.org" in link.url for link in top.links)


def test_a_question_outside_the_library_abstains_but_offers_the_closest_titles(library):
    answer = library.ask("What is the best recipe for a vegetarian lasagna?", top_k=4)
    assert answer.abstained and answer.reason == "not_covered"
    assert f"Not covered by the {library.store.count()} papers I know" in answer.text
    assert len(answer.sources) == 4 and answer.quotes == ()
    assert answer.sources[0].title in answer.text


def test_sources_come_in_rank_order_and_top_k_is_respected(library):
    answer = library.ask("in-context learning in transformers", top_k=7)
    assert len(answer.sources) == 7
    scores = [s.score for s in answer.sources]
    assert scores == sorted(scores, reverse=True)


def test_an_exact_title_ranks_first(library):
    answer = library.ask("pointer networks")
    assert answer.sources[0].title == "Pointer Networks"


def test_empty_and_mention_only_questions_get_a_clear_message(library):
    for question in ["", "   ", "@everyone", "<@1234567890> ?!"]:
        answer = library.ask(question)
        assert answer.abstained and answer.reason == "empty" and answer.sources == ()
        assert "Please ask a question" in answer.text


def test_huge_unicode_and_mention_laden_questions_are_answered_safely(library):
    huge = "How do neural networks prune filters? " * 300
    assert len(huge) > 10_000
    answer = library.ask(huge)
    assert len(answer.question) <= 500 and answer.sources
    answer = library.ask("@everyone @here ¿Qué artículo habla de 🤖 in-context learning? <@&999>")
    assert "@everyone" not in answer.question and "@here" not in answer.question and "<@&" not in answer.question
    assert "@everyone" not in answer.text and answer.sources
