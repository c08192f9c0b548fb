"""Asking one paper's full text through the library, on both backends, against a local arXiv look-alike."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bench.fulltext_docs import DocumentServer, load_specs, spec_paper
from bench.fulltext_eval import evaluate_fulltext
from bot.cli import main
from retrieval.models import Basis, Paper, Reason
from tests.conftest import BACKENDS, DATA, SETTINGS

SPECS = load_specs()


@pytest.fixture
def arxiv():
    server = DocumentServer(SPECS)
    yield server
    server.close()


def settings_for(server: DocumentServer):
    return replace(SETTINGS, arxiv_base=server.base_url, arxiv_interval=0.0)


@BACKENDS
def test_a_question_is_quoted_from_the_full_text_with_its_section_fetched_once_for_everyone(open_library, arxiv):
    lib = open_library("a", settings=settings_for(arxiv))
    lib.add_papers([spec_paper(spec) for spec in SPECS[:2]])
    answer = lib.ask_paper("what learning rate did they use?", "2511.00101")
    assert answer.basis == Basis.FULL_TEXT and not answer.abstained and answer.reason == Reason.NONE
    assert "learning rate of 3e-4" in answer.quotes[0].text
    assert answer.quotes[0].section == "§4.1 Experimental Setup" == answer.sources[0].section
    assert "§4.1 Experimental Setup" in answer.text and answer.sources[0].url in answer.text
    assert answer.to_json()["sources"][0]["section"] == "§4.1 Experimental Setup"
    assert arxiv.requests == ["html/2511.00101"]
    # Another library on the same storage (another process, another server) reads it back: no request.
    other = open_library("a", settings=settings_for(arxiv))
    again = other.ask_paper("is the code available?", "2511.00101")
    assert "github.com/example/sparseroute" in again.quotes[0].text and arxiv.requests == ["html/2511.00101"]
    record = other.storage.fulltext.get_fulltext(lib.resolve_paper("2511.00101").id)
    assert record.status == "ok" and record.text.source == "html" and record.fetched_at is not None
    assert record.text.sections[0].heading == "Abstract"


@BACKENDS
def test_without_a_full_text_it_answers_from_the_abstract_and_says_so(open_library, arxiv):
    lib = open_library("b", settings=settings_for(arxiv))
    missing = Paper(
        title="Pruning convolutional filters for medical image classification",
        abstract="We prune convolutional filters by their gradient norm. Pruned models keep accuracy with 60% fewer "
        "filters on chest X-ray classification.",
        ext_id="2511.09999",
        arxiv_id="2511.09999",
        source="test",
    )
    no_id = replace(missing, title="Another pruning study", ext_id="no-arxiv", arxiv_id=None)
    lib.add_papers([missing, no_id])
    answer = lib.ask_paper("how many fewer filters do pruned models have?", "2511.09999")
    assert answer.basis == Basis.ABSTRACT and not answer.abstained and "60% fewer" in answer.quotes[0].text
    assert "could not be had" in answer.note and "404" in answer.note and answer.note in answer.text
    assert arxiv.requests == ["html/2511.09999", "pdf/2511.09999"]
    lib.ask_paper("what do they prune?", "2511.09999")
    assert len(arxiv.requests) == 2  # a 404 is remembered, not asked again on every question
    answer = lib.ask_paper("how many fewer filters?", "no-arxiv")
    assert "no arXiv id" in answer.note and len(arxiv.requests) == 2


@BACKENDS
def test_does_not_say_only_when_neither_full_text_nor_abstract_says(open_library, arxiv):
    lib = open_library("c", settings=settings_for(arxiv))
    lib.add_papers([spec_paper(SPECS[3])])
    answer = lib.ask_paper("what is the recipe for sourdough bread?", SPECS[3]["arxiv_id"])
    assert answer.abstained and answer.reason == Reason.NOT_IN_PAPER and answer.basis == Basis.FULL_TEXT
    assert "full text or abstract" in answer.text


def test_a_network_failure_is_not_remembered(tmp_path: Path):
    from retrieval.library import Library

    # Nothing listens on this port: every try fails to connect.
    settings = replace(SETTINGS, arxiv_base="http://127.0.0.1:9", arxiv_interval=0.0)
    lib = Library.open(tmp_path / "lib", settings=settings, seed_default_corpus=False)
    try:
        lib.fulltexts.config = replace(
            lib.fulltexts.config, feed=replace(lib.fulltexts.config.feed, retries=0, connect_timeout=0.5)
        )
        lib.add_papers([spec_paper(SPECS[0])])
        answer = lib.ask_paper("what do they propose?", SPECS[0]["arxiv_id"])
        assert answer.basis == Basis.ABSTRACT and "cannot connect" in answer.note
        assert lib.storage.fulltext.get_fulltext(lib.resolve_paper(SPECS[0]["arxiv_id"]).id) is None
    finally:
        lib.close()


def test_paperbot_fulltext_all_is_resumable_with_progress(tmp_path: Path, arxiv, monkeypatch, capsys):
    monkeypatch.setenv("PAPERBOT_ARXIV_BASE", arxiv.base_url)
    monkeypatch.setenv("PAPERBOT_ARXIV_INTERVAL", "0")
    corpus = tmp_path / "papers.jsonl"
    corpus.write_text(
        "\n".join(
            f'{{"id": "{s["arxiv_id"]}", "arxiv_id": "{s["arxiv_id"]}", "title": "{s["title"]}", "abstract": "{s["abstract"]}"}}'
            for s in SPECS[:3]
        )
        + '\n{"id": "gone", "arxiv_id": "2511.08888", "title": "A paper arXiv lost", "abstract": "Nothing here. At all."}\n'
    )
    where = ["--data-dir", str(tmp_path / "lib")]
    assert main([*where, "index", "--no-default-corpus", "--corpus", str(corpus)]) == 0
    capsys.readouterr()
    assert main([*where, "fulltext", SPECS[0]["arxiv_id"]]) == 0
    assert "html, 10 sections" in capsys.readouterr().out
    assert main([*where, "fulltext", "--all"]) == 0
    out = capsys.readouterr().out
    assert out.count("html,") == 2 and "2511.08888: no full text" in out and "[3]" in out
    assert "2 fetched, 1 without a full text" in out
    requests = len(arxiv.requests)
    assert main([*where, "fulltext", "--all"]) == 0  # resumed: nothing left to fetch
    assert "done: 0 fetched" in capsys.readouterr().out and len(arxiv.requests) == requests
    assert main([*where, "fulltext"]) == 2


def test_dev_and_held_out_questions_are_answered_from_the_full_text():
    """The figures in the README (`paperbot eval --fulltext`): the quote holds the answer."""
    sets = {"dev": DATA / "fulltext_questions.jsonl", "holdout": DATA / "fulltext_holdout.jsonl"}
    results = evaluate_fulltext(sets, SETTINGS)
    assert results["dev"]["questions"] + results["holdout"]["questions"] >= 40
    assert results["dev"]["quote_holds_answer"] >= 0.95 and results["holdout"]["quote_holds_answer"] >= 0.9
    assert results["dev"]["from_full_text"] == 1.0 and results["dev"]["unanswerable_abstained"] == 1


@BACKENDS
def test_a_thread_context_is_stored_survives_reopening_expires_and_answers_from_its_papers(open_library, arxiv):
    from datetime import UTC, datetime, timedelta

    lib = open_library("t", settings=settings_for(arxiv))
    lib.add_papers([spec_paper(spec) for spec in SPECS])
    ids = [lib.resolve_paper(SPECS[i]["arxiv_id"]).id for i in (2, 0)]
    lib.full_text(lib.get_paper(ids[1]))  # SparseRoute's full text is fetched; DraftExit's is not
    lib.open_thread(77, 5, ids)
    other = open_library("t", settings=settings_for(arxiv))  # another process, or after a restart
    assert other.thread_context(77).paper_ids == tuple(ids) and other.thread_context(78) is None
    requests = len(arxiv.requests)
    answer = other.ask_in_context("what batch size do they train with?", ids)
    assert "batch size of 512" in answer.quotes[0].text and answer.quotes[0].section.startswith("§4.1")
    assert len(arxiv.requests) == requests  # a thread uses what is fetched; it fetches nothing
    answer = other.ask_in_context("by how much does DraftExit accelerate generation?", ids)
    assert "2.1x" in answer.quotes[0].text and answer.sources[0].paper_id == ids[0]
    # Nothing of the thread's papers says: the library is asked.
    assert not other.ask_in_context("geographic reasoning benchmark for vision-language models", ids).abstained
    threads = other.storage.state.threads
    assert threads.get_thread(77, datetime.now(UTC) + timedelta(days=8)) is None  # expired
    assert threads.drop_expired(datetime.now(UTC) + timedelta(days=8)) == 1 and other.thread_context(77) is None
    lib.open_thread(79, None, ids)
    assert other.close_thread(79) and not other.close_thread(79)
