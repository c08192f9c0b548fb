"""``paperbot bench`` and ``paperbot eval``: the measurement commands, added to the ``paperbot`` CLI.

Registered as an entry point of the group ``paperbot.commands`` (see ``pyproject.toml``), so the
CLI finds them without importing ``bench``: measurement depends on the product, never the reverse.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from bot.cli import EXIT_USAGE, open_library

DEFAULT_CORPUS = Path("../shared/benchmarks/scifact-train/corpus.jsonl")


def add_commands(sub: Any) -> None:
    """Add ``bench`` and ``eval`` to the ``paperbot`` subparsers."""
    p = sub.add_parser("bench", help="measure latency, cold start, build time, memory, scale")
    p.add_argument(
        "--sizes",
        type=int,
        nargs="*",
        default=None,
        help="synthetic library sizes (default 10,000 and 100,000; with --database-url 100,000 and 1,000,000)",
    )
    p.add_argument("--quick", action="store_true", help="fewer repetitions and smaller synthetic sizes")
    p.add_argument(
        "--corpus",
        type=Path,
        default=DEFAULT_CORPUS,
        help="a JSONL corpus to time ingest on (default: the SciFact train corpus beside the project)",
    )
    p.add_argument("--json", action="store_true", help="also print all figures as one JSON object")
    p.add_argument(
        "--workers",
        action="store_true",
        help="only import papers/s with the encoder in process and in 1 and 2 worker processes (--corpus or the bundled corpus)",
    )
    p.add_argument(
        "--load",
        action="store_true",
        help="only the load test: 200 concurrent /ask over a local Discord, two shard processes on PostgreSQL",
    )
    p.add_argument(
        "--collections",
        type=int,
        default=None,
        metavar="PRIVATE",
        help="only search with the collection filter: --sizes shared (default 100,000) + PRIVATE papers of 5 "
        "servers, on SQLite (or, with --database-url, on PostgreSQL)",
    )
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("eval", help="Recall@k, MRR, answer and abstention quality on question sets")
    p.add_argument("--questions", type=Path, default=Path("tests/data/dev_questions.jsonl"))
    p.add_argument("--unanswerable", type=Path, default=Path("tests/data/dev_unanswerable.jsonl"))
    p.add_argument("--top-k", type=int, default=5)
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--ranking",
        type=Path,
        default=None,
        help='a ranking benchmark instead (JSONL {"id", "q", "relevant": [paper ids]}): nDCG@10, Recall@10, MRR@10 '
        "of the library beside plain BM25 and plain MiniLM, on all queries and on the even / odd id halves",
    )
    p.add_argument(
        "--fit",
        action="store_true",
        help="fit the abstention model instead on tests/data (a third held out; prints its figures)",
    )
    p.add_argument("--write", action="store_true", help="with --fit / --fit-ranker: write the shipped model file")
    p.add_argument(
        "--fit-sentences",
        action="store_true",
        help="fit the quote-choice sentence model on --fit-answerable instead, held out: --questions (prints weights)",
    )
    p.add_argument("--topics", action="store_true", help="measure followed-topic matching per threshold instead")
    p.add_argument(
        "--paper-questions",
        type=Path,
        default=None,
        help="questions asked of one paper instead (tests/data/paper_questions.jsonl): generic ones answered, "
        "specific ones quoting their sentence, absent ones 'does not say'; tune and hold-out splits",
    )
    p.add_argument(
        "--fulltext",
        action="store_true",
        help="asking one paper's full text instead: the dev and held-out full-text questions, served locally "
        "as HTML (add --pdf for PDF only)",
    )
    p.add_argument("--pdf", action="store_true", help="with --fulltext: serve PDFs only (no HTML)")
    p.add_argument("--abstract-only", action="store_true", help="with --fulltext: serve nothing (abstracts alone)")
    p.add_argument(
        "--ranker-features",
        type=Path,
        default=None,
        metavar="OUT.npz",
        help="write the learned ranker's candidate features instead: of --ranking's queries, else of the bundled "
        "question sets (bench/ranker_fit.py)",
    )
    p.add_argument(
        "--fit-ranker",
        type=Path,
        nargs="+",
        default=None,
        metavar="FEATURES.npz",
        help="fit the learned ranker on these feature files instead (held-out figures; --write: "
        "retrieval/query/ranker_model.json)",
    )
    p.add_argument("--fit-answerable", type=Path, nargs="*", default=[Path("tests/data/dev_questions.jsonl")])
    p.add_argument("--fit-unanswerable", type=Path, nargs="*", default=[Path("tests/data/dev_unanswerable.jsonl")])
    p.set_defaults(func=cmd_eval)


def cmd_bench(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Run the benchmark and print its figures."""
    if args.workers:
        from bench.workers_bench import bench_workers

        source = str(args.corpus) if args.corpus.is_file() and args.corpus != DEFAULT_CORPUS else "bundled"
        results = bench_workers(source, rounds=1 if args.quick else 2, limit=300 if args.quick else 0, out=out)
        if args.json:
            out.write(json.dumps(results) + "\n")
        return 0
    if args.load:
        from bench.load_test import run_load_test

        results = run_load_test(out=out, asks=50 if args.quick else 200)
        if args.json:
            out.write(json.dumps(results, default=str) + "\n")
        return 0
    from bench.library_bench import run_bench

    url = args.settings.database_url
    if args.collections is not None:
        from bench.postgres_bench import run_collection_bench

        results = run_collection_bench(url, args.sizes or [100_000], args.collections, out)
        if args.json:
            out.write(json.dumps(results, default=str) + "\n")
        return 0
    if url:
        from bench.postgres_bench import run_postgres_bench

        sizes = [10_000] if args.quick else (args.sizes or [100_000, 1_000_000])
        results = run_postgres_bench(url, sizes, sizes[0], out)
        if args.json:
            out.write(json.dumps(results, default=str) + "\n")
        return 0
    results = run_bench(
        args.data_dir,
        model=args.model,
        sizes=args.sizes or [10_000, 100_000],
        quick=args.quick,
        out=out,
        corpus=args.corpus,
    )
    if args.json:
        out.write(json.dumps(results, default=str) + "\n")
    return 0


def cmd_eval(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Measure retrieval and answer quality on question sets."""
    from bench.evaluate import evaluate, format_report

    if args.fulltext:
        from bench.fulltext_eval import evaluate_fulltext

        sets = {
            "dev": Path("tests/data/fulltext_questions.jsonl"),
            "holdout": Path("tests/data/fulltext_holdout.jsonl"),
        }
        out.write(
            json.dumps(evaluate_fulltext(sets, args.settings, pdf=args.pdf, none=args.abstract_only), indent=1) + "\n"
        )
        return 0
    if args.fit_ranker:
        from bench.ranker_fit import MODEL_FILE as RANKER_FILE
        from bench.ranker_fit import fit_ranker

        missing = [str(p) for p in args.fit_ranker if not p.is_file()]
        if missing:
            sys.stderr.write(f"error: no such file: {', '.join(missing)}\n")
            return EXIT_USAGE
        out.write(json.dumps(fit_ranker(args.fit_ranker, write=RANKER_FILE if args.write else None)) + "\n")
        return 0
    library = open_library(args)
    if args.ranker_features:
        from bench.ranker_fit import collect_features

        written = collect_features(library, args.ranker_features, args.ranking)
        out.write(f"{written} questions' candidates written to {args.ranker_features}\n")
        return 0
    if args.fit_sentences:
        from bench.sentence_fit import fit_sentence_model

        held_out = [args.questions] if args.questions else []
        out.write(json.dumps(fit_sentence_model(library, args.fit_answerable, held_out)) + "\n")
        return 0
    if args.topics:
        from bench.topic_eval import format_topic_report, message_floor_report, topic_threshold_report

        topic_report = topic_threshold_report(library)
        answerable = [args.questions, Path("tests/data/dev_claims.jsonl")]
        topic_report["message floor"] = message_floor_report(library, answerable, [args.unanswerable])
        out.write(
            (json.dumps(topic_report) if args.json else format_topic_report(topic_report, library.index.size)) + "\n"
        )
        return 0
    if args.paper_questions:
        from bench.evaluate import evaluate_own_vs_other_paper, evaluate_paper_questions

        figures: dict[str, object] = {
            split: evaluate_paper_questions(library, args.paper_questions, split) for split in ("tune", "holdout")
        }
        figures["own vs other paper"] = evaluate_own_vs_other_paper(library, args.questions)
        out.write(json.dumps(figures) + "\n")
        return 0
    if args.fit:
        from bench.abstain_fit import MODEL_FILE, fit_coverage_model

        fitted = fit_coverage_model(library, write=MODEL_FILE if args.write else None)
        out.write(json.dumps(fitted) + "\n")
        return 0
    if args.ranking:
        from bench.evaluate import evaluate_ranking, format_ranking_report

        if not args.ranking.is_file():
            sys.stderr.write(f"error: no such file: {args.ranking}\n")
            return EXIT_USAGE
        ranked = evaluate_ranking(library, args.ranking)
        out.write((json.dumps(ranked) if args.json else format_ranking_report(ranked)) + "\n")
        return 0
    report = evaluate(library, args.questions, args.unanswerable, top_k=args.top_k)
    out.write((json.dumps(report) if args.json else format_report(report)) + "\n")
    return 0
