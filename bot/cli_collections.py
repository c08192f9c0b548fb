"""``paperbot index --collection`` and ``paperbot collection list|remove``: the harness side of /library import.

In the harness a collection name stands for a server (a server's own collection is named by its
guild id, so ``--collection 123456789012345678`` imports into that server's reading list).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any, TextIO

from bot.render.collections import collection_text, import_summary

OpenLibrary = Callable[..., Any]


def cmd_index_collection(args: argparse.Namespace, out: TextIO, open_library: OpenLibrary) -> int:
    """Import a reading list file (BibTeX, RIS, CSV, JSONL) into ``--collection``, all or nothing."""
    from retrieval.errors import UserFacingError

    if not args.corpus or not args.corpus.is_file():
        print(f"error: no such file: {args.corpus}", file=sys.stderr)
        return 2
    library = open_library(args, seed=not args.no_default_corpus)

    def progress(done: int, total: int) -> None:
        print(f"\rembedded {done}/{total} papers", end="", file=sys.stderr, flush=True)

    try:
        report = library.import_reading_list(args.corpus.read_bytes(), args.corpus.name, args.collection, progress)
    except UserFacingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(file=sys.stderr)
    out.write(import_summary(args.corpus.name, report).replace("**", "") + "\n")
    return 0


def cmd_collection(args: argparse.Namespace, out: TextIO, open_library: OpenLibrary) -> int:
    """List one collection, or remove papers from it."""
    from retrieval.errors import UserFacingError

    library = open_library(args)
    try:
        if args.action == "list":
            out.write(collection_text(library.collection_page(args.name, args.page)) + "\n")
            return 0
        if not args.all and not args.paper:
            print("error: name a paper (id:N, arXiv id or exact title) or --all", file=sys.stderr)
            return 2
        gone = library.remove_from_collection(args.name, None if args.all else args.paper)
    except UserFacingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    out.write(f"removed {len(gone)} papers from {args.name}\n")
    return 0


def add_parsers(sub: Any, open_library: OpenLibrary) -> None:
    """``paperbot collection list NAME`` and ``paperbot collection remove NAME (PAPER | --all)``."""
    p = sub.add_parser("collection", help="a server's private reading list (a name, or a server's guild id)")
    actions = p.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="the collection's papers, newest first")
    listing.add_argument("name")
    listing.add_argument("--page", type=int, default=1)
    removing = actions.add_parser("remove", help="remove one paper of the collection, or all of them")
    removing.add_argument("name")
    removing.add_argument("paper", nargs="?", help="id:N (from list), arXiv id or exact title")
    removing.add_argument("--all", action="store_true", help="remove every paper of the collection")
    p.set_defaults(func=lambda args, out: cmd_collection(args, out, open_library))
