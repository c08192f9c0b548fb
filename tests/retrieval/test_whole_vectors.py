"""Whole-paper vectors ("title. abstract" as one text): stored with their papers on both backends,
backfilled (resumably) for libraries built before them, read by search as a signal."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from retrieval.ingest import embed_missing, embed_missing_whole, vector_key, whole_text
from retrieval.query.abstain import FEATURES, MODEL_FILE, CoverageModel, abstention_signals
from retrieval.text import text_hash
from tests.conftest import BACKENDS, make_papers


def test_the_whole_text_is_the_title_then_the_abstract():
    assert whole_text("Attention Is All You Need", "We propose.") == "Attention Is All You Need. We propose."
    assert whole_text("Is attention all you need?", " We ask. ") == "Is attention all you need? We ask."


@BACKENDS
def test_ingest_stores_one_whole_paper_vector_per_paper_and_search_scores_it(open_library):
    lib = open_library()
    papers = make_papers(5)
    report = lib.add_papers(papers)
    assert report.whole == 5 and report.seconds["whole"] > 0
    key = vector_key(lib.embedder)
    stored = lib.store.whole_vectors(key)
    assert len(stored) == 5
    by_ext = {p.ext_id: p for p in lib.store.get_many(sorted(stored)).values()}
    paper = by_ext["paper-4"]
    expected = lib.embedder.encode([whole_text(paper.title, paper.abstract)])[0]
    assert float(stored[paper.id] @ expected) > 0.999  # float16 storage, same model and text

    question = lib.embedder.encode_query("denoising image generation")
    ids = sorted(stored)
    scores = lib.index.whole_scores(question, [*ids, 10_000])
    assert np.allclose(scores[:-1], [stored[i] @ question for i in ids], atol=1e-5)
    assert np.isnan(scores[-1])  # no such paper: no whole-paper cosine

    result = lib.searcher.search("diffusion models for image synthesis", 3)
    assert result.hits[0].paper.ext_id == "paper-4"
    sig = result.signals
    assert sig is not None and len(sig.whole) == len(sig.ids)
    top = int(np.flatnonzero(sig.ids == paper.id)[0])
    assert sig.whole[top] == max(sig.whole) > 0.5
    signals = abstention_signals(result)
    assert len(signals) == len(FEATURES)
    assert signals[FEATURES.index("hit_whole")] == sig.whole[top]


@BACKENDS
def test_a_library_built_before_whole_vectors_is_backfilled_on_open_and_a_stopped_backfill_resumes(open_library):
    lib = open_library("older")
    lib.store.upsert(make_papers(6))  # papers as an older paperbot stored them: then sentence vectors only
    assert embed_missing(lib.store, lib.embedder).embedded == 6
    key = vector_key(lib.embedder)
    lacking = lib.store.papers_without_whole(key, 100)
    assert len(lacking) == 6
    # A backfill stopped after two papers: those stay, the next run encodes only the other four.
    first = lacking[:2]
    vectors = lib.embedder.encode([whole_text(t, a) for _, t, a in first])
    assert lib.store.add_whole(key, {i: (text_hash(t, a), v) for (i, t, a), v in zip(first, vectors, strict=True)})
    assert len(lib.store.papers_without_whole(key, 100)) == 4
    lib.close()

    again = open_library("older")  # opening backfills the rest
    assert again.store.papers_without_whole(key, 100) == []
    assert len(again.store.whole_vectors(key)) == 6
    assert embed_missing_whole(again.store, again.embedder).whole == 0
    assert not np.isnan(
        again.index.whole_scores(again.embedder.encode_query("molecules"), [i for i, _, _ in lacking])
    ).any()


@BACKENDS
def test_a_changed_abstract_gets_a_new_whole_paper_vector(open_library):
    lib = open_library()
    papers = make_papers(3)
    lib.add_papers(papers)
    key = vector_key(lib.embedder)
    before = lib.store.whole_vectors(key)
    changed = replace(papers[1], abstract="Entirely new text about coral reef bleaching. Oceans warm.")
    assert lib.add_papers([changed]).whole == 1
    after = lib.store.whole_vectors(key)
    pid = next(p.id for p in lib.store.get_many(sorted(after)).values() if p.ext_id == "paper-1")
    assert float(before[pid] @ after[pid]) < 0.9
    reef = lib.embedder.encode_query("coral reef bleaching")
    assert lib.index.whole_scores(reef, [pid])[0] > 0.5


def test_the_coverage_model_reads_the_signals_it_was_fitted_on(tmp_path):
    model = CoverageModel(
        weights=(2.0, -1.0),
        bias=0.5,
        mean=(0.5, 0.0),
        scale=(0.25, 1.0),
        threshold=0.5,
        manifest={"fitted_by": "this test"},
        features=("top_doc", "top_whole"),
    )
    path = tmp_path / "model.json"
    model.save(path)
    loaded = CoverageModel.load(path)
    assert loaded.features == ("top_doc", "top_whole")
    signals = [0.0] * len(FEATURES)
    signals[FEATURES.index("top_doc")], signals[FEATURES.index("top_whole")] = 0.75, 1.0
    z = 0.5 + 2.0 * (0.75 - 0.5) / 0.25 - 1.0 * 1.0
    assert abs(loaded.confidence(signals) - 1 / (1 + np.exp(-z))) < 1e-9
    assert CoverageModel.load(MODEL_FILE).features[:3] == ("top_sentence", "top_doc", "top_rrf")
