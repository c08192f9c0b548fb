"""The SQLite library's own checks for ``paperbot doctor``: the file's integrity, the index files' checksums."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from retrieval.models import Finding
from retrieval.storage.sqlite.files import IndexCorrupt, verify_files
from retrieval.storage.sqlite.index import MANIFEST
from retrieval.storage.sqlite.storage import DB_NAME, INDEX_DIR


def check_files(data_dir: Path) -> tuple[list[Finding], str | None, bool]:
    """(findings, why the index files are unusable or None, whether the library cannot be opened at all)."""
    db_path = data_dir / DB_NAME
    if not db_path.is_file():
        return (
            [Finding("problem", f"no library in {data_dir}: run paperbot --data-dir {data_dir} stats to build one")],
            None,
            True,
        )
    found = integrity(db_path)
    if found.status == "problem":
        return [found], None, True
    leftovers, unusable = index_files(data_dir / INDEX_DIR)
    return [found, *([leftovers] if leftovers else [])], unusable, False


def integrity(db_path: Path) -> Finding:
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


def index_files(index_dir: Path) -> tuple[Finding | None, str | None]:
    """(a finding on leftovers, why the index files are unusable or None)."""

    leftovers = sorted(p.name for p in index_dir.glob(".*.tmp")) if index_dir.is_dir() else []
    found = (
        Finding("repaired", f"removed {len(leftovers)} leftover(s) of an unfinished index save") if leftovers else None
    )
    try:
        manifest = json.loads((index_dir / MANIFEST).read_text())
        verify_files(manifest, index_dir / str(manifest.get("generation_dir", "")))
    except FileNotFoundError:
        return found, "there is no index yet"
    except (OSError, ValueError, AttributeError) as exc:
        return found, f"unreadable manifest ({exc})"
    except IndexCorrupt as exc:
        return found, str(exc)
    return found, None
