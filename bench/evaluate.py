"""Quality measurement on question sets: Recall@k, MRR, answer containment, abstention, nDCG.

Question files are JSONL. Answerable: ``{"question", "title", "answer_sentence"}``
(the expected paper by exact title, and the abstract sentence that answers it).
Unanswerable: ``{"question"}``. Ranking benchmarks (BEIR style, e.g. SciFact):
``{"id", "q", "relevant": [corpus ids]}``, the corpus ids being the papers' external ids.
Used by ``paperbot eval`` and by the tests.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from retrieval.library import Library
from retrieval.models import Paper
from retrieval.text import clean_question, normalize_title, query_terms

# Question kinds (the "kind" field of a question set) whose answer is one fact: a number or a name.
FACTOID_KINDS = ("count", "amount", "name")


def _read(path: Path | None) -> list[dict[str, Any]]:
    if path is None or not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def evaluate(library: Library, questions: Path | None, unanswerable: Path | None, top_k: int = 5) -> dict[str, Any]:
    """Run every question through ``library.ask`` and compute the quality figures."""
    answerable = _read(questions)
    outside = _read(unanswerable)
    ranks: list[int | None] = []
    contained = answered = 0
    by_kind: dict[str, list[bool]] = {}
    misses: list[dict[str, Any]] = []
    for item in answerable:
        answer = library.ask(item["question"], top_k)
        titles = [normalize_title(s.title) for s in answer.sources]
        want = normalize_title(item["title"])
        rank = titles.index(want) + 1 if want in titles else None
        ranks.append(rank)
        if not answer.abstained:
            answered += 1
        has_sentence = not answer.abstained and item.get("answer_sentence", "\x00") in answer.text
        contained += has_sentence
        if "kind" in item:
            by_kind.setdefault(item["kind"], []).append(has_sentence)
        if rank != 1 or answer.abstained or not has_sentence:
            misses.append(
                {
                    "question": item["question"],
                    "rank": rank,
                    "abstained": answer.abstained,
                    "confidence": round(answer.confidence, 3),
                    "contains_sentence": has_sentence,
                    "top": answer.sources[0].title if answer.sources else None,
                }
            )
    abstained_outside = 0
    false_answers: list[dict[str, Any]] = []
    for item in outside:
        answer = library.ask(item["question"], top_k)
        if answer.abstained:
            abstained_outside += 1
        else:
            false_answers.append({"question": item["question"], "confidence": round(answer.confidence, 3)})
    n = len(answerable) or 1
    abstained_inside = len(answerable) - answered
    total_abstained = abstained_inside + abstained_outside
    factoid = [x for kind in FACTOID_KINDS for x in by_kind.get(kind, [])]
    other = [x for kind, found in by_kind.items() if kind not in FACTOID_KINDS for x in found]
    kinds = {f"contains_sentence_{kind}": sum(found) / len(found) for kind, found in sorted(by_kind.items())}
    if by_kind:
        kinds["contains_sentence_factoid"] = sum(factoid) / len(factoid) if factoid else 0.0
        kinds["contains_sentence_other_kinds"] = sum(other) / len(other) if other else 0.0
    return {
        "answerable": len(answerable),
        "unanswerable": len(outside),
        "recall@1": sum(r == 1 for r in ranks) / n,
        f"recall@{top_k}": sum(r is not None for r in ranks) / n,
        "mrr": sum(1.0 / r for r in ranks if r) / n,
        "answered_covered": answered / n,
        "answer_contains_sentence": contained / n,
        "abstention_precision": abstained_outside / total_abstained if total_abstained else 1.0,
        "abstention_recall": abstained_outside / len(outside) if outside else 1.0,
        **kinds,
        "misses": misses,
        "false_answers": false_answers,
    }


def format_report(report: dict[str, Any]) -> str:
    """The report as readable lines."""
    lines = [f"{report['answerable']} answerable, {report['unanswerable']} unanswerable questions"]
    for key, value in report.items():
        if isinstance(value, float):
            lines.append(f"  {key:26s} {value:.3f}")
    for miss in report["misses"]:
        lines.append(f"  miss: {miss}")
    for wrong in report["false_answers"]:
        lines.append(f"  answered out-of-corpus: {wrong}")
    return "\n".join(lines)


# -- ranking benchmarks (nDCG@10) --------------------------------------------------------


def ndcg(ranked: list[str], relevant: set[str], k: int = 10) -> float:
    """Binary-relevance nDCG@k, as BEIR computes it."""
    dcg = sum(1.0 / math.log2(i + 2) for i, pid in enumerate(ranked[:k]) if pid in relevant)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    return dcg / ideal if ideal else 0.0


def _ranking_figures(runs: list[tuple[list[str], set[str]]], k: int) -> dict[str, float]:
    n = len(runs) or 1
    mrr = 0.0
    for ranked, relevant in runs:
        first = next((i for i, pid in enumerate(ranked[:k]) if pid in relevant), None)
        mrr += 1.0 / (first + 1) if first is not None else 0.0
    return {
        f"ndcg@{k}": sum(ndcg(r, rel, k) for r, rel in runs) / n,
        f"recall@{k}": sum(len(set(r[:k]) & rel) / len(rel) for r, rel in runs if rel) / n,
        f"mrr@{k}": mrr / n,
    }


def _ext_ids(library: Library, ids: list[int]) -> list[str]:
    papers: dict[int, Paper] = library.store.get_many(ids)
    return [papers[i].ext_id or str(i) for i in ids if i in papers]


def ranking_systems(library: Library, k: int) -> dict[str, Any]:
    """The library's hybrid ranking, and plain BM25 and plain MiniLM over the same library, as callables."""

    def hybrid(q: str) -> list[str]:
        return [h.paper.ext_id or str(h.paper.id) for h in library.search(q, k)]

    def bm25(q: str) -> list[str]:
        return _ext_ids(library, [i for i, _ in library.store.lexical_search(query_terms(clean_question(q)), k)])

    def minilm(q: str) -> list[str]:
        qvec = library.embedder.encode_query(clean_question(q))
        return _ext_ids(library, [i for i, _ in library.index.search(qvec, k)])

    return {"hybrid": hybrid, "bm25": bm25, "minilm": minilm}


def evaluate_ranking(library: Library, path: Path, k: int = 10) -> dict[str, Any]:
    """nDCG@k, Recall@k and MRR@k of each system, on all queries and on two fixed halves.

    The halves split by the parity of the numeric query id (``even``: the half ranking
    changes may be tuned on; ``odd``: never looked at while tuning).
    """
    items = _read(path)
    systems = ranking_systems(library, k)
    report: dict[str, Any] = {"queries": len(items), "systems": {}}
    for name, run in systems.items():
        runs = [(run(item["q"]), {str(x) for x in item["relevant"]}) for item in items]
        even = [r for r, item in zip(runs, items, strict=True) if _parity(item["id"]) == 0]
        odd = [r for r, item in zip(runs, items, strict=True) if _parity(item["id"]) == 1]
        report["systems"][name] = {
            "all": _ranking_figures(runs, k),
            "even": _ranking_figures(even, k),
            "odd": _ranking_figures(odd, k),
        }
    # Every query has a relevant paper in the library: an abstention here is a false one.
    report["abstained"] = round(sum(library.ask(item["q"]).abstained for item in items) / max(len(items), 1), 3)
    return report


def _parity(query_id: object) -> int:
    text = str(query_id)
    return int(text) % 2 if text.isdigit() else sum(text.encode()) % 2


def format_ranking_report(report: dict[str, Any]) -> str:
    """The ranking report as a table: one line per system and split."""
    lines = [f"{report['queries']} queries, {report.get('abstained', 0.0):.1%} abstained (all answerable)"]
    for name, splits in report["systems"].items():
        for split, figures in splits.items():
            shown = "  ".join(f"{key} {value:.3f}" for key, value in figures.items())
            lines.append(f"  {name:7s} {split:5s} {shown}")
    return "\n".join(lines)


def evaluate_paper_questions(library: Library, path: Path, split: str | None = None) -> dict[str, Any]:
    """Questions asked of one paper (``{"paper", "question", "kind", "split", "answer_sentence"?}``).

    ``kind``: "generic" (what they propose, the main result, a summary...: must be answered with a
    verbatim quote), "specific" (must be answered, quoting ``answer_sentence``), "absent" (the
    abstract does not say: must be "does not say"). ``split``: only the rows of that split.
    """
    from retrieval.text import split_sentences

    rows = [r for r in _read(path) if split is None or r.get("split") == split]
    counts: dict[str, list[bool]] = {"generic": [], "specific_answered": [], "specific_contains": [], "absent": []}
    misses: list[dict[str, Any]] = []
    for row in rows:
        answer = library.ask_paper(row["question"], row["paper"])
        paper = library.resolve_paper(row["paper"])
        abstract = " ".join(split_sentences(paper.abstract)) if paper else ""
        verbatim = bool(answer.quotes) and all(q.text in abstract for q in answer.quotes)
        if row["kind"] == "generic":
            ok = not answer.abstained and verbatim
            counts["generic"].append(ok)
        elif row["kind"] == "specific":
            counts["specific_answered"].append(not answer.abstained)
            ok = not answer.abstained and row["answer_sentence"] in answer.text
            counts["specific_contains"].append(ok)
        else:
            ok = answer.abstained
            counts["absent"].append(ok)
        if not ok:
            misses.append({"question": row["question"], "paper": row["paper"][:40], "kind": row["kind"],
                           "quotes": [q.text[:80] for q in answer.quotes]})  # fmt: skip
    report: dict[str, Any] = {k: f"{sum(v)}/{len(v)}" for k, v in counts.items()}
    report["misses"] = misses
    return report


def evaluate_own_vs_other_paper(library: Library, path: Path, shift: int = 7) -> dict[str, float]:
    """Answerable questions asked of their own paper (should be answered) and of another one (should not)."""
    rows = _read(path)
    own = other = 0
    for i, row in enumerate(rows):
        own += not library.ask_paper(row["question"], row["title"]).abstained
        other += library.ask_paper(row["question"], rows[(i + shift) % len(rows)]["title"]).abstained
    n = len(rows) or 1
    return {"answered_own_paper": own / n, "not_answered_other_paper": other / n}
