"""``paperbot eval --fulltext``: how often a question asked of one paper gets a quote that holds the answer.

A fresh library of the spec'd papers (``tests/data/fulltext/papers.json``), their full texts
served by a local arXiv look-alike (HTML, or PDF only with ``pdf=True``); each question of a set
(``{"paper", "question", "answer"}``, ``answer`` a phrase the quote must hold, null when the
paper does not say) is asked with ``ask_paper``.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.fulltext_docs import DocumentServer, load_specs, spec_paper
from retrieval.library import Library
from retrieval.settings import Settings


def load_questions(path: Path) -> list[dict[str, Any]]:
    """The questions of a full-text set."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def evaluate_fulltext(
    question_sets: dict[str, Path], settings: Settings, pdf: bool = False, show: bool = False, none: bool = False
) -> dict[str, dict[str, float]]:
    """Per set: questions, share whose quotes hold the answer, share answered from the full text.

    ``pdf``: PDFs only; ``none``: no full text at all (the abstract alone, for comparison).
    """
    specs = load_specs()
    server = DocumentServer(specs, html=not (pdf or none), pdf=not none)
    results: dict[str, dict[str, float]] = {}
    try:
        with tempfile.TemporaryDirectory() as folder:
            lib = Library.open(
                Path(folder),
                settings=replace(settings, arxiv_base=server.base_url, arxiv_interval=0.0),
                seed_default_corpus=False,
            )
            try:
                lib.add_papers([spec_paper(spec) for spec in specs])
                for name, path in question_sets.items():
                    results[name] = _run_set(lib, load_questions(path), show)
            finally:
                lib.close()
    finally:
        server.close()
    return results


def _run_set(lib: Library, questions: list[dict[str, Any]], show: bool) -> dict[str, float]:
    held = answered_full = abstained_right = n_unanswerable = 0
    answerable = [q for q in questions if q["answer"]]
    for q in questions:
        answer = lib.ask_paper(q["question"], q["paper"])
        quotes = " ".join(quote.text for quote in answer.quotes)
        if not q["answer"]:
            n_unanswerable += 1
            abstained_right += answer.abstained
            continue
        ok = q["answer"].lower() in quotes.lower()
        held += ok
        answered_full += str(answer.basis) == "full_text"
        if show and not ok:
            print(f"MISS {q['paper']} {q['question']!r}: want {q['answer']!r}")  # noqa: T201
            for quote in answer.quotes:
                print(f"     [{quote.section}] {quote.text[:140]}")  # noqa: T201
    n = max(1, len(answerable))
    return {
        "questions": len(questions),
        "quote_holds_answer": held / n,
        "from_full_text": answered_full / n,
        "unanswerable": n_unanswerable,
        "unanswerable_abstained": abstained_right,
    }
