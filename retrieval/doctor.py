"""``paperbot doctor``: verify a library, repair what can be repaired, say what to do about the rest.

Checks, one finding each: the SQLite file's integrity, the index files against the checksums in
their manifest, leftovers of an unfinished index save, an unfinished seeding, every paper having
vectors for the model, and the index holding exactly the store's papers. Repairs are the ones
opening a library does anyway (embed missing vectors, rebuild the index from stored vectors);
the doctor runs them and says so.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from retrieval.ingest import vector_key
from retrieval.storage.protocol import database_url

log = logging.getLogger(__name__)

Status = Literal["ok", "repaired", "problem"]


@dataclass(frozen=True)
class Finding:
    """One line of the doctor's report."""

    status: Status
    message: str

    def __str__(self) -> str:
        return f"{self.status}: {self.message}"


def _integrity(db_path: Path) -> Finding:
    from urllib.parse import quote

    base = f"file:{quote(str(db_path.resolve()))}?mode=ro"
    rows: list[str] = []
    # Read-only, as the library opens it; immutable where SQLite cannot create its -shm file (a read-only mount).
    for uri in (base, base + "&immutable=1"):
        try:
            conn = sqlite3.connect(uri, uri=True)
            try:
                rows = [str(r[0]) for r in conn.execute("PRAGMA integrity_check").fetchall()]
            finally:
                conn.close()
            break
        except sqlite3.Error as exc:
            rows = [str(exc)]
    if rows == ["ok"]:
        return Finding("ok", f"database {db_path.name}: integrity check passed")
    return Finding(
        "problem",
        f"database {db_path} is damaged ({'; '.join(rows[:3])}): move it away and import your corpora again"
        " (paperbot index --corpus …); the bundled papers are imported on the next start",
    )


def _index_files(index_dir: Path) -> tuple[Finding | None, str | None]:
    """(a finding on leftovers, why the index files are unusable or None)."""
    from retrieval.storage.sqlite.index import MANIFEST, DenseIndex, IndexCorrupt

    leftovers = sorted(p.name for p in index_dir.glob(".*.tmp")) if index_dir.is_dir() else []
    found = (
        Finding("repaired", f"removed {len(leftovers)} leftover(s) of an unfinished index save") if leftovers else None
    )
    try:
        manifest = json.loads((index_dir / MANIFEST).read_text())
        DenseIndex.verify_files(manifest, index_dir / str(manifest.get("generation_dir", "")))
    except FileNotFoundError:
        return found, "there is no index yet"
    except (OSError, ValueError, AttributeError) as exc:
        return found, f"unreadable manifest ({exc})"
    except IndexCorrupt as exc:
        return found, str(exc)
    return found, None


def check_library(data_dir: Path, *, model: str | None = None, url: str | None = None) -> list[Finding]:
    """Verify (and where possible repair) the library; a problem finding means it needs the user."""
    from retrieval.library import SEEDING_KEY, Library
    from retrieval.storage.sqlite.storage import DB_NAME, INDEX_DIR

    url = database_url(url)
    findings: list[Finding] = []
    unusable_index: str | None = None
    if url is None:
        db_path = data_dir / DB_NAME
        if not db_path.is_file():
            return [
                Finding("problem", f"no library in {data_dir}: run paperbot --data-dir {data_dir} stats to build one")
            ]
        integrity = _integrity(db_path)
        findings.append(integrity)
        if integrity.status == "problem":
            return findings
        leftovers, unusable_index = _index_files(data_dir / INDEX_DIR)
        if leftovers:
            findings.append(leftovers)
    library = Library.open(data_dir, model=model, seed_default_corpus=False, database_url=url or "")
    try:
        embedder = library.embedder
        key = vector_key(embedder)
        store, index = library.store, library.index
        read_only = library.read_only
        if store.get_meta(SEEDING_KEY):
            findings.append(Finding("problem", "the import of the bundled papers was interrupted: run paperbot stats"))
        # Opening embedded what lacked vectors (unless read-only); what is still missing is a problem.
        lacking = len(store.papers_without_vectors(key, 1_000_000))
        total = store.count()
        if lacking:
            why = "the library is read-only" if read_only else "embedding failed"
            findings.append(Finding("problem", f"{lacking} of {total} papers have no vectors for {key} ({why})"))
        else:
            findings.append(Finding("ok", f"{total} papers, each with vectors for {embedder.name}"))
        if url is None and unusable_index is not None and read_only:
            findings.append(
                Finding(
                    "problem",
                    f"index: {unusable_index}; rebuilt in memory for this run only, as the folder is read-only:"
                    " run paperbot doctor once with write access",
                )
            )
        elif url is None and unusable_index is not None:
            findings.append(Finding("repaired", f"index: {unusable_index}; rebuilt it from the stored vectors"))
        elif url is None:
            findings.append(Finding("ok", "index files match the checksums in their manifest"))
        indexed = index.size
        with_vectors = total - lacking
        if indexed != with_vectors:
            library.index.rebuild(store)
            indexed = index.size
            status: Status = "repaired" if indexed == with_vectors else "problem"
            findings.append(Finding(status, f"index held {indexed} papers, the store {with_vectors}; rebuilt it"))
        else:
            findings.append(Finding("ok", f"index holds the {indexed} papers of the store"))
        unsaved = getattr(index, "unsaved", None)
        if unsaved:
            findings.append(
                Finding("problem", f"the index could not be saved ({unsaved}): free disk space and run doctor again")
            )
    finally:
        library.close()
    return findings
