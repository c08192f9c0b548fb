"""Copy a SQLite library into PostgreSQL without re-embedding (``paperbot migrate``, via ``Library.migrate_to``).

Papers keep their ids (so vector and follow-sent rows stay aligned), vectors are copied as
stored, and bot state (settings, library roles, digest log, feedback, follows with their DM log,
sent papers and closed DMs) comes along; follows keep their ids too. Every insert is
``ON CONFLICT DO NOTHING``, so running it again copies only what is new and otherwise changes
nothing. A target that holds different papers under the same ids is refused.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from itertools import islice
from typing import Any

from retrieval.storage.errors import StorageError
from retrieval.storage.protocol import Storage
from retrieval.storage.rules import iter_chunks, redact

log = logging.getLogger(__name__)

BATCH = 1000


@dataclass
class MigrationReport:
    """Rows copied per table (0 everywhere on a second run)."""

    copied: dict[str, int] = field(default_factory=dict)
    source_papers: int = 0

    def summary(self, target: str) -> str:
        """One line per table."""
        lines = [f"migrated {self.source_papers} papers to {redact(target)}:"]
        lines += [f"  {table}: {count} new rows" for table, count in self.copied.items()]
        return "\n".join(lines)


def _ts(text: str | None) -> datetime | None:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) if text else None


def _insert(conn: Any, sql: str, rows: Sequence[Sequence[Any]]) -> int:
    copied = 0
    for chunk in iter_chunks(list(rows), BATCH):
        with conn.cursor() as cur:
            cur.executemany(sql, chunk, returning=False)
            copied += max(cur.rowcount, 0)
    return copied


def copy_to_postgres(
    source: Storage, url: str, model: str, dimension: int, progress: Callable[[str], None] | None = None
) -> MigrationReport:
    """Copy the SQLite library ``source`` into the database at ``url``, with ``model``'s vectors (of ``dimension``)."""
    from retrieval.storage.postgres.storage import PostgresStorage
    from retrieval.storage.postgres.vectors import VECTOR_COLUMNS, bump_version, copy_vectors
    from retrieval.storage.sqlite.storage import SqliteStorage

    if not isinstance(source, SqliteStorage):
        raise StorageError("paperbot migrate copies a SQLite library; this one is already on PostgreSQL")
    db = source.db
    target = PostgresStorage(url)
    report = MigrationReport()
    try:
        target.prepare_vectors(model, dimension)
        with db.read() as conn:
            papers = conn.execute(
                "SELECT id, ext_id, arxiv_id, title, norm_title, abstract, url, authors, author_count, published,"
                " upvotes, github, project_page, source, text_hash, added_at, updated_at, owner FROM papers ORDER BY id"
            ).fetchall()
            days = conn.execute("SELECT paper_id, day FROM paper_days").fetchall()
            settings = conn.execute("SELECT * FROM guild_settings").fetchall()
            digest_log = conn.execute("SELECT * FROM digest_log").fetchall()
            feedback = conn.execute("SELECT question, paper_ext_id, user_id, vote, created_at FROM feedback").fetchall()
            roles = conn.execute("SELECT guild_id, role_id FROM library_roles").fetchall()
            follows = conn.execute("SELECT id, user_id, kind, value, norm, created_at FROM follows").fetchall()
            follow_users = conn.execute("SELECT user_id, dms_closed_at, last_error FROM follow_users").fetchall()
            dm_log = conn.execute("SELECT user_id, day, status, claimed_at FROM follow_dm_log").fetchall()
            sent = conn.execute("SELECT user_id, paper_id, day FROM follow_sent").fetchall()
        report.source_papers = len(papers)
        hashes = {int(r["id"]): str(r["text_hash"]) for r in papers}
        with target.pool.connection() as pg, pg.transaction():
            existing = dict(pg.execute("SELECT id, ext_id FROM papers").fetchall())
            clash = [r["id"] for r in papers if r["id"] in existing and existing[r["id"]] != r["ext_id"]]
            if clash:
                raise StorageError(
                    f"{redact(url)} already holds other papers under the same ids (e.g. id {clash[0]}); "
                    "migrate into an empty database"
                )
            report.copied["papers"] = _insert(
                pg,
                "INSERT INTO papers (id, ext_id, arxiv_id, title, norm_title, abstract, url, authors, author_count,"
                " published, upvotes, github, project_page, source, text_hash, added_at, updated_at, owner)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT DO NOTHING",
                [
                    (
                        r["id"],
                        r["ext_id"],
                        r["arxiv_id"],
                        r["title"],
                        r["norm_title"],
                        r["abstract"],
                        r["url"],
                        json.dumps(json.loads(r["authors"] or "[]")),
                        r["author_count"],
                        date.fromisoformat(r["published"]) if r["published"] else None,
                        r["upvotes"],
                        r["github"],
                        r["project_page"],
                        r["source"],
                        r["text_hash"],
                        _ts(r["added_at"]),
                        _ts(r["updated_at"]),
                        r["owner"],
                    )
                    for r in papers
                ],
            )
            # Later inserts get ids after the copied ones.
            pg.execute(
                "SELECT setval(pg_get_serial_sequence('papers', 'id'), GREATEST((SELECT MAX(id) FROM papers), 1))"
            )
            report.copied["paper_days"] = _insert(
                pg,
                "INSERT INTO paper_days (paper_id, day) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                [(r["paper_id"], date.fromisoformat(r["day"])) for r in days],
            )
            report.copied["guild_settings"] = _insert(
                pg,
                "INSERT INTO guild_settings (guild_id, channel_id, post_time, timezone, topics, enabled, last_error,"
                " updated_at, frequency, weekday) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT DO NOTHING",
                [
                    (
                        r["guild_id"],
                        r["channel_id"],
                        r["post_time"],
                        r["timezone"],
                        r["topics"],
                        bool(r["enabled"]),
                        r["last_error"],
                        _ts(r["updated_at"]),
                        r["frequency"] or "daily",
                        r["weekday"],
                    )
                    for r in settings
                ],
            )
            report.copied["digest_log"] = _insert(
                pg,
                "INSERT INTO digest_log (channel_id, day, status, message_id, claimed_at)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                [
                    (r["channel_id"], date.fromisoformat(r["day"]), r["status"], r["message_id"], _ts(r["claimed_at"]))
                    for r in digest_log
                ],
            )
            report.copied["feedback"] = _insert(
                pg,
                "INSERT INTO feedback (question, paper_ext_id, user_id, vote, created_at)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                [(r[0], r[1] or "", r[2], r[3], _ts(r[4])) for r in feedback],
            )
            report.copied["library_roles"] = _insert(
                pg,
                "INSERT INTO library_roles (guild_id, role_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                [(r[0], r[1]) for r in roles],
            )
            # Follows keep their ids (users see them in /follow remove); later ones are numbered after.
            report.copied["follows"] = _insert(
                pg,
                "INSERT INTO follows (id, user_id, kind, value, norm, created_at)"
                " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                [(r[0], r[1], r[2], r[3], r[4], _ts(r[5])) for r in follows],
            )
            pg.execute(
                "SELECT setval(pg_get_serial_sequence('follows', 'id'), GREATEST((SELECT MAX(id) FROM follows), 1))"
            )
            report.copied["follow_users"] = _insert(
                pg,
                "INSERT INTO follow_users (user_id, dms_closed_at, last_error) VALUES (%s, %s, %s)"
                " ON CONFLICT DO NOTHING",
                [(r[0], _ts(r[1]), r[2]) for r in follow_users],
            )
            report.copied["follow_dm_log"] = _insert(
                pg,
                "INSERT INTO follow_dm_log (user_id, day, status, claimed_at) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT DO NOTHING",
                [(r[0], date.fromisoformat(r[1]), r[2], _ts(r[3])) for r in dm_log],
            )
            report.copied["follow_sent"] = _insert(
                pg,
                "INSERT INTO follow_sent (user_id, paper_id, day) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                [(r[0], r[1], date.fromisoformat(r[2])) for r in sent],
            )
            # Vectors go through COPY into a staging table (binary, packed in bulk), then into
            # paper_vectors with ON CONFLICT DO NOTHING, so a second run still copies nothing.
            pg.execute("CREATE TEMP TABLE migrate_vectors (LIKE paper_vectors INCLUDING DEFAULTS) ON COMMIT DROP")
            copied_vectors = 0
            vectors = source.papers.iter_vectors(model)
            while batch := list(islice(vectors, BATCH * 10)):
                staged = copy_vectors(
                    pg, ((pid, h, sents) for pid, h, sents in batch if hashes.get(pid) == h), "migrate_vectors"
                )
                copied_vectors += pg.execute(
                    f"INSERT INTO paper_vectors ({VECTOR_COLUMNS}) SELECT {VECTOR_COLUMNS} FROM migrate_vectors"
                    " ON CONFLICT DO NOTHING"
                ).rowcount
                pg.execute("TRUNCATE migrate_vectors")
                if progress:
                    progress(f"vectors: {copied_vectors} copied of {staged} read")
            report.copied["paper_vectors"] = copied_vectors
            # Whole-paper vectors (one row a paper), current ones only: none is encoded again on open.
            report.copied["paper_whole"] = _insert(
                pg,
                "INSERT INTO paper_whole (paper_id, model, text_hash, vector) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT DO NOTHING",
                [
                    (pid, model, hashes[pid], vec.astype("<f2").tobytes())
                    for pid, vec in source.papers.whole_vectors(model).items()
                    if pid in hashes
                ],
            )
            if any(report.copied.values()):
                bump_version(pg)
    finally:
        target.close()
    return report
