"""The dense index on disk: persistence, incremental add, rebuilds, corrupt files."""

from __future__ import annotations

import json
import logging
from dataclasses import replace

import numpy as np

from retrieval.ingest import vector_key
from retrieval.storage.sqlite.index import MANIFEST
from tests.conftest import SETTINGS, make_papers


def current_gen(lib):
    manifest = json.loads((lib.index.directory / MANIFEST).read_text())
    return manifest, lib.index.directory / manifest["generation_dir"]


def test_the_index_persists_with_a_manifest_and_reloads_without_embedding(open_library):
    lib = open_library("a")
    lib.add_papers(make_papers(6))
    manifest, gen_dir = current_gen(lib)
    assert manifest["model"] == vector_key(lib.embedder) and manifest["dimension"] == lib.embedder.dimension
    assert manifest["papers"] == 6 and manifest["fingerprint"] == lib.index.fingerprint
    assert sorted(p.name for p in gen_dir.iterdir()) == [
        "paper_ids.npy",
        "papers.faiss",
        "sent_offsets.npy",
        "sent_vecs.npy",
    ]
    lib.close()
    again = open_library("a")
    assert again.index.generation == manifest["generation"]  # loaded, not rebuilt
    assert again.search("protein structure prediction", 1)[0].paper.ext_id == "paper-1"


def test_adding_papers_extends_the_index_without_reembedding_the_rest(open_library):
    lib = open_library()
    lib.add_papers(make_papers(4))
    old_id = lib.store.get_by_ext_id("paper-0").id
    before = lib.index.paper_vector(old_id).copy()
    report = lib.add_papers(make_papers(3, prefix="Extra"))
    assert len(report.new) == 3 and lib.index.size == 7
    assert np.array_equal(lib.index.paper_vector(old_id), before)
    assert lib.search("Extra 2: Speech recognition for low-resource languages", 1)[0].paper.ext_id == "extra-2"


def vector_rows(lib):
    with lib.storage.db.read() as conn:
        rows = conn.execute("SELECT paper_id, model, rowid, vectors FROM paper_vectors ORDER BY paper_id").fetchall()
    return [tuple(r) for r in rows]


def test_an_index_built_for_another_model_is_rebuilt_from_the_stored_vectors(open_library, caplog):
    lib = open_library("m")
    lib.add_papers(make_papers(3))
    manifest, _ = current_gen(lib)
    lib.close()
    manifest["model"] = "some-other-model"
    (lib.index.directory / MANIFEST).write_text(json.dumps(manifest))
    with caplog.at_level(logging.WARNING, logger="retrieval.storage.sqlite.index"):
        again = open_library("m")
    assert "rebuilding" in caplog.text and again.index.size == 3
    assert current_gen(again)[0]["model"] == vector_key(again.embedder)


def test_a_corrupt_faiss_file_is_rebuilt_from_stored_vectors_without_embedding_with_a_log_line(open_library, caplog):
    lib = open_library("c")
    lib.add_papers(make_papers(3))
    _, gen_dir = current_gen(lib)
    before = vector_rows(lib)
    lib.close()
    (gen_dir / "papers.faiss").write_bytes(b"garbage")
    with caplog.at_level(logging.WARNING, logger="retrieval.storage.sqlite.index"):
        again = open_library("c")
    assert "unusable" in caplog.text
    assert again.index.size == 3 and again.search("speech recognition word error rates", 1)[0].paper.ext_id == "paper-2"
    assert vector_rows(again) == before  # the same stored rows: nothing was embedded or written again


def test_truncated_vectors_or_a_garbled_manifest_are_rebuilt(open_library):
    lib = open_library("t")
    lib.add_papers(make_papers(3))
    _, gen_dir = current_gen(lib)
    lib.close()
    data = (gen_dir / "sent_vecs.npy").read_bytes()
    (gen_dir / "sent_vecs.npy").write_bytes(data[: len(data) // 2])
    assert open_library("t").index.size == 3
    (lib.index.directory / MANIFEST).write_text("{not json")
    assert open_library("t").index.size == 3


def test_a_missing_index_folder_is_rebuilt(open_library):
    import shutil

    lib = open_library("g")
    lib.add_papers(make_papers(2))
    directory = lib.index.directory
    before = vector_rows(lib)
    lib.close()
    shutil.rmtree(directory)
    again = open_library("g")
    assert again.index.size == 2 and vector_rows(again) == before


def test_another_process_adding_papers_is_picked_up_on_the_next_search(open_library):
    bot_side = open_library("shared")
    bot_side.add_papers(make_papers(2))
    cli_side = open_library("shared")
    cli_side.add_papers(make_papers(2, prefix="Fetched"))
    hits = bot_side.search("Fetched 1: Protein structure prediction with attention", 1)
    assert hits[0].paper.ext_id == "fetched-1" and bot_side.index.size == 4


def test_past_the_threshold_the_index_switches_to_hnsw_and_reloads_as_hnsw(open_library, monkeypatch):
    lib = open_library("h", settings=replace(SETTINGS, hnsw_threshold=6))
    lib.add_papers(make_papers(4))
    assert lib.index.index_type == "flat"
    lib.add_papers(make_papers(4, prefix="More"))
    assert lib.index.index_type == "hnsw" and current_gen(lib)[0]["index_type"] == "hnsw"
    lib.close()
    again = open_library("h", settings=replace(SETTINGS, hnsw_threshold=6))
    assert again.index.index_type == "hnsw" and again.index.size == 8
    assert again.search("More 3: Graph neural networks for molecules", 1)[0].paper.ext_id == "more-3"


def test_best_sentence_scores_agree_by_full_scan_and_by_gathering_candidates(library, monkeypatch):
    import retrieval.storage.sqlite.index

    qvec = library.embedder.encode_query("merging fine-tuned models without retraining")
    ids = [*sorted(library.index.position)[::7], 10**9]  # every 7th paper, and one the index does not know
    expected = np.array([library.index.sentence_scores(qvec, i).max() if i < 10**9 else 0.0 for i in ids])
    monkeypatch.setattr(retrieval.storage.sqlite.index, "FULL_SCAN_SENTENCES", 10**9)
    full = library.index.best_sentence_scores(qvec, ids)
    monkeypatch.setattr(retrieval.storage.sqlite.index, "FULL_SCAN_SENTENCES", 0)
    gathered = library.index.best_sentence_scores(qvec, ids)
    np.testing.assert_allclose(full, expected, atol=1e-6)
    np.testing.assert_allclose(gathered, expected, atol=1e-6)
