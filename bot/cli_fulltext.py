"""``paperbot fulltext``: fetch papers' full texts ahead of the first question about them."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any, TextIO

OpenLibrary = Callable[[argparse.Namespace], Any]


def cmd_fulltext(args: argparse.Namespace, out: TextIO, open_library: OpenLibrary) -> int:
    """Fetch (and store) the full text of the named papers, or with ``--all`` of every paper that has none yet."""
    if bool(args.papers) == bool(args.all):
        print("error: name papers (arXiv id, title or id) or use --all, not both", file=sys.stderr)
        return 2
    library = open_library(args)
    if library.fulltexts.config is None:
        print(
            "error: fetching full texts is off (PAPERBOT_ARXIV_BASE=off); set it to https://arxiv.org", file=sys.stderr
        )
        return 2
    done = 0

    def report(paper: Any, lookup: Any) -> None:
        nonlocal done
        done += 1
        if lookup.text is not None:
            status = f"{lookup.text.source}, {len(lookup.text.sections)} sections, {lookup.text.size} sentences"
            status += " (capped)" if lookup.text.truncated else ""
        else:
            status = f"no full text: {lookup.reason}"
        out.write(f"[{done}] {paper.arxiv_id or paper.ext_id}: {status}\n")
        out.flush()

    if args.all:
        counts = library.fetch_all_full_texts(report)
        out.write(
            f"done: {counts['fetched']} fetched, {counts['unavailable']} without a full text, "
            f"{counts['failed']} failed (run again to retry those)\n"
        )
        return 0
    missing = 0
    for ref in args.papers:
        paper = library.resolve_paper(ref)
        if paper is None:
            print(f"no paper matches {ref!r}", file=sys.stderr)
            missing += 1
            continue
        report(paper, library.full_text(paper))
    return 1 if missing else 0


def add_parsers(sub: Any, open_library: OpenLibrary) -> None:
    """Add ``fulltext`` to the ``paperbot`` subparsers."""
    p = sub.add_parser("fulltext", help="fetch papers' full texts from arXiv ahead of questions (HTML, else PDF)")
    p.add_argument("papers", nargs="*", help="arXiv ids, titles or ids of papers in the library")
    p.add_argument("--all", action="store_true", help="every paper with an arXiv id and no full text yet (resumable)")
    p.set_defaults(func=lambda args, out=sys.stdout: cmd_fulltext(args, out, open_library))
