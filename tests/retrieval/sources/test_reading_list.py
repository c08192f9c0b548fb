"""Reading lists as reference managers export them: records, skipped lines, whole-file errors."""

from __future__ import annotations

import pytest

from retrieval.sources.reading_list import MAX_BYTES, ReadingListError, read_reading_list

MENDELEY = r"""@article{Vaswani2017,
abstract = {The dominant sequence transduction models are based on recurrent networks. We propose the Transformer.},
archivePrefix = {arXiv},
arxivId = {1706.03762},
author = {Vaswani, Ashish and Shazeer, Noam},
eprint = {1706.03762},
title = {{Attention Is All You Need}},
year = {2017}
}
"""

RIS = (
    "TY  - JOUR\nTI  - First paper\nAU  - Doe, Jane\nAB  - It does one thing.\nPY  - 2021\nDO  - 10.1000/XYZ\nER  - \n"
    "\nTY  - JOUR\nTI  - No abstract here\nER  - \n"
    "TY  - JOUR\nT1  - Second paper\nN2  - An abstract in N2.\nUR  - https://arxiv.org/abs/2105.00001v2\nER  - \n"
)


def test_mendeley_bibtex_keeps_the_arxiv_id_and_decodes_latex():
    [paper] = read_reading_list(MENDELEY.encode(), "library.bib", owner="42").papers
    assert paper.title == "Attention Is All You Need" and paper.arxiv_id == "1706.03762" == paper.ext_id
    assert paper.authors == ("Vaswani, Ashish", "Shazeer, Noam") and paper.published.year == 2017
    assert (paper.owner, paper.source) == ("42", "bibtex")


def test_ris_records_are_read_with_their_start_lines():
    read = read_reading_list(RIS.encode(), "export.ris")
    assert [p.title for p in read.papers] == ["First paper", "Second paper"]
    assert read.papers[0].ext_id == "doi:10.1000/xyz" and read.papers[0].url == "https://doi.org/10.1000/XYZ"
    assert read.papers[1].arxiv_id == "2105.00001"
    assert read.skipped == [(9, "no abstract (nothing to answer questions from)")]
    with pytest.raises(ReadingListError, match="line 1 has no end"):
        read_reading_list(b"TY  - JOUR\nTI  - cut short\n", "x.ris")


def test_zotero_csv_and_a_semicolon_csv_are_read_by_column_name():
    zotero = 'Key,Title,Author,Abstract Note,Publication Year\nAB12,"A, quoted title",Doe; Roe,"Multi\nline abstract.",2020\n'
    [paper] = read_reading_list(zotero.encode(), "My Library.csv").papers
    assert (paper.title, paper.ext_id, paper.authors) == ("A, quoted title", "AB12", ("Doe", "Roe"))
    semicolons = "title;abstract\nOne;Its abstract.\n;missing title\n"
    read = read_reading_list(semicolons.encode(), "list.csv")
    assert [p.title for p in read.papers] == ["One"] and read.skipped == [(3, "no title")]
    with pytest.raises(ReadingListError, match="needs a 'title' and an 'abstract' column"):
        read_reading_list(b"name,summary_text\nx,y\n", "list.csv")


def test_encodings_formats_and_size_are_checked_before_anything_is_read():
    utf16 = "title,abstract\nÉtude,Résumé de l'étude.\n".encode("utf-16")
    assert read_reading_list(utf16, "list.csv").papers[0].title == "Étude"
    with pytest.raises(ReadingListError, match=r"byte 0xff on line 2"):
        read_reading_list(b"@article{a,\n title={\xff}}\n", "a.bib")
    with pytest.raises(ReadingListError, match="could not tell the file's format"):
        read_reading_list(b"just some words\n", "notes.txt")
    with pytest.raises(ReadingListError, match="limit is 8 MB"):
        read_reading_list(b" " * (MAX_BYTES + 1), "big.bib")
    jsonl = b'{"id": "x1", "title": "T", "abstract": "A."}\nnot json\n'
    read = read_reading_list(jsonl, "list.jsonl")
    assert len(read.papers) == 1 and read.skipped[0][0] == 2
