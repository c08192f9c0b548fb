"""SQLite v4 (collections) rebuilds ``papers``: an existing library keeps its papers, their children and search."""

from __future__ import annotations

import sqlite3

from retrieval.models import SHARED, Paper, Scope
from retrieval.storage.sqlite.db import MIGRATIONS, Database
from retrieval.storage.sqlite.store import SqlitePaperStore


def test_a_v3_library_keeps_days_vectors_sent_papers_and_full_text_after_v4(tmp_path):
    path = tmp_path / "library.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    for number, sql in enumerate(MIGRATIONS[:3], start=1):
        conn.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version = {number};\nCOMMIT;")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(
        "INSERT INTO papers (id, ext_id, arxiv_id, title, norm_title, abstract, source, text_hash)"
        " VALUES (7, '2401.00001', '2401.00001', 'Wombat radar', 'wombat radar', 'Burrows mapped by radar.', 't', 'h')"
    )
    conn.execute("INSERT INTO paper_days (paper_id, day) VALUES (7, '2026-11-20')")
    conn.execute(
        "INSERT INTO paper_vectors (paper_id, model, text_hash, count, dimension, vectors) VALUES (7, 'm', 'h', 1, 1, x'0000')"
    )
    conn.execute("INSERT INTO follow_sent (user_id, paper_id, day) VALUES (1, 7, '2026-11-20')")
    conn.close()

    db = Database(path)
    store = SqlitePaperStore(db)
    assert db.schema_version == len(MIGRATIONS)
    with db.read() as c:
        counts = [
            c.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("paper_days", "paper_vectors", "follow_sent")
        ]
        assert counts == [1, 1, 1] and c.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store.get(7).owner is None and [i for i, _ in store.lexical_search(["wombat"], 5)] == [7]
    # The same arXiv id may now exist once per owner, and a private copy never merges into the shared one.
    report = store.upsert([Paper(title="Wombat radar", abstract="Our own notes.", arxiv_id="2401.00001", owner="9")])
    assert len(report.new) == 1 and store.get(7, SHARED).abstract == "Burrows mapped by radar."
    assert store.get_by_ext_id("2401.00001", Scope.of(9)).abstract == "Our own notes."
    db.close()
