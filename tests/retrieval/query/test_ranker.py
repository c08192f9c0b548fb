"""The learned ranker: its features, its JSON file, and how it reorders the fused top."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from retrieval.query.ranker import RANK_FEATURES, LearnedRanker, candidate_features, shipped_ranker
from retrieval.query.search import Signals, fuse_scores


def _signals(n: int, exact: tuple[int, ...] = ()) -> Signals:
    rng = np.random.default_rng(3)
    return Signals(
        ids=np.arange(1, n + 1, dtype=np.int64),
        doc=rng.uniform(0.1, 0.6, n),
        sent=rng.uniform(0.1, 0.7, n),
        lex=rng.uniform(0.0, 5.0, n),
        cover=rng.uniform(0.0, 1.0, n),
        exact=set(exact),
        topic="sparse experts",
        qvec=np.zeros(4, dtype=np.float32),
        terms=["sparse", "experts"],
        term_idf={"sparse": 2.0, "experts": 2.0},
        whole=rng.uniform(0.1, 0.6, n),
    )


def _title_model(rerank: int = 5) -> LearnedRanker:
    """A model that reads only the title match."""
    weights = [0.0] * len(RANK_FEATURES)
    weights[RANK_FEATURES.index("title")] = 5.0
    n = len(RANK_FEATURES)
    return LearnedRanker(tuple(weights), (0.0,) * n, (1.0,) * n, {"fitted_by": "this test"}, rerank=rerank)


def test_features_are_standard_scores_over_every_candidate_and_the_title_words():
    sig = _signals(6)
    fused = fuse_scores(sig)
    rows = np.array([0, 3])
    x = candidate_features(sig, fused, rows, {1: "Sparse experts at scale", 4: "Dense models"})
    assert x.shape == (2, len(RANK_FEATURES))
    z_doc = (sig.doc - sig.doc.mean()) / sig.doc.std()
    assert x[:, RANK_FEATURES.index("z_doc")] == pytest.approx(z_doc[rows])
    assert x[:, RANK_FEATURES.index("whole")] == pytest.approx(sig.whole[rows])
    assert list(x[:, RANK_FEATURES.index("title")]) == [1.0, 0.0]


def test_the_model_reorders_only_the_fused_top_and_exact_matches_stay_first():
    sig = _signals(8, exact=(2,))
    fused = fuse_scores(sig)
    top = np.argsort(-fused, kind="stable")[:5]
    titles = {int(sig.ids[j]): "Unrelated" for j in top}
    fourth = int(sig.ids[top[3]])
    titles[fourth] = "Sparse experts"
    ranked = _title_model().reorder(sig, fused, titles)
    order = [int(sig.ids[j]) for j in np.argsort(-ranked, kind="stable")]
    assert order[0] == 2  # the exact title / id match
    assert order[1] == fourth  # the title match, from fourth place (or fifth, behind the exact match)
    assert set(order[:5]) == {int(sig.ids[j]) for j in top}  # the rest stay below, in fused order
    rest = [int(sig.ids[j]) for j in np.argsort(-fused, kind="stable")[5:]]
    assert order[5:] == rest


def test_the_model_file_round_trips_and_a_foreign_or_missing_one_means_hand_set_fusion(tmp_path, caplog):
    path = tmp_path / "ranker.json"
    model = _title_model(rerank=12)
    model.save(path)
    loaded = LearnedRanker.load(path)
    assert loaded == model
    assert shipped_ranker(tmp_path / "absent.json") is None
    data = json.loads(path.read_text())
    data["features"] = ["z_doc", "something_else"]
    path.write_text(json.dumps(data))
    with caplog.at_level(logging.WARNING):
        assert shipped_ranker(path) is None
    assert "hand-set fusion" in caplog.text


def test_the_library_ranks_with_the_shipped_model_unless_fusion_weights_are_set(tmp_path):
    from dataclasses import replace

    from retrieval.library import Library
    from tests.conftest import SETTINGS, make_papers

    learned = Library.open(tmp_path / "lib", settings=SETTINGS, seed_default_corpus=False)
    try:
        assert learned.searcher.ranker is not None and learned.searcher.ranker.manifest["fitted_by"]
        learned.add_papers(make_papers(8))
        assert learned.search("sparse mixture of experts routing", 3)[0].paper.ext_id == "paper-0"
    finally:
        learned.close()
    hand = Library.open(
        tmp_path / "lib", settings=replace(SETTINGS, fusion_weights=(1.0, 1.0, 0.5, 0.5)), seed_default_corpus=False
    )
    try:
        assert hand.searcher.ranker is None
        assert hand.search("sparse mixture of experts routing", 3)[0].paper.ext_id == "paper-0"
    finally:
        hand.close()
