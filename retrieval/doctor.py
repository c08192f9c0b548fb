"""``paperbot doctor``: verify a library, repair what can be repaired, say what to do about the rest.

Checks, one finding each: the SQLite file's integrity, the index files against the checksums in
their manifest, leftovers of an unfinished index save, an unfinished seeding, every paper having
vectors for the model, and the index holding exactly the store's papers. Repairs are the ones
opening a library does anyway (embed missing vectors, rebuild the index from stored vectors);
the doctor runs them and says so.
"""

from __future__ import annotations

import logging

from retrieval.ingest import vector_key
from retrieval.models import Finding, FindingStatus
from retrieval.settings import Settings
from retrieval.storage.factory import check_files

log = logging.getLogger(__name__)


def check_library(settings: Settings) -> list[Finding]:
    """Verify (and where possible repair) the library ``settings`` name; a problem finding means it needs the user."""
    from retrieval.library import SEEDING_KEY, Library, default_data_dir

    url = settings.database_url
    data_dir = settings.data_dir or default_data_dir()
    findings, unusable_index, fatal = check_files(data_dir, url)
    if fatal:
        return findings
    library = Library.open(data_dir, settings=settings, seed_default_corpus=False)
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
            status: FindingStatus = "repaired" if indexed == with_vectors else "problem"
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
