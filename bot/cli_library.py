"""``paperbot index``, ``doctor``, ``setup-model``, ``fetch`` and ``migrate``: keeping the library."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, TextIO

EXIT_USAGE = 2
# From this many papers `paperbot index` encodes in worker processes (starting them takes seconds).
POOL_FROM = 256

OpenLibrary = Callable[..., Any]


def _workers(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 1 <= number <= 256:
        raise argparse.ArgumentTypeError("must be between 1 and 256")
    return number


def cmd_index(args: argparse.Namespace, out: TextIO, open_library: OpenLibrary) -> int:
    """Import a JSONL corpus and/or saved pages, then bring the index up to date."""
    from retrieval.encoder.embedder import execution_providers
    from retrieval.encoder.pool import EncoderPool, default_workers
    from retrieval.sources.jsonl import read_jsonl
    from retrieval.sources.pages import parse_pages_dir

    if args.collection:
        from bot.cli_collections import cmd_index_collection

        return cmd_index_collection(args, out, open_library)
    papers = []
    errors = 0
    if args.corpus:
        if args.corpus.is_dir():
            print(
                f"error: {args.corpus} is a folder; --corpus takes a JSONL file (.jsonl or .jsonl.gz)", file=sys.stderr
            )
            return EXIT_USAGE
        if not args.corpus.is_file():
            print(f"error: no such file: {args.corpus}", file=sys.stderr)
            return EXIT_USAGE
        try:
            read = read_jsonl(args.corpus, report=False)
        except (OSError, EOFError) as exc:  # unreadable, or a damaged .gz
            print(f"error: cannot read {args.corpus}: {exc}", file=sys.stderr)
            return 1
        papers.extend(read.papers)
        for number, why in read.errors:
            print(f"{args.corpus}:{number}: skipped: {why}", file=sys.stderr)
        for number, note in read.notes:
            print(f"{args.corpus}:{number}: {note}", file=sys.stderr)
        errors = len(read.errors)
        if not read.papers:
            why = f"all {read.lines} lines were rejected" if read.lines else "it holds no records"
            print(f"error: nothing could be imported from {args.corpus}: {why}", file=sys.stderr)
            return 1
    if args.pages:
        papers.extend(parse_pages_dir(args.pages))
    device = args.device or args.settings.device
    execution_providers(device)  # no CUDA provider: one line before anything is opened or written
    library = open_library(args, seed=not args.no_default_corpus)
    workers = args.workers or default_workers()
    big = len(papers) >= POOL_FROM or args.rebuild
    pool = None
    if device == "cuda" or (workers > 1 and big):
        pool = EncoderPool(library.embedder.name, workers=workers, cache_dir=args.settings.cache_dir, device=device)
    try:
        # A progress bar on a terminal, a log line every few seconds otherwise (shown with -v).
        report = library.add_papers(papers, pool=pool) if papers else None
        reembedded = library.reembed(pool=pool).embedded if args.rebuild else None
    finally:
        if pool is not None:
            pool.close()
    new, updated = (len(report.new), len(report.updated)) if report else (0, 0)
    unchanged = report.unchanged if report else 0
    out.write(
        f"{new} new, {updated} updated, {unchanged} unchanged, {errors} skipped; "
        + (f"{reembedded} re-embedded; " if reembedded is not None else "")
        + f"library: {library.store.count()} papers, index: {library.index.size} papers\n"
    )
    return 0


def cmd_doctor(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Verify the library, repair what can be repaired, one line each; 1 when something needs the user."""
    from retrieval.doctor import check_library

    findings = check_library(args.settings)
    for finding in findings:
        out.write(f"{finding}\n")
    return 1 if any(f.status == "problem" for f in findings) else 0


def cmd_setup_model(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Export the embedding model to ONNX now (else it happens on first use), or check the export."""
    from retrieval.encoder.export import ensure_exported, model_cache_dir, read_manifest
    from retrieval.encoder.spec import DEFAULT_MODEL, ModelSpec, resolve_model

    settings = args.settings
    spec = ModelSpec.read(resolve_model(settings.model or DEFAULT_MODEL))
    directory = ensure_exported(spec, cache_dir=settings.cache_dir, force=args.force)
    manifest = read_manifest(model_cache_dir(spec, settings.cache_dir)) or {}
    out.write(
        f"ONNX export of {spec.path}: {directory} (fused: {manifest.get('fused')}, "
        f"onnxruntime {manifest.get('onnxruntime')}, opset {manifest.get('opset')})\n"
    )
    return 0


def cmd_fetch(args: argparse.Namespace, out: TextIO, open_library: OpenLibrary) -> int:
    """Pull the Hugging Face daily papers for a day or a range of days."""
    import asyncio

    from retrieval.sources.feed import days_between, fetch_days, utc_today

    today = utc_today()
    try:
        days = days_between(args.since, today) if args.since else [args.date or today]
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    library = open_library(args)
    base = args.base or args.settings.hf_base
    report = asyncio.run(fetch_days(library, days, base_url=base, timeout=args.timeout, retries=args.retries))
    out.write(report.summary() + "\n")
    return 1 if report.all_failed else 0


def cmd_migrate(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Copy the SQLite library (papers, vectors, settings, digest log, feedback) into PostgreSQL."""
    from retrieval.library import Library

    library = Library.open(settings=args.settings, seed_default_corpus=False, database_url="")
    try:
        report = library.migrate_to(args.to)
    finally:
        library.close()
    out.write(report.summary(args.to) + "\n")
    return 0


def add_parsers(sub: Any, open_library: OpenLibrary, parse_day: Callable[[str], date]) -> None:
    """Add the library-keeping commands to the ``paperbot`` subparsers."""
    p = sub.add_parser("index", help="import papers and update the index")
    p.add_argument("--corpus", type=Path, help="a JSONL file: id, title, abstract [, url, arxiv_id, authors, ...]")
    p.add_argument("--pages", type=Path, help="a folder of saved Hugging Face papers pages")
    p.add_argument(
        "--collection",
        default=None,
        help="import --corpus (BibTeX, RIS, CSV or JSONL) into this private collection, all or nothing",
    )
    p.add_argument(
        "--no-default-corpus", action="store_true", help="do not seed an empty library with the bundled pages"
    )
    p.add_argument(
        "--rebuild", action="store_true", help="re-embed every paper (the index is rebuilt from the new vectors)"
    )
    p.add_argument(
        "--workers",
        type=_workers,
        default=0,
        help=f"encoder processes (default: the cores; imports under {POOL_FROM} papers encode in this process)",
    )
    p.add_argument(
        "--device", choices=("cpu", "cuda"), default=None, help="encode on the CPU or a GPU (default: PAPERBOT_DEVICE)"
    )
    p.set_defaults(func=lambda args, out: cmd_index(args, out, open_library))

    p = sub.add_parser("doctor", help="verify the library (integrity, checksums, vectors, index) and repair it")
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser("setup-model", help="export the embedding model to ONNX now (otherwise done on first use)")
    p.add_argument("--force", action="store_true", help="export again even if a usable export is cached")
    p.set_defaults(func=cmd_setup_model)

    p = sub.add_parser("fetch", help="pull the Hugging Face daily papers")
    when = p.add_mutually_exclusive_group()
    when.add_argument("--date", type=parse_day, help="one day (default: today, UTC)")
    when.add_argument("--since", type=parse_day, help="every day from this one to today")
    p.add_argument("--base", default=None, help="API base URL (env PAPERBOT_HF_BASE, default https://huggingface.co)")
    p.add_argument("--timeout", type=float, default=None, help="connect and read timeout in seconds (default 10/30)")
    p.add_argument("--retries", type=int, default=None, help="retries after a failed try (default 3)")
    p.set_defaults(func=lambda args, out: cmd_fetch(args, out, open_library))

    p = sub.add_parser("migrate", help="copy the SQLite library into PostgreSQL (no re-embedding; safe to rerun)")
    p.add_argument("--to", required=True, help="postgresql://user:password@host:5432/db (pgvector installed)")
    p.set_defaults(func=cmd_migrate)
