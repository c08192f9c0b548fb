"""The dense index: FAISS over paper vectors plus per-sentence vectors, persisted as plain files.

Layout of the index folder::

    manifest.json        what built it (model, dimension, corpus fingerprint) and which generation is current
    gen-000007/
        papers.faiss     faiss.write_index of the paper vectors (inner product on normalized vectors)
        paper_ids.npy    store row id of each FAISS position (int64)
        sent_vecs.npy    one vector per abstract sentence (float16, rows grouped by paper)
        sent_offsets.npy paper i's sentences are rows offsets[i]:offsets[i+1] (int64)

A new generation is written in full (in ``.gen-000007.tmp``, renamed when complete), then
``manifest.json`` is replaced atomically (``os.replace``), so a reader never sees a half-written
index, and old generations are removed. The manifest holds the sha256 of every file: a file
changed in place (a bad disk, a stray write) is detected at load. When the files cannot be
written (a full disk) the index stays in memory and serves questions; it is written on a
later change or start. Leftover temporary files are removed at load. No pickles. The index is derived data: the sentence vectors live in the store
(written by ``retrieval.ingest`` with their papers), so a missing, corrupt or foreign index
is rebuilt from the stored vectors without embedding anything.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from retrieval.models import SHARED, Scope
from retrieval.storage.rules import paper_vectors
from retrieval.storage.sqlite.files import (
    FILES,
    IndexCorrupt,
    file_sha256,
    is_writable,
    remove_leftovers,
    verify_files,
    write_atomic,
    write_file,
)
from retrieval.storage.sqlite.selector import ScopeFilter
from retrieval.storage.sqlite.store import SqlitePaperStore, corpus_fingerprint

log = logging.getLogger(__name__)

# 2: paper vectors are the mean of sentence vectors. 3: derived from the vectors in the store.
# 4: the manifest holds each file's sha256.
FORMAT = 4
MANIFEST = "manifest.json"
# From this many papers the dense index is HNSW: measured by `paperbot bench`, exact search costs
# ~1.8 ms at 10,000 papers and ~15 ms at 100,000, where HNSW (efSearch 128) answers in ~1 ms at
# recall@10 0.99; candidates are re-scored exactly afterwards either way.
HNSW_THRESHOLD = 20_000  # the default of PAPERBOT_HNSW_THRESHOLD
# Sentence vectors up to this size are held in RAM as float32; larger ones stay memory-mapped float16.
RAM_SENTENCE_BYTES = 256 * 1024 * 1024
HNSW_M = 32
HNSW_EF_SEARCH = 128
# Up to this many sentences, best-sentence scores come from one product over all of them
# (0.03 ms for the bundled corpus's 3,307 against 0.25 ms to gather ~150 candidates' rows).
FULL_SCAN_SENTENCES = 20_000


def make_faiss_index(vectors: np.ndarray, dimension: int, kind: str) -> faiss.Index:
    """A FAISS index of ``kind`` ("flat" or "hnsw") holding ``vectors``."""
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        index = faiss.IndexFlatIP(dimension)
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


@dataclass
class _Arrays:
    faiss_index: faiss.Index
    doc_vecs: np.ndarray
    paper_ids: np.ndarray
    sent_vecs: np.ndarray
    sent_offsets: np.ndarray


class SqliteVectorIndex:
    """Paper and sentence vectors for the papers of a store."""

    def __init__(
        self, directory: Path, dimension: int, model: str, read_only: bool = False, hnsw_threshold: int = HNSW_THRESHOLD
    ) -> None:
        self.directory = directory
        self.hnsw_threshold = hnsw_threshold
        # Read-only: loaded (or built in memory) and never written, no lock file taken.
        self.read_only = read_only
        # Why the files on disk are behind the index in memory (a failed save), or None.
        self.unsaved: str | None = None
        self.dimension = dimension
        # The name the store keeps this model's vectors under (see retrieval.ingest.vector_key).
        self.model = model
        self.fingerprint = ""
        self.generation = 0
        self.index_type = "flat"
        self.marker: tuple[int, int, str] = (0, 0, "")
        self.data_version = -1
        # Which positions each scope may not see (a FAISS id selector per collection).
        self.filter = ScopeFilter()
        # Whole-paper vectors ("title. abstract" as one text) by paper id: read from the store, not
        # kept in the index files (a 384-float16 row per paper; 5,000 papers read in a few ms).
        self._whole: dict[int, np.ndarray] = {}
        # The same, as rows by index position (NaN rows for papers without one): one product per question.
        self._whole_mat = np.zeros((0, dimension), np.float32)
        self._set(self._empty())

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        directory: Path,
        store: SqlitePaperStore,
        dimension: int,
        model: str,
        read_only: bool = False,
        hnsw_threshold: int = HNSW_THRESHOLD,
    ) -> SqliteVectorIndex:
        """Load the index in ``directory`` and bring it in line with the store's vectors (extend or rebuild).

        ``read_only``: nothing is written; an index that needs rebuilding is rebuilt in memory.
        """
        if not read_only:
            directory.mkdir(parents=True, exist_ok=True)
            read_only = not is_writable(directory)
        index = cls(directory, dimension, model, read_only, hnsw_threshold)
        if not read_only:
            for name in remove_leftovers(directory):
                log.info("removed %s left in %s by an unfinished index save", name, directory)
        try:
            index._load()
        except IndexCorrupt as exc:
            if (directory / MANIFEST).exists():
                log.warning("index in %s is unusable (%s); rebuilding it from the stored vectors", directory, exc)
            else:
                log.info("no index in %s yet; building it", directory)
            index._set(index._empty())
            index.fingerprint = ""
        index.sync(store)
        return index

    def _empty(self) -> _Arrays:
        dim = self.dimension
        return _Arrays(
            make_faiss_index(np.zeros((0, dim), np.float32), dim, "flat"),
            np.zeros((0, dim), np.float32),
            np.zeros(0, np.int64),
            np.zeros((0, dim), np.float16),
            np.zeros(1, np.int64),
        )

    def _set(self, arrays: _Arrays) -> None:
        self._a = arrays
        self.position = {int(pid): pos for pos, pid in enumerate(arrays.paper_ids)}

    def _load(self) -> None:
        manifest_path = self.directory / MANIFEST
        try:
            manifest = json.loads(manifest_path.read_text())
        except FileNotFoundError as exc:
            raise IndexCorrupt("no manifest") from exc
        except (OSError, ValueError) as exc:
            raise IndexCorrupt(f"unreadable manifest: {exc}") from exc
        if not isinstance(manifest, dict):
            raise IndexCorrupt("manifest is not an object")
        expected = {
            "format": FORMAT,
            "model": self.model,
            "dimension": self.dimension,
        }
        for key, value in expected.items():
            if manifest.get(key) != value:
                raise IndexCorrupt(f"built with {key}={manifest.get(key)!r}, need {value!r}")
        gen_dir = self.directory / str(manifest.get("generation_dir", ""))
        verify_files(manifest, gen_dir)
        try:
            faiss_index = faiss.read_index(str(gen_dir / "papers.faiss"))
            paper_ids = np.load(gen_dir / "paper_ids.npy", allow_pickle=False)
            sent_vecs = np.load(gen_dir / "sent_vecs.npy", allow_pickle=False, mmap_mode="r")
            offsets = np.load(gen_dir / "sent_offsets.npy", allow_pickle=False)
        except (OSError, ValueError, RuntimeError) as exc:  # faiss raises RuntimeError on bad files
            raise IndexCorrupt(f"cannot read index files: {exc}") from exc
        n = len(paper_ids)
        consistent = (
            faiss_index.ntotal == n
            and faiss_index.d == self.dimension
            and offsets.shape == (n + 1,)
            and sent_vecs.ndim == 2
            and sent_vecs.shape[1] == self.dimension
            and int(offsets[-1]) == sent_vecs.shape[0]
            and n == manifest.get("papers")
        )
        if not consistent:
            raise IndexCorrupt("index files disagree with each other or with the manifest")
        doc_vecs = faiss_index.reconstruct_n(0, n) if n else np.zeros((0, self.dimension), np.float32)
        self._set(
            _Arrays(
                faiss_index,
                doc_vecs,
                paper_ids.astype(np.int64),
                self._sentence_matrix(sent_vecs),
                offsets.astype(np.int64),
            )
        )
        self.fingerprint = str(manifest.get("fingerprint", ""))
        self.generation = int(manifest.get("generation", 0))
        self.index_type = str(manifest.get("index_type", "flat"))

    # -- keeping in line with the store --------------------------------------------------

    def sync(self, store: SqlitePaperStore) -> None:
        """Add stored vectors the index lacks; rebuild (from stored vectors) when texts changed or papers vanished."""
        with self._write_lock():
            marker = store.change_marker()
            pairs = store.vector_hashes(self.model)
            have = [int(i) for i in self._a.paper_ids]
            reset = bool(have) and corpus_fingerprint(pairs, have) != self.fingerprint
            if reset:
                log.warning("stored papers changed since the index was built; rebuilding it from the stored vectors")
                self._set(self._empty())
                have = []
            missing = sorted(set(pairs) - set(have))
            if missing or reset or self.unsaved:
                self._extend(store, missing)
                self.fingerprint = corpus_fingerprint(pairs, [int(i) for i in self._a.paper_ids])
                self._try_save()
            if reset:
                self._whole = {}
            lacking = [int(i) for i in self._a.paper_ids if int(i) not in self._whole]
            if lacking:
                self._whole.update(store.whole_vectors(self.model, lacking))
            if lacking or reset or len(self._whole_mat) != self.size:
                self._whole_matrix()
            self.marker = marker
            self.data_version = store.data_version()
            self.filter.place(store.owners(), self.position, self.size)

    def rebuild(self, store: SqlitePaperStore) -> None:
        """Rebuild the index from the stored vectors."""
        with self._write_lock():
            self._set(self._empty())
            self.fingerprint = ""
        self.sync(store)

    def refresh(self, store: SqlitePaperStore) -> None:
        """Sync when another process changed the papers (O(1) when nothing did)."""
        if self.is_stale(store):
            self.sync(store)

    def is_stale(self, store: SqlitePaperStore) -> bool:
        """True when another connection changed the papers since the last sync.

        Changes made through this process's own store are synced by ``Library.add_papers``;
        the cheap ``data_version`` check keeps the per-question cost O(1).
        """
        version = store.data_version()
        if version == self.data_version:
            return False
        self.data_version = version
        return store.change_marker() != self.marker

    def _extend(self, store: SqlitePaperStore, wanted: list[int]) -> None:
        if not wanted:
            return
        started = time.perf_counter()
        ids, groups = [], []
        for paper_id, _, vectors in store.iter_vectors(self.model, wanted):
            ids.append(paper_id)
            groups.append(vectors)
        if not ids:
            return
        counts = np.array([len(g) for g in groups], dtype=np.int64)
        sent_vecs = np.concatenate(groups)
        del groups  # peak memory of a large rebuild
        doc_vecs = paper_vectors(sent_vecs, counts)
        a = self._a
        all_docs = np.concatenate([a.doc_vecs, doc_vecs])
        kind = "hnsw" if len(all_docs) >= self.hnsw_threshold else "flat"
        if kind == self.index_type and len(a.doc_vecs):
            faiss_index = a.faiss_index
            faiss_index.add(doc_vecs)
        else:
            faiss_index = make_faiss_index(all_docs, self.dimension, kind)
        self.index_type = kind
        offsets = np.concatenate([a.sent_offsets, a.sent_offsets[-1] + np.cumsum(counts)])
        self._set(
            _Arrays(
                faiss_index,
                all_docs,
                np.concatenate([a.paper_ids, np.asarray(ids, dtype=np.int64)]),
                self._sentence_matrix(
                    np.concatenate([np.asarray(a.sent_vecs, dtype=np.float16), sent_vecs])
                    if len(a.sent_vecs)
                    else sent_vecs
                ),
                offsets,
            )
        )
        log.info("indexed %d papers (%d sentences) in %.2f s", len(ids), len(sent_vecs), time.perf_counter() - started)

    @staticmethod
    def _sentence_matrix(vectors: np.ndarray) -> np.ndarray:
        # Small enough for RAM as float32: scoring then skips a float16 conversion per question.
        return np.asarray(vectors, dtype=np.float32) if vectors.size * 4 <= RAM_SENTENCE_BYTES else vectors

    @contextlib.contextmanager
    def _write_lock(self) -> Iterator[None]:
        # One writer at a time across processes (the bot and a `paperbot fetch` may share a library).
        if self.read_only:
            yield
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / ".lock", "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _try_save(self) -> None:
        """Save, or keep serving from memory with one warning when the files cannot be written."""
        if self.read_only:
            log.info("index of %s kept in memory only (read-only)", self.directory)
            return
        try:
            self._save()
        except OSError as exc:
            self.unsaved = exc.strerror or str(exc)
            full = " (the disk is full)" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else ""
            log.warning(
                "cannot save the search index in %s: %s%s; questions are answered from the index in memory"
                " and nothing is lost (it is rebuilt from the stored vectors on the next start)",
                self.directory,
                self.unsaved,
                full,
            )
        else:
            self.unsaved = None

    def _save(self) -> None:
        self.generation += 1
        name = f"gen-{self.generation:06d}"
        gen_dir = self.directory / name
        if gen_dir.exists():
            shutil.rmtree(gen_dir)
        tmp_dir = self.directory / f".{name}.tmp"
        shutil.rmtree(tmp_dir, ignore_errors=True)
        try:
            self._write_generation(tmp_dir)
            os.replace(tmp_dir, gen_dir)
        except BaseException:
            shutil.rmtree(tmp_dir, ignore_errors=True)
            raise
        try:
            self._write_manifest(name, gen_dir)
        except BaseException:
            shutil.rmtree(gen_dir, ignore_errors=True)  # the manifest still names the previous generation
            raise
        for old in self.directory.glob("gen-*"):
            if old.name != name:
                shutil.rmtree(old, ignore_errors=True)

    def _write_generation(self, tmp_dir: Path) -> None:
        tmp_dir.mkdir(parents=True)
        a = self._a
        # serialize_index, not write_index: Python writes the bytes, so a full disk is an OSError (ENOSPC).
        write_file(tmp_dir / "papers.faiss", lambda fh: fh.write(faiss.serialize_index(a.faiss_index).tobytes()))
        write_file(tmp_dir / "paper_ids.npy", lambda fh: np.save(fh, a.paper_ids, allow_pickle=False))
        write_file(
            tmp_dir / "sent_vecs.npy",
            lambda fh: np.save(fh, np.asarray(a.sent_vecs, dtype=np.float16), allow_pickle=False),
        )
        write_file(tmp_dir / "sent_offsets.npy", lambda fh: np.save(fh, a.sent_offsets, allow_pickle=False))

    def _write_manifest(self, name: str, gen_dir: Path) -> None:
        a = self._a
        manifest = {
            "format": FORMAT,
            "model": self.model,
            "dimension": self.dimension,
            "index_type": self.index_type,
            "papers": len(a.paper_ids),
            "sentences": int(a.sent_offsets[-1]),
            "fingerprint": self.fingerprint,
            "generation": self.generation,
            "generation_dir": name,
            "sha256": {file: file_sha256(gen_dir / file) for file in FILES},
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        write_atomic(self.directory / MANIFEST, json.dumps(manifest, indent=2).encode())

    # -- searching -----------------------------------------------------------------------

    @property
    def size(self) -> int:
        """Number of papers indexed."""
        return len(self._a.paper_ids)

    @property
    def sentence_count(self) -> int:
        """Number of sentence vectors."""
        return int(self._a.sent_offsets[-1])

    def disk_bytes(self) -> int:
        """Bytes the index files take on disk."""
        if not self.directory.is_dir():
            return 0
        return sum(p.stat().st_size for p in self.directory.rglob("*") if p.is_file())

    def search(self, query: np.ndarray, k: int, scope: Scope = SHARED) -> list[tuple[int, float]]:
        """(paper id, cosine) of the ``k`` nearest papers ``scope`` sees (others' private papers filtered in FAISS)."""
        if self.size == 0:
            return []
        x = query.reshape(1, -1).astype(np.float32)
        params = self.filter.params(scope, HNSW_EF_SEARCH if self.index_type == "hnsw" else None)
        if params is None:
            scores, positions = self._a.faiss_index.search(x, min(k, self.size))
        else:
            scores, positions = self._a.faiss_index.search(x, min(k, self.size), params=params)
        ids = self._a.paper_ids
        return [(int(ids[p]), float(s)) for s, p in zip(scores[0], positions[0], strict=True) if p >= 0]

    def prefetch(self, paper_ids: Sequence[int]) -> None:
        """Nothing to read ahead: the vectors are in memory (or memory-mapped)."""

    def paper_vector(self, paper_id: int) -> np.ndarray | None:
        """The stored vector of a paper."""
        pos = self.position.get(paper_id)
        return None if pos is None else self._a.doc_vecs[pos]

    def doc_scores(self, query: np.ndarray, paper_ids: Sequence[int]) -> np.ndarray:
        """Cosine of the query with each paper's vector (0 for papers not indexed)."""
        out = np.zeros(len(paper_ids), dtype=np.float32)
        rows = [(i, self.position[p]) for i, p in enumerate(paper_ids) if p in self.position]
        if rows:
            idx, pos = zip(*rows, strict=True)
            out[list(idx)] = self._a.doc_vecs[list(pos)] @ query
        return out

    def _whole_matrix(self) -> None:
        mat = np.full((self.size, self.dimension), np.nan, np.float32)
        for pos, pid in enumerate(self._a.paper_ids.tolist()):
            vec = self._whole.get(pid)
            if vec is not None:
                mat[pos] = vec
        self._whole_mat = mat

    def whole_scores(self, query: np.ndarray, paper_ids: Sequence[int]) -> np.ndarray:
        """Cosine of the query with each paper's whole-paper vector (NaN for papers without one)."""
        out = np.full(len(paper_ids), np.nan, dtype=np.float32)
        rows = [(j, self.position[p]) for j, p in enumerate(paper_ids) if p in self.position]
        if rows and len(self._whole_mat) == self.size:
            idx, pos = zip(*rows, strict=True)
            out[list(idx)] = self._whole_mat[list(pos)] @ np.asarray(query, dtype=np.float32)
        return out

    def sentence_scores(self, query: np.ndarray, paper_id: int) -> np.ndarray:
        """Cosine of the query with each sentence of a paper's abstract, in order."""
        pos = self.position.get(paper_id)
        if pos is None:
            return np.zeros(0, dtype=np.float32)
        lo, hi = int(self._a.sent_offsets[pos]), int(self._a.sent_offsets[pos + 1])
        return np.asarray(self._a.sent_vecs[lo:hi], dtype=np.float32) @ query

    def best_sentence_scores(self, query: np.ndarray, paper_ids: Sequence[int]) -> np.ndarray:
        """For each paper, the cosine of its best-matching sentence."""
        out = np.zeros(len(paper_ids), dtype=np.float32)
        known = [(i, self.position[p]) for i, p in enumerate(paper_ids) if p in self.position]
        if not known:
            return out
        idx = np.fromiter((i for i, _ in known), dtype=np.int64, count=len(known))
        pos = np.fromiter((p for _, p in known), dtype=np.int64, count=len(known))
        offsets = self._a.sent_offsets
        if offsets[-1] <= FULL_SCAN_SENTENCES:
            # Scoring every sentence beats gathering the candidates' rows in a small library.
            every = np.asarray(self._a.sent_vecs, dtype=np.float32) @ query
            lens_all = np.diff(offsets)
            best = np.maximum.reduceat(every, np.minimum(offsets[:-1], len(every) - 1)) if len(every) else every
            out[idx] = np.where(lens_all[pos] > 0, best[pos], 0.0)
            return out
        lo, hi = offsets[pos], offsets[pos + 1]
        lens = hi - lo
        starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
        # Row numbers of every candidate's sentences, gathered for one matrix product.
        rows = np.repeat(lo - starts, lens) + np.arange(int(lens.sum()))
        scores = np.asarray(self._a.sent_vecs[rows], dtype=np.float32) @ query
        out[idx] = np.maximum.reduceat(scores, starts) if len(scores) else 0.0
        return out
