"""``paperbot bench --database-url postgresql://…``: the PostgreSQL backend at 100,000 and 1,000,000 papers.

Synthetic papers: Zipf-distributed words for titles and abstracts, sentence vectors with the
low intrinsic dimension of real embeddings (a paper's sentences share its latent topic). Figures:
COPY ingest (papers with their postings, written by the schema's trigger; then stored vectors,
through the binary COPY that ``paperbot migrate`` uses), index build times (postings, trigram,
HNSW), search latency p50/p99 (dense HNSW, lexical postings + exact BM25, fused = the library's own
hybrid search without the question encoding), and sizes; the same beside SQLite + FAISS at 100,000.

Everything runs in a scratch schema (``paperbot_bench``) that is dropped at the end, so the
target database's own tables are never touched.
"""

from __future__ import annotations

import json
import logging
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

DIM = 384
LATENT = 48
SENTENCES = 3
WORDS = 20_000
ABSTRACT_WORDS = 60
TITLE_WORDS = 8
BATCH = 20_000
QUERIES = 200
SCHEMA = "paperbot_bench"
MODEL = "bench#split2"


class Corpus:
    """Deterministic synthetic papers, generated batch by batch (a million never sits in memory)."""

    def __init__(self, n: int, seed: int = 0) -> None:
        self.n = n
        rng = np.random.default_rng(seed)
        self.projection = rng.standard_normal((LATENT, DIM)).astype(np.float32)
        weights = 1.0 / np.arange(1, WORDS + 1)
        self.weights = weights / weights.sum()
        self.vocab = np.array([f"w{i}" for i in range(WORDS)])
        self.seed = seed

    def batches(self, size: int = BATCH) -> Iterator[tuple[int, list[str], list[str], np.ndarray, np.ndarray]]:
        """(first id, titles, abstracts, paper latents, float16 sentence vectors (n, SENTENCES, DIM))."""
        for start in range(0, self.n, size):
            rng = np.random.default_rng((self.seed, start))
            count = min(size, self.n - start)
            words = rng.choice(WORDS, size=(count, ABSTRACT_WORDS), p=self.weights)
            titles = [" ".join(self.vocab[w[:TITLE_WORDS]]) for w in words]
            per = ABSTRACT_WORDS // SENTENCES
            abstracts = [
                ". ".join(" ".join(self.vocab[w[s * per : (s + 1) * per]]) for s in range(SENTENCES)) + "."
                for w in words
            ]
            latent = rng.standard_normal((count, 1, LATENT)).astype(np.float32)
            sent_latent = latent + 0.5 * rng.standard_normal((count, SENTENCES, LATENT)).astype(np.float32)
            vecs = sent_latent @ self.projection + 0.3 * rng.standard_normal((count, SENTENCES, DIM)).astype(np.float32)
            vecs /= np.linalg.norm(vecs, axis=2, keepdims=True)
            yield start, titles, abstracts, latent[:, 0], vecs.astype(np.float16)

    def queries(self, k: int = QUERIES) -> list[tuple[str, np.ndarray]]:
        """(question text, question vector) near ``k`` random papers: some of their words, their topic plus noise."""
        rng = np.random.default_rng(self.seed + 7)
        targets = set(rng.choice(self.n, size=min(k, self.n), replace=False).tolist())
        out = []
        for start, _titles, abstracts, latent, _vecs in self.batches():
            for j in range(len(abstracts)):
                if start + j in targets:
                    words = abstracts[j].replace(".", "").split()
                    picked = rng.choice(len(words), size=6, replace=False)
                    q = (latent[j] + 0.5 * rng.standard_normal(LATENT).astype(np.float32)) @ self.projection
                    q = q + 0.3 * rng.standard_normal(DIM).astype(np.float32)
                    out.append((" ".join(words[i] for i in picked), (q / np.linalg.norm(q)).astype(np.float32)))
        return out


class FixedEmbedder:
    """The question vectors of the benchmark, looked up by text: fused search is timed without encoding."""

    def __init__(self, queries: list[tuple[str, np.ndarray]]) -> None:
        self.vectors = dict(queries)
        self.dimension = DIM
        self.name = MODEL

    def encode_query(self, text: str) -> np.ndarray:
        """The question's precomputed vector."""
        return self.vectors[text]


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def _latencies(fn: Any, queries: list[tuple[str, np.ndarray]]) -> dict[str, float]:
    times = []
    for text, vec in queries:
        started = time.perf_counter()
        fn(text, vec)
        times.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": _pct(times, 50), "p99_ms": _pct(times, 99), "mean_ms": statistics.fmean(times)}


def _scratch_url(url: str) -> str:
    from psycopg.conninfo import make_conninfo

    return make_conninfo(url, options=f"-c search_path={SCHEMA},public")


class Figures(dict):  # type: ignore[type-arg]
    """Figures that are also printed as they are measured (a long run that is stopped keeps what it had)."""

    def __init__(self, out: Any = None, **initial: Any) -> None:
        super().__init__()
        self.out = out
        for key, value in initial.items():
            self[key] = value

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        if self.out is not None:
            self.out.write(f"  {key:28s} {value:.3f}\n" if isinstance(value, float) else f"  {key:28s} {value}\n")
            self.out.flush()

    def update(self, other: Any = (), **kwargs: Any) -> None:  # type: ignore[override]
        """Set each item (printing it)."""
        for key, value in dict(other, **kwargs).items():
            self[key] = value


# Collections the private papers of a collection benchmark are spread over (the searching server is one).
COLLECTIONS = 5


def owner_of(pid: int, n: int, private: int) -> str | None:
    """The collection of synthetic paper ``pid`` (1-based): the last ``private`` ids are spread over COLLECTIONS."""
    return f"c{pid % COLLECTIONS}" if pid > n - private else None


def bench_postgres(url: str, n: int, out: Any = None, private: int = 0) -> dict[str, Any]:
    """Load ``n`` synthetic papers into a scratch schema with COPY, build the indexes, time searches.

    With ``private``, the last ``private`` papers belong to collections (servers' reading lists) and the
    searches are timed as the shared library alone, as one server sees it (its collection in, the
    others filtered inside the queries), and unfiltered.
    """
    import psycopg
    from pgvector.psycopg import register_vector

    from retrieval.query.search import HybridSearcher
    from retrieval.storage.postgres.storage import PostgresStorage
    from retrieval.storage.postgres.vectors import copy_vectors
    from retrieval.text import normalize_title, text_hash

    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        admin.execute(f"CREATE SCHEMA {SCHEMA}")
    scratch = _scratch_url(url)
    storage = PostgresStorage(scratch)
    row = Figures(out, papers=n)
    try:
        storage.prepare_vectors(MODEL, DIM)
        corpus = Corpus(n)
        with psycopg.connect(scratch, autocommit=True) as conn:
            register_vector(conn)
            # Bulk load: secondary indexes are built once afterwards, as an operator would.
            conn.execute(
                "DROP INDEX papers_norm_title_trgm, paper_vectors_hnsw, paper_terms_impact;"
                " ALTER TABLE paper_terms DROP CONSTRAINT paper_terms_pkey"
            )
            paper_s = vector_s = 0.0
            for start, titles, abstracts, _latent, vecs in corpus.batches():
                t0 = time.perf_counter()
                # One COPY per batch; the postings trigger runs once per COPY.
                with (
                    conn.cursor() as cur,
                    cur.copy(
                        "COPY papers (id, ext_id, title, norm_title, abstract, source, text_hash, owner) FROM STDIN"
                    ) as copy,
                ):
                    for j, (title, abstract) in enumerate(zip(titles, abstracts, strict=True)):
                        pid = start + j + 1
                        copy.write_row(
                            (
                                pid,
                                f"b{pid}",
                                title,
                                normalize_title(title),
                                abstract,
                                "bench",
                                text_hash(title, abstract),
                                owner_of(pid, n, private),
                            )
                        )
                t1 = time.perf_counter()
                copy_vectors(
                    conn,
                    (
                        (start + j + 1, text_hash(title, abstract), vecs[j])
                        for j, (title, abstract) in enumerate(zip(titles, abstracts, strict=True))
                    ),
                )
                t2 = time.perf_counter()
                paper_s += t1 - t0
                vector_s += t2 - t1
            row["copy_papers_rows_per_s"] = n / paper_s
            row["copy_vectors_rows_per_s"] = n / vector_s
            row["postings_rows"] = int(conn.execute("SELECT COUNT(*) FROM paper_terms").fetchone()[0])
            conn.execute("SET maintenance_work_mem = '3GB'")
            for name, sql in (
                ("postings_pkey_build_s", "ALTER TABLE paper_terms ADD PRIMARY KEY (paper_id, lexeme)"),
                (
                    "postings_index_build_s",
                    "CREATE INDEX paper_terms_impact ON paper_terms (lexeme, impact DESC) INCLUDE (paper_id)",
                ),
                ("trgm_build_s", "CREATE INDEX papers_norm_title_trgm ON papers USING gin (norm_title gin_trgm_ops)"),
                (
                    "hnsw_build_s",
                    "CREATE INDEX paper_vectors_hnsw ON paper_vectors USING hnsw (embedding vector_ip_ops)"
                    " WITH (m = 16, ef_construction = 64)",
                ),
                # Index-only scans of the postings need the visibility map (autovacuum would set it later).
                ("vacuum_analyze_s", "VACUUM (ANALYZE) papers, paper_terms, paper_vectors, term_stats"),
            ):
                t0 = time.perf_counter()
                conn.execute(sql)  # type: ignore[arg-type]
                row[name] = time.perf_counter() - t0
            conn.execute("SELECT setval(pg_get_serial_sequence('papers', 'id'), %s)", (n,))
            conn.execute("UPDATE library_meta SET value = (value::bigint + 1)::text WHERE key = 'papers_version'")
            row["ingest_copy_papers_per_s"] = n / (paper_s + vector_s)
            row["ingest_total_papers_per_s"] = n / (
                paper_s
                + vector_s
                + sum(row[k] for k in ("postings_pkey_build_s", "postings_index_build_s", "hnsw_build_s"))
            )
            row["db_size_mb"] = _schema_bytes(conn, SCHEMA) / 1e6
            for table in ("papers", "paper_vectors", "paper_terms"):
                found = conn.execute("SELECT pg_total_relation_size(%s)", (table,)).fetchone()
                row[f"{table}_mb"] = int(found[0]) / 1e6
        queries = corpus.queries()
        store, index = storage.papers, storage.open_index(DIM, MODEL)
        row.update(_search_figures(store, index, queries, HybridSearcher, private))
    finally:
        storage.close()
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    return row


def _schema_bytes(conn: Any, schema: str) -> int:
    found = conn.execute(
        "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
        " JOIN pg_namespace s ON s.oid = c.relnamespace WHERE s.nspname = %s AND c.relkind IN ('r', 'm')",
        (schema,),
    ).fetchone()
    return int(found[0])


def _search_figures(
    store: Any, index: Any, queries: list[tuple[str, np.ndarray]], searcher_cls: Any, private: int = 0
) -> dict[str, Any]:
    from retrieval.models import EVERYONE, SHARED, Scope
    from retrieval.text import query_terms

    searcher = searcher_cls(store, index, FixedEmbedder(queries))
    # With collections: unfiltered, the shared library alone, and one server's view (its collection in).
    scopes = [("", SHARED)] if not private else [("all_", EVERYONE), ("shared_", SHARED), ("server_", Scope.of("c0"))]
    figures: dict[str, Any] = {}
    for label, scope in scopes:
        # Warm caches once (document frequencies, pages, the scope's selector), as a running bot has them.
        for text, _ in queries[:20]:
            searcher.search(text, 5, scope)
        for name, fn in (
            ("dense", lambda _t, v, sc=scope: index.search(v, 100, sc)),
            ("lexical", lambda t, _v, sc=scope: store.lexical_search(query_terms(t), 100, sc)),
            ("fused", lambda t, _v, sc=scope: searcher.search(t, 5, sc)),
        ):
            for key, value in _latencies(fn, queries).items():
                figures[f"{label}{name}_{key}"] = value
        hits = [searcher.search(text, 10, scope).hits for text, _ in queries[:50]]
        figures[f"{label}fused_hits_per_query"] = statistics.fmean(len(h) for h in hits)
        if private:
            leaked = [h.paper.owner for hs in hits for h in hs if not scope.sees(h.paper.owner)]
            figures[f"{label}hits_outside_scope"] = len(leaked)
    return figures


def bench_sqlite(n: int, out: Any = None, private: int = 0) -> dict[str, Any]:
    """The same synthetic papers in the SQLite + FAISS backend (ingest through the store's vector path)."""
    from retrieval.models import Paper
    from retrieval.query.search import HybridSearcher
    from retrieval.storage.sqlite.storage import SqliteStorage

    row = Figures(out, papers=n)
    corpus = Corpus(n)
    with tempfile.TemporaryDirectory() as tmp:
        storage = SqliteStorage(Path(tmp))
        store = storage.papers
        ingest_s = 0.0
        for start, titles, abstracts, _latent, vecs in corpus.batches():
            papers = [
                Paper(
                    title=t,
                    abstract=a,
                    ext_id=f"b{start + j + 1}",
                    source="bench",
                    owner=owner_of(start + j + 1, n, private),
                )
                for j, (t, a) in enumerate(zip(titles, abstracts, strict=True))
            ]
            from retrieval.text import text_hash

            vectors = {text_hash(p.title, p.abstract): vecs[j] for j, p in enumerate(papers)}
            t0 = time.perf_counter()
            for k in range(0, len(papers), 1000):
                store.upsert_with_vectors(papers[k : k + 1000], MODEL, vectors)
            ingest_s += time.perf_counter() - t0
        row["ingest_papers_per_s"] = n / ingest_s
        t0 = time.perf_counter()
        index = storage.open_index(DIM, MODEL)
        row["faiss_build_s"] = time.perf_counter() - t0
        row["index_type"] = index.index_type
        row["disk_mb"] = sum(p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file()) / 1e6
        row.update(_search_figures(store, index, corpus.queries(), HybridSearcher, private))
        storage.close()
    return row


def run_postgres_bench(url: str, sizes: list[int], sqlite_at: int | None, out: Any) -> dict[str, Any]:
    """Print and return the figures for each size (and SQLite at ``sqlite_at``)."""
    results: dict[str, Any] = {}

    def show(title: str, run: Any, n: int) -> None:
        out.write(f"\n== {title}\n")
        out.flush()
        results[title] = dict(run(n, out))

    for n in sizes:
        show(f"postgres + pgvector at {n:,} synthetic papers", lambda k, o: bench_postgres(url, k, o), n)
        if sqlite_at == n:
            show(f"sqlite + faiss at {n:,} synthetic papers", bench_sqlite, n)
    if sqlite_at is not None and sqlite_at not in sizes:
        show(f"sqlite + faiss at {sqlite_at:,} synthetic papers", bench_sqlite, sqlite_at)
    log.debug("%s", json.dumps(results, default=str))
    return results


def run_collection_bench(url: str | None, sizes: list[int], private: int, out: Any) -> dict[str, Any]:
    """Search with the collection filter: ``n`` shared + ``private`` papers of 5 servers, on SQLite (no URL) or PostgreSQL."""
    results: dict[str, Any] = {}
    for n in sizes:
        total = n + private
        if not url:
            title = f"sqlite + faiss: {n:,} shared + {private:,} private papers (5 collections)"
            out.write(f"\n== {title}\n")
            out.flush()
            results[title] = dict(bench_sqlite(total, out, private))
        else:
            title = f"postgres + pgvector: {n:,} shared + {private:,} private papers (5 collections)"
            out.write(f"\n== {title}\n")
            out.flush()
            results[title] = dict(bench_postgres(url, total, out, private))
    return results
