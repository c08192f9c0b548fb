"""A server's reading list on both backends: imported into one collection, seen there and nowhere else."""

from __future__ import annotations

import pytest

from retrieval.errors import UserFacingError
from retrieval.models import SHARED, Scope
from retrieval.sources.reading_list import ReadingListError
from tests.conftest import BACKENDS, make_papers

A, B = Scope.of(111), Scope.of(222)
SHARED_TWIN = "Paper 2: Speech recognition for low-resource languages"

BIB_A = f"""@article{{twin2024,
  title = {{{SHARED_TWIN}}},
  author = {{Doe, Jane and M{{\\"u}}ller, Anna}},
  abstract = {{Zebra vocalisations are transcribed by a frobnicating acoustic model. It beats every baseline.}},
  year = {{2024}},
}}

@article{{tomato2023,
  title = {{Quantum irrigation of tomato greenhouses}},
  author = {{Roe, Richard}},
  abstract = {{Tomato plants are watered by a quantum annealing schedule. Yields rise by a third.}},
  year = {{2023}},
  eprint = {{2301.04567}},
  archivePrefix = {{arXiv}},
}}

@misc{{noabstract,
  title = {{A record without an abstract}},
}}
"""

RIS_B = (
    f"""TY  - JOUR
TI  - {SHARED_TWIN}
AU  - Other, Olga
AB  - Whale songs are segmented by a recurrent tagger. Accuracy improves on whale datasets.
PY  - 2022
ER  - """
    + "\n"
)


@BACKENDS
def test_a_collection_is_seen_in_its_server_only(open_library):
    lib = open_library()
    lib.add_papers(make_papers(8))
    shared_twin = lib.get_paper_by_ext_id("paper-2")
    report = lib.import_reading_list(BIB_A.encode(), "zotero.bib", "111")
    assert (report.format, report.new, report.total) == ("bibtex", 2, 2)
    assert report.skipped == [(17, "noabstract: no abstract (nothing to answer questions from)")]
    assert lib.import_reading_list(RIS_B.encode(), "list.ris", "222").new == 1

    # Dedup never merged a private record into the shared paper or into another server's.
    assert lib.get_paper_by_ext_id("paper-2") == shared_twin
    twins = {
        p.owner: p
        for p in lib.store.get_many(
            lib.store.find_exact(SHARED_TWIN, Scope(everything=True)), Scope(everything=True)
        ).values()
    }
    assert set(twins) == {None, "111", "222"}
    assert "Zebra" in twins["111"].abstract and "Whale" in twins["222"].abstract
    assert lib.store.count(SHARED) == 8 and lib.store.count(A) == 10 and lib.store.count(B) == 9

    # /ask: the server's own paper answers there; elsewhere it is never a source.
    private = lib.ask("how are tomato greenhouses irrigated with quantum annealing?", scope=A)
    assert not private.abstained and private.sources[0].title == "Quantum irrigation of tomato greenhouses"
    for scope in (B, SHARED):
        answer = lib.ask("how are tomato greenhouses irrigated with quantum annealing?", scope=scope)
        assert all("tomato" not in s.title.lower() for s in answer.sources)
        assert all("zebra" not in s.quote.lower() for s in answer.sources)
    zebra = lib.ask("how are zebra vocalisations transcribed?", scope=A)
    assert zebra.sources[0].paper_id == twins["111"].id
    assert all(
        s.paper_id != twins["111"].id for s in lib.ask("how are zebra vocalisations transcribed?", scope=B).sources
    )

    # /paper, autocomplete, ask paper:, More like this, row ids and arXiv ids.
    tomato = lib.find_paper("Quantum irrigation of tomato greenhouses", A)
    assert tomato is not None and tomato.arxiv_id == "2301.04567" and tomato.owner == "111"
    assert lib.find_paper("Quantum irrigation of tomato greenhouses", B) is None
    assert lib.suggest_titles("quantum irrig", scope=A) == [(tomato.id, tomato.title)]
    assert lib.suggest_titles("quantum irrig", scope=B) == [] == lib.suggest_titles("quantum irrig")
    assert lib.get_paper(tomato.id, B) is None and lib.get_paper_by_ext_id("2301.04567", B) is None
    assert lib.ask_paper("how are they watered?", tomato.id, B).reason == "no_such_paper"
    assert not lib.ask_paper("how are the tomato plants watered?", tomato.id, A).abstained
    assert lib.similar(tomato.id, 5, B) == []
    assert all(h.paper.owner is None for h in lib.similar(shared_twin.id, 10, B) if h.paper.owner != "222")
    assert all(h.paper.owner in (None, "222") for h in lib.similar(shared_twin.id, 10, B))
    # The two halves of search filter on their own: dense (FAISS selector / SQL) and lexical.
    assert all(i != tomato.id for i, _ in lib.index.search(lib.embedder.encode_query("tomato"), 20, B))
    assert lib.store.lexical_search(["tomato"], 10, B) == []
    assert [i for i, _ in lib.store.lexical_search(["tomato"], 10, A)] == [tomato.id]

    # /library list and remove: only the server's own papers, never a shared one.
    page = lib.collection_page("111")
    assert page.total == 2 and {p.title for p in page.papers} == {SHARED_TWIN, tomato.title}
    with pytest.raises(UserFacingError):
        lib.remove_from_collection("111", "paper-2")  # the shared paper: not this server's to remove
    gone = lib.remove_from_collection("111", "Quantum irrigation of tomato greenhouses")
    assert [p.id for p in gone] == [tomato.id] and lib.get_paper(tomato.id, A) is None
    assert (
        lib.find_paper("how are tomato greenhouses irrigated", A) is None
        or "tomato" not in lib.find_paper("tomato greenhouses", A).title.lower()
    )
    assert lib.collection_page("222").total == 1 and lib.store.count(SHARED) == 8
    assert len(lib.remove_from_collection("111", None)) == 1 and lib.collection_page("111").total == 0


@BACKENDS
def test_a_file_that_cannot_be_parsed_imports_nothing(open_library):
    lib = open_library()
    lib.add_papers(make_papers(2))
    broken = BIB_A + "\n@article{broken,\n  title = oops\n"
    with pytest.raises(ReadingListError, match="line 21"):
        lib.import_reading_list(broken.encode(), "list.bib", "111")
    with pytest.raises(ReadingListError, match=r"not UTF-8 text .* line 3"):
        lib.import_reading_list(b"title,abstract\nA,B\nCaf\xe9,x\n", "list.csv", "111")
    assert lib.store.count(Scope(everything=True)) == 2 and lib.collection_page("111").total == 0
