"""The ``paperbot`` command: the local harness (ask, today, repl, stats), library upkeep, the bot."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import date
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot.cli_collections import add_parsers as add_collection_parsers
from bot.cli_follow import add_parsers as add_follow_parsers
from bot.cli_fulltext import add_parsers as add_fulltext_parsers
from bot.cli_library import EXIT_USAGE
from bot.cli_library import add_parsers as add_library_parsers
from bot.render.text import render_answer, render_digest, render_paper, render_stats
from retrieval.settings import ConfigError, Settings

if TYPE_CHECKING:
    from retrieval.library import Library
from retrieval.models import Reason, Scope

log = logging.getLogger("paperbot")

SAMPLE_QUESTION = "Is there a paper on pruning convolutional filters for medical images?"

COLLECTION_HELP = "also see this private collection (a server's reading list: its name, or the server's guild id)"


def open_library(args: argparse.Namespace, *, seed: bool = True) -> Library:
    """The library the command line's settings name (imported lazily: ``--help`` stays fast)."""
    from retrieval.library import Library

    return Library.open(settings=args.settings, seed_default_corpus=seed)


def _settings(args: argparse.Namespace) -> Settings:
    """The settings of the environment and ``.env``, with the command line's global options over them."""
    settings = Settings.from_env()
    return replace(
        settings,
        data_dir=args.data_dir or settings.data_dir,
        model=args.model or settings.model,
        database_url=settings.database_url if args.database_url is None else (args.database_url.strip() or None),
    )


def _scope(args: argparse.Namespace) -> Scope:
    """What a command sees: the shared library plus ``--collection`` (a name, or a server's guild id)."""
    return Scope.of(getattr(args, "collection", None))


def _parse_day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from exc


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r} (use 1 to 25)") from None
    if not 1 <= number <= 25:
        raise argparse.ArgumentTypeError(f"{number} is out of range: use 1 to 25")
    return number


# -- commands ----------------------------------------------------------------------------


def cmd_ask(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Answer one question, or one per line of standard input with ``-``."""
    from retrieval.query.abstain import is_empty_question

    if args.question != "-" and is_empty_question(args.question) and not args.json:
        print(
            "error: the question is empty; ask something like: paperbot ask 'papers on model merging?'", file=sys.stderr
        )
        return EXIT_USAGE
    library = open_library(args)
    scope = _scope(args)
    if args.paper:
        _say_which_paper(library, args.paper, scope)

    def answer_one(question: str):  # noqa: ANN202 - Answer imported lazily
        if args.paper:
            return library.ask_paper(question, args.paper, scope)
        return library.ask(question, args.top_k, scope)

    if args.question == "-":
        for line in sys.stdin:
            answer = answer_one(line.rstrip("\n"))
            out.write(json.dumps(answer.to_json(), ensure_ascii=False) + "\n")
            out.flush()
        return 0
    answer = answer_one(args.question)
    if args.json:
        out.write(json.dumps(answer.to_json(), ensure_ascii=False) + "\n")
    else:
        out.write(render_answer(answer) + "\n")
    return 1 if answer.reason == Reason.NO_SUCH_PAPER else 0


def _say_which_paper(library, name: str, scope: Scope) -> None:  # noqa: ANN001 - Library imported lazily
    """On stderr, when ``--paper`` names no paper exactly and several titles contain it: which one is used."""
    from retrieval.text import clean_question

    query = clean_question(name, 300).strip()
    if library.store.get_by_ext_id(query, scope) or library.store.find_exact(query, scope):
        return
    titles = library.suggest_titles(query, 6, scope)
    if len(titles) < 2:
        return
    chosen = library.resolve_paper(name, scope)
    if chosen is None:
        return
    others = [title for paper_id, title in titles if paper_id != chosen.id][:4]
    more = " …" if len(titles) > 5 else ""
    print(
        f"note: {len(titles)}{'+' if len(titles) > 5 else ''} titles contain {name!r}; answering from"
        f" {chosen.title!r}. Others: " + "; ".join(repr(t) for t in others) + more + ". Name the paper more exactly"
        " (title or arXiv id) to choose another.",
        file=sys.stderr,
    )


def cmd_today(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Print the digest of the newest day (or ``--date``)."""
    library = open_library(args)
    topics = tuple(t.strip() for t in (args.topics or "").split(",") if t.strip())
    build = library.week_digest if args.week else library.digest
    out.write(render_digest(build(args.date, topics=topics, limit=args.limit, scope=_scope(args))) + "\n")
    return 0


def cmd_paper(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Show one paper by id or title."""
    library = open_library(args)
    paper = library.find_paper(args.query, _scope(args))
    if paper is None:
        print(f"no paper matches {args.query!r}; try other words from its title", file=sys.stderr)
        return 1
    out.write(render_paper(paper) + "\n")
    return 0


def cmd_stats(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Print library counts and sizes."""
    stats = asdict(open_library(args).stats())
    if args.json:
        out.write(json.dumps(stats, default=str) + "\n")
        return 0
    out.write(render_stats(stats) + "\n")
    return 0


def cmd_repl(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """An interactive loop: questions, or :today, :stats, :quit."""
    library = open_library(args)
    help_text = "Ask a question; :today (or today), :stats (or stats), :help, :quit (or quit, exit, Ctrl-D)."
    out.write(f"paperbot — {library.store.count()} papers. {help_text}\n")
    while True:
        try:
            line = input("? ").strip()
        except (EOFError, KeyboardInterrupt):
            out.write("\n")
            return 0
        command = line.lower().lstrip(":")
        if command in {"q", "quit", "exit", "bye"}:
            return 0
        if command in {"help", "h", "?"}:
            out.write(help_text + "\n")
        elif command == "today":
            out.write(render_digest(library.digest()) + "\n")
        elif command == "stats":
            out.write(render_stats(asdict(library.stats())) + "\n")
        elif line:
            out.write(render_answer(library.ask(line, args.top_k)) + "\n")


def cmd_start(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """``make run``: the bot when DISCORD_TOKEN is set, else the local harness."""
    if args.settings.token:
        return cmd_run(args)
    if sys.stdin.isatty():
        return cmd_repl(args, out)
    # Not interactive: show that it works, then exit.
    library = open_library(args)
    out.write(f"DISCORD_TOKEN is not set: running the local harness.\n\n? {SAMPLE_QUESTION}\n")
    out.write(render_answer(library.ask(SAMPLE_QUESTION, args.top_k)) + "\n\n")
    out.write(render_digest(library.digest()) + "\n")
    return 0


def cmd_run(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Start the Discord bot."""
    from bot.app import run_bot

    # run_bot turns every start-up failure into one line and an exit code.
    return run_bot(args.settings, verbose=args.verbose)


# -- parser ------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``paperbot``."""
    parser = argparse.ArgumentParser(prog="paperbot", description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=None, help="library folder (env PAPERBOT_DATA_DIR)")
    parser.add_argument("--model", default=None, help="embedding model (env PAPERBOT_MODEL)")
    parser.add_argument(
        "--database-url",
        default=None,
        help="postgresql://… to use PostgreSQL + pgvector instead of the SQLite library (env PAPERBOT_DATABASE_URL)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ask", help="answer a question from the library")
    p.add_argument("question", help="the question, or - to read one question a line from standard input")
    p.add_argument("--json", action="store_true", help="print one JSON object (always with -)")
    p.add_argument("--top-k", type=_positive, default=5, help="how many sources (1-25, default 5)")
    p.add_argument("--paper", default=None, help="ask about this one paper (title, arXiv id or id) instead")
    p.add_argument("--collection", default=None, help=COLLECTION_HELP)
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("today", help="the digest of the newest day, as the Discord post reads")
    p.add_argument("--date", type=_parse_day, default=None, help="a day (YYYY-MM-DD) instead of the newest")
    p.add_argument("--topics", default="", help="comma-separated topics to rank by")
    p.add_argument("--limit", type=_positive, default=10, help="how many papers (default 10)")
    p.add_argument("--week", action="store_true", help="the week's top papers: the 7 days ending the day")
    p.add_argument("--collection", default=None, help=COLLECTION_HELP)
    p.set_defaults(func=cmd_today)

    p = sub.add_parser("paper", help="show one paper by id or title")
    p.add_argument("query")
    p.add_argument("--collection", default=None, help=COLLECTION_HELP)
    p.set_defaults(func=cmd_paper)

    p = sub.add_parser("repl", help="ask questions interactively")
    p.add_argument("--top-k", type=_positive, default=5)
    p.set_defaults(func=cmd_repl)

    p = sub.add_parser("stats", help="papers, sources, index size, model, data dir")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_stats)

    add_library_parsers(sub, open_library, _parse_day)
    add_follow_parsers(sub, open_library, _parse_day)
    add_collection_parsers(sub, open_library)
    add_fulltext_parsers(sub, open_library)

    p = sub.add_parser("start", help="the bot if DISCORD_TOKEN is set, else the local harness")
    p.add_argument("--top-k", type=_positive, default=5)
    p.set_defaults(func=cmd_start)

    p = sub.add_parser("run", help="start the Discord bot")
    p.set_defaults(func=cmd_run)

    # Commands of other installed packages (``bench`` adds ``bench`` and ``eval``): entry points of the
    # group ``paperbot.commands``, each a function that adds its subparsers. The dependency points from
    # them to this module, never back.
    for entry in entry_points(group="paperbot.commands"):
        entry.load()(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``paperbot`` console script."""
    # For the libraries that read these themselves (huggingface_hub, tokenizers): never reach the hub.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = build_parser().parse_args(argv)
    try:
        args.settings = _settings(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # Progress of long imports: a log line every few seconds when stderr is not a terminal.
    logging.getLogger("retrieval.ingest").setLevel(logging.INFO)
    # faiss logs at INFO a ModuleNotFoundError for each CPU-specific build it does not find (harmless).
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    if not args.verbose:
        for noisy in ("faiss.loader", "sentence_transformers", "httpx", "transformers"):
            logging.getLogger(noisy).setLevel(logging.ERROR)
    started = time.perf_counter()
    try:
        return int(args.func(args, sys.stdout))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `paperbot stats | head -1`: the reader has what it wanted
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second error when Python flushes stdout at exit
        return 0
    except Exception as exc:  # one clear line, not a traceback; -v shows the traceback
        import sqlite3

        from retrieval.encoder.embedder import EmbedderError
        from retrieval.storage.errors import StorageError

        if isinstance(exc, sqlite3.DatabaseError):  # a damaged file found while reading it
            log.debug("failed", exc_info=True)
            print(f"error: the library database is unusable ({exc}): run paperbot doctor", file=sys.stderr)
            return 1
        if isinstance(exc, StorageError | EmbedderError | OSError):
            log.debug("failed", exc_info=True)
            print(f"error: {exc}", file=sys.stderr)
            return 1
        raise
    finally:
        log.info("%s took %.2f s", args.command, time.perf_counter() - started)
