"""The collection filter of the FAISS index: search leaves out the papers a scope does not see.

FAISS tests an id selector while it searches (exact and HNSW alike), so a filtered search still
returns ``k`` visible papers, unlike filtering its answer afterwards. The selector is a bitmap over
index positions (one bit a paper: 12.5 KB at 100,000 papers), built once per collection and
dropped whenever the index changes. With no private papers nothing is filtered at all.
"""

from __future__ import annotations

from collections.abc import Mapping

import faiss
import numpy as np

from retrieval.models import Scope

# Selectors kept at once (one per collection that searched since the index last changed).
MAX_SELECTORS = 1000


class ScopeFilter:
    """Positions of each collection's papers in a FAISS index, and the search parameters that hide them."""

    def __init__(self) -> None:
        self.size = 0
        self._owner_pos: dict[str, np.ndarray] = {}
        # collection -> (selector, its bitmap, which must outlive it), or None when nothing is hidden.
        self._cache: dict[str | None, tuple[faiss.IDSelector, np.ndarray] | None] = {}

    def place(self, owners: Mapping[int, str], position: Mapping[int, int], size: int) -> None:
        """Take the private papers' owners ({paper id: owner}) and the index's {paper id: position}."""
        by_owner: dict[str, list[int]] = {}
        for paper_id, owner in owners.items():
            pos = position.get(paper_id)
            if pos is not None:
                by_owner.setdefault(owner, []).append(pos)
        self._owner_pos = {o: np.asarray(p, dtype=np.int64) for o, p in by_owner.items()}
        self.size = size
        self._cache = {}

    def selector(self, scope: Scope) -> faiss.IDSelector | None:
        """The selector of the positions ``scope`` sees; None when it sees every position."""
        if scope.everything or not self._owner_pos:
            return None
        if scope.collection not in self._cache:
            hidden = [p for o, p in self._owner_pos.items() if o != scope.collection]
            entry = None
            if hidden:
                allowed = np.ones(self.size, dtype=bool)
                allowed[np.concatenate(hidden)] = False
                bits = np.packbits(allowed, bitorder="little")
                entry = (faiss.IDSelectorBitmap(self.size, faiss.swig_ptr(bits)), bits)
            if len(self._cache) >= MAX_SELECTORS:
                self._cache = {}
            self._cache[scope.collection] = entry
        found = self._cache[scope.collection]
        return None if found is None else found[0]

    def params(self, scope: Scope, ef_search: int | None) -> faiss.SearchParameters | None:
        """Search parameters for ``scope`` (HNSW's when ``ef_search`` is given); None: search unfiltered."""
        selector = self.selector(scope)
        if selector is None:
            return None
        if ef_search is not None:
            return faiss.SearchParametersHNSW(sel=selector, efSearch=ef_search)
        return faiss.SearchParameters(sel=selector)
