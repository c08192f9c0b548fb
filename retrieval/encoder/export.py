"""Export a sentence-transformers model's transformer to ONNX, once per model, in a shared cache.

The cache lives in ``$PAPERBOT_CACHE_DIR`` (default: the per-user cache folder), one folder per
model, keyed by the model folder's path and its files' sizes and times, so a new library
never re-exports. Each folder holds ``model.onnx`` (the transformer; pooling is done by the
embedder) and ``manifest.json`` (model, its weights' SHA-256, torch/onnx/onnxruntime versions,
opset, whether onnxruntime's BERT fusion was applied). Export runs in a child process
(``python -m retrieval.encoder.export``) so the calling process never imports torch: its
memory is returned when the export ends, and queries and builds stay torch-free. A
cross-process file lock makes concurrent first starts export once.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from filelock import FileLock, Timeout

from retrieval.encoder.spec import EmbedderError, ModelSpec, weights_sha256

log = logging.getLogger(__name__)

EXPORT_FORMAT = 1
OPSET = 17
ONNX_FILE = "model.onnx"
MANIFEST = "manifest.json"
LOCK_TIMEOUT_S = 900.0


def cache_root(cache_dir: Path | None = None) -> Path:
    """``cache_dir`` (``PAPERBOT_CACHE_DIR``), else the per-user cache folder."""
    if cache_dir:
        return Path(cache_dir).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("paperbot", appauthor=False))


def model_cache_dir(spec: ModelSpec, cache_dir: Path | None = None) -> Path:
    """The cache folder of one model under :func:`cache_root`."""
    return cache_root(cache_dir) / "onnx" / f"{spec.path.name}-{spec.cache_key()}"


def read_manifest(directory: Path) -> dict | None:
    """The manifest of an export folder, or None when it is missing or unreadable."""
    try:
        data = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def check_export(directory: Path) -> str | None:
    """Why the export in ``directory`` is unusable, or None when it looks whole (cheap: no hashing)."""
    manifest = read_manifest(directory)
    if manifest is None:
        return "no readable manifest"
    if manifest.get("format") != EXPORT_FORMAT:
        return f"export format {manifest.get('format')!r}, need {EXPORT_FORMAT}"
    try:
        size = (directory / ONNX_FILE).stat().st_size
    except OSError:
        return f"{ONNX_FILE} missing"
    if size != manifest.get("onnx_bytes"):
        return f"{ONNX_FILE} has {size} bytes, the manifest says {manifest.get('onnx_bytes')}"
    return None


def ensure_exported(spec: ModelSpec, *, cache_dir: Path | None = None, force: bool = False) -> Path:
    """The folder of a usable export of ``spec``, exporting it first if needed (once across processes)."""
    directory = model_cache_dir(spec, cache_dir)
    if not force and check_export(directory) is None:
        return directory
    directory.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(directory) + ".lock")
    try:
        with lock.acquire(timeout=LOCK_TIMEOUT_S):
            problem = "rebuild requested" if force else check_export(directory)
            if problem is None:
                return directory  # another process exported it while we waited
            if directory.exists():
                log.warning("ONNX export in %s is unusable (%s); exporting again", directory, problem)
            else:
                log.info("exporting %s to ONNX (once per model) into %s", spec.path, directory)
            _export_in_child(spec, directory)
    except Timeout as exc:
        raise EmbedderError(f"timed out waiting for another process exporting to {directory}") from exc
    return directory


def _export_in_child(spec: ModelSpec, directory: Path) -> None:
    tmp = directory.with_name(f".{directory.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    started = time.perf_counter()
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    # The child imports this package from where the parent did, installed or not.
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    done = subprocess.run(
        [sys.executable, "-m", "retrieval.encoder.export", str(spec.path), str(tmp)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0 or check_export(tmp) is not None:
        shutil.rmtree(tmp, ignore_errors=True)
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        log.debug("export stderr:\n%s", done.stderr)
        raise EmbedderError(f"cannot export {spec.path} to ONNX: {last}")
    if directory.exists():
        shutil.rmtree(directory)
    os.replace(tmp, directory)
    log.info("exported %s to ONNX in %.1f s", spec.path, time.perf_counter() - started)


# -- the child process (imports torch) ---------------------------------------------------


def export_model(model_dir: Path, out_dir: Path) -> dict:
    """Export ``model_dir``'s transformer to ``out_dir/model.onnx``, fuse it, write the manifest."""
    import onnx
    import onnxruntime
    import torch
    import transformers
    from transformers import AutoModel

    spec = ModelSpec.read(model_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # Eager attention exports as plain MatMul/Softmax, the pattern onnxruntime's fusion recognizes.
    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").float().eval()
    names = ["input_ids", "attention_mask"]
    if getattr(model.config, "type_vocab_size", 0):
        names.append("token_type_ids")

    class Transformer(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = model

        def forward(self, *args: torch.Tensor) -> torch.Tensor:
            return self.inner(**dict(zip(names, args, strict=True))).last_hidden_state

    dummy = tuple(torch.ones((2, 8), dtype=torch.long) for _ in names)
    raw = out_dir / "raw.onnx"
    axes = {n: {0: "batch", 1: "sequence"} for n in names}
    axes["last_hidden_state"] = {0: "batch", 1: "sequence"}
    with torch.no_grad():
        torch.onnx.export(
            Transformer(),
            dummy,
            str(raw),
            dynamo=False,
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=OPSET,
            do_constant_folding=True,
        )
    fused = False
    try:
        from onnxruntime.transformers.optimizer import optimize_model

        optimized = optimize_model(
            str(raw), model_type="bert", num_heads=spec.num_heads, hidden_size=spec.dimension, opt_level=1
        )
        optimized.save_model_to_file(str(out_dir / ONNX_FILE))
        counts = optimized.get_fused_operator_statistics()
        fused = bool(counts.get("Attention") or counts.get("MultiHeadAttention"))
        raw.unlink()
    except Exception as exc:  # fusion is an optimization: an unfusable graph still runs
        logging.getLogger(__name__).warning("BERT fusion failed (%s); keeping the plain graph", exc)
        os.replace(raw, out_dir / ONNX_FILE)
    onnx.checker.check_model(str(out_dir / ONNX_FILE))
    manifest = {
        "format": EXPORT_FORMAT,
        "model_path": str(spec.path),
        "weights_file": spec.weights.name,
        "weights_sha256": weights_sha256(spec.weights),
        "cache_key": spec.cache_key(),
        "opset": OPSET,
        "fused": fused,
        "inputs": names,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
        "onnx_bytes": (out_dir / ONNX_FILE).stat().st_size,
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    tmp = out_dir / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2))
    os.replace(tmp, out_dir / MANIFEST)
    return manifest


def main(argv: list[str] | None = None) -> int:
    """``python -m retrieval.encoder.export MODEL_DIR OUT_DIR`` (run by :func:`ensure_exported`)."""
    parser = argparse.ArgumentParser(description="export a sentence-transformers model to ONNX")
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    try:
        export_model(args.model_dir, args.out_dir)
    except EmbedderError as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
