"""Faults in what users import: duplicate ids, oversized records, encodings, files nothing can be read from."""

from __future__ import annotations

import gzip
import json
import re
import sqlite3
from pathlib import Path

from retrieval.ingest import MAX_ABSTRACT_CHARS, MAX_SENTENCES, MAX_TITLE_CHARS, vector_key
from retrieval.library import Library
from retrieval.models import Paper
from retrieval.storage.sqlite.storage import DB_NAME
from retrieval.text import split_sentences
from tests.conftest import make_papers
from tests.faults.conftest import CliRun, assert_consistent, paper_rows, write_jsonl


def _index(cli: CliRun, data_dir: Path, corpus: Path) -> tuple[int, str, str]:
    return cli("--data-dir", str(data_dir), "index", "--no-default-corpus", "--corpus", str(corpus))


def _abstract(data_dir: Path, ext_id: str) -> str:
    conn = sqlite3.connect(data_dir / DB_NAME)
    try:
        return str(conn.execute("SELECT abstract FROM papers WHERE ext_id = ?", (ext_id,)).fetchone()[0])
    finally:
        conn.close()


def test_duplicate_ids_the_later_record_wins_and_reimports_change_nothing(cli, tmp_path):
    data_dir = tmp_path / "lib"
    rows = [
        {"id": "a", "title": "One", "abstract": "Penguins huddle together in the cold."},
        {"id": "a", "title": "One", "abstract": "Camels store fat in their humps."},
        {"id": "x1", "arxiv_id": "2401.00001", "title": "Two", "abstract": "Owls hunt at night."},
        {"id": "x2", "arxiv_id": "2401.00001", "title": "Two", "abstract": "Bats navigate by echoes."},
    ]
    corpus = write_jsonl(tmp_path / "d.jsonl", rows)
    code, out, err = _index(cli, data_dir, corpus)
    assert code == 0 and "2 new" in out
    assert "d.jsonl:1: replaced by line 2, which has the same id 'a'" in err
    assert "d.jsonl:3: replaced by line 4, which has the same arxiv_id '2401.00001'" in err
    for _ in range(2):  # before the fix: MissingVectors on every later import
        code, out, err = _index(cli, data_dir, corpus)
        assert code == 0 and "0 new, 0 updated, 2 unchanged, 0 skipped" in out
    assert "Camels" in _abstract(data_dir, "a")
    # A paper added to the file later is imported (before the fix its chunk was rolled back forever).
    write_jsonl(corpus, [*rows, {"id": "b", "title": "Three", "abstract": "Whales sing long songs."}])
    code, out, _ = _index(cli, data_dir, corpus)
    assert code == 0 and "1 new, 0 updated, 2 unchanged" in out
    assert assert_consistent(data_dir) == 3


def test_records_of_one_paper_with_two_texts_in_one_import_from_any_source(tmp_path):
    lib = Library.open(tmp_path / "lib", seed_default_corpus=False)
    try:
        first, *rest = make_papers(3)
        again = Paper(title=first.title, abstract="A different abstract. It replaces the first.", ext_id=first.ext_id)
        for _ in range(2):
            lib.add_papers([first, *rest, again])
        assert lib.store.get_by_ext_id(first.ext_id or "").abstract == again.abstract  # type: ignore[union-attr]
        assert lib.store.papers_without_vectors(vector_key(lib.embedder), 10) == []
    finally:
        lib.close()
    assert assert_consistent(tmp_path / "lib") == 3


def test_an_oversized_record_is_cut_with_a_line_saying_so_and_stays_small(cli, tmp_path):
    data_dir = tmp_path / "lib"
    huge = " ".join(f"Sentence {i} says something about penguins." for i in range(50_000))  # ~2.3 MB
    rows = [
        *paper_rows(make_papers(3)),
        {"id": "huge", "title": "Penguin " * 400, "abstract": huge},
    ]
    corpus = write_jsonl(tmp_path / "big.jsonl", rows)
    code, out, err = _index(cli, data_dir, corpus)
    assert code == 0 and "4 new" in out
    assert "big.jsonl:4: abstract cut from" in err and "big.jsonl:4: title cut from 3,199" in err
    stored = _abstract(data_dir, "huge")
    assert len(stored) <= MAX_ABSTRACT_CHARS and len(split_sentences(stored)) <= MAX_SENTENCES
    assert huge.startswith(stored) and stored.endswith(".")
    lib = Library.open(data_dir, seed_default_corpus=False)
    try:
        assert lib.index.sentence_count <= MAX_SENTENCES + 3 * 3
        assert len(lib.store.get_by_ext_id("huge").title) <= MAX_TITLE_CHARS  # type: ignore[union-attr]
    finally:
        lib.close()
    code, out, _ = _index(cli, data_dir, corpus)  # the cut is the same every time
    assert code == 0 and "0 new, 0 updated, 4 unchanged" in out
    assert assert_consistent(data_dir) == 4


def test_encodings_bom_bad_bytes_types_and_urls(cli, tmp_path):
    data_dir = tmp_path / "lib"
    lines = [
        b'\xef\xbb\xbf{"id": "b1", "title": "Byte order mark", "abstract": "The first record follows a BOM."}',
        b'{"id": "b2", "title": "Bad \xff bytes", "abstract": "Not UTF-8."}',
        b'{"id": "b3", "title": "Numeric abstract", "abstract": 12345}',
        b'{"id": "b4", "title": "Boolean upvotes", "abstract": "Fine text.", "upvotes": true}',
        b'{"id": 5, "title": "Integer id", "abstract": "Integer ids are ids.", "url": "javascript:alert(1)"}',
        b'{"id": "b6", "title": "Web link", "abstract": "A normal paper.", "url": "https://example.org/p"}',
    ]
    corpus = tmp_path / "enc.jsonl"
    corpus.write_bytes(b"\n".join(lines) + b"\n")
    code, out, err = _index(cli, data_dir, corpus)
    assert code == 0 and "3 new" in out and "3 skipped" in out
    assert "enc.jsonl:2: skipped: not UTF-8 (byte 28 of the line is 0xff)" in err
    assert "enc.jsonl:3: skipped: 'abstract' must be a string, not int" in err
    assert "enc.jsonl:4: skipped: 'upvotes' must be a non-negative integer" in err
    assert "enc.jsonl:5: 'url' left out: not an http(s) URL" in err
    assert err.count("enc.jsonl:2:") == 1  # each line reported once
    lib = Library.open(data_dir, seed_default_corpus=False)
    try:
        assert lib.store.get_by_ext_id("b1") is not None
        assert lib.store.get_by_ext_id("5").url is None  # type: ignore[union-attr]
        assert lib.store.get_by_ext_id("b6").url == "https://example.org/p"  # type: ignore[union-attr]
        assert all("\ufffd" not in p.title for p in lib.store.get_many(list(lib.store.id_hashes())).values())
    finally:
        lib.close()
    assert assert_consistent(data_dir) == 3


def test_a_gzip_corpus_is_read_directly(cli, tmp_path):
    data_dir = tmp_path / "lib"
    corpus = tmp_path / "c.jsonl.gz"
    with gzip.open(corpus, "wt", encoding="utf-8") as fh:
        fh.write("".join(json.dumps(r) + "\n" for r in paper_rows(make_papers(4))))
    code, out, _ = _index(cli, data_dir, corpus)
    assert code == 0 and "4 new, 0 updated, 0 unchanged, 0 skipped" in out
    assert assert_consistent(data_dir) == 4


def test_an_import_where_nothing_can_be_read_fails(cli, tmp_path):
    data_dir = tmp_path / "lib"
    rejected = tmp_path / "bad.jsonl"
    rejected.write_text('{"id": "z"}\nnot json\n')
    code, out, err = _index(cli, data_dir, rejected)
    assert code == 1 and out == ""
    assert "error: nothing could be imported from" in err and "all 2 lines were rejected" in err
    bom_only = tmp_path / "bom.jsonl"
    bom_only.write_bytes(b"\xef\xbb\xbf\n")
    code, _, err = _index(cli, data_dir, bom_only)
    assert code == 1 and "it holds no records" in err
    utf16 = tmp_path / "utf16.jsonl"
    utf16.write_text('{"id": "u", "title": "T", "abstract": "A."}\n', encoding="utf-16")
    code, _, err = _index(cli, data_dir, utf16)
    assert code == 1 and "utf16.jsonl:1: skipped: the file is UTF-16, not UTF-8: save it as UTF-8" in err
    damaged = tmp_path / "damaged.jsonl.gz"
    damaged.write_bytes(gzip.compress(b'{"id": "q", "title": "T", "abstract": "A."}\n')[:-12])
    code, _, err = _index(cli, data_dir, damaged)
    assert code == 1 and f"error: cannot read {damaged}" in err


def test_progress_counts_papers_not_records(tmp_path, caplog, monkeypatch):
    import logging
    from dataclasses import replace
    from datetime import date

    from retrieval import ingest
    from retrieval.sources.pages import DEFAULT_PAGES_DIR, parse_pages_dir

    # The bundled pages hold 448 records of 393 papers (a paper listed on several days); the README says 393.
    assert ingest.distinct_papers(parse_pages_dir(DEFAULT_PAGES_DIR)) == 393
    monkeypatch.setattr(ingest, "LOG_EVERY_S", 0.0)
    papers = make_papers(3)
    relisted = [replace(p, listed_on=date(2026, 11, 21)) for p in papers]
    lib = Library.open(tmp_path / "lib", seed_default_corpus=False)
    try:
        with caplog.at_level(logging.INFO, logger="retrieval.ingest"):
            ingest.ingest_papers(lib.store, lib.embedder, [*papers, *relisted], chunk=2, progress=True)
    finally:
        lib.close()
    counts = re.findall(r"Importing papers: (\d+)/(\d+) papers", caplog.text)
    assert counts and counts[-1] == ("3", "3") and all(total == "3" for _, total in counts)
