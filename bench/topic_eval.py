"""How well does a followed topic pick its papers? The measurement behind ``TOPIC_THRESHOLD``.

Also the relevance floor of "Find papers about this" (``message_floor_report``).

Twenty topic phrases, each with a pattern: a paper counts as on-topic when its title matches the
pattern (a proxy label: a paper can be about a topic without naming it, so precision is understated
and recall overstated). For each threshold, precision, recall and F1 of "score ≥ threshold", for the
paper-vector cosine alone and for the score follows use (the higher of paper and title cosine).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from retrieval.library import Library

TOPICS: dict[str, str] = {
    "diffusion models": r"diffusion",
    "reinforcement learning": r"reinforcement|\brl\b|policy",
    "speculative decoding": r"speculative",
    "mixture of experts": r"mixture.of.experts|\bmoe\b",
    "retrieval augmented generation": r"retrieval|\brag\b",
    "vision transformers": r"vision transformer|\bvit\b",
    "quantization": r"quantiz",
    "robot learning": r"robot",
    "speech recognition": r"speech",
    "code generation": r"\bcode\b",
    "video generation": r"video",
    "large language model agents": r"agent",
    "image segmentation": r"segment",
    "knowledge distillation": r"distill",
    "graph neural networks": r"graph",
    "3D reconstruction": r"\b3d\b|reconstruct",
    "text-to-image": r"text-to-image|text to image",
    "mathematical reasoning": r"math",
    "long context": r"long.context|long-context",
    "pruning": r"prun",
}
THRESHOLDS = tuple(round(0.3 + 0.05 * i, 2) for i in range(9))
FLOORS = (0.4, 0.45, 0.5, 0.55, 0.6)


def topic_threshold_report(library: Library) -> dict[str, list[dict[str, float]]]:
    """Precision/recall/F1 per threshold for the paper-vector score and the follow score."""
    ids = sorted(library.index.position)
    papers = library.store.get_many(ids)
    ids = [i for i in ids if i in papers]
    listed = [papers[i] for i in ids]
    labels = np.array([[bool(re.search(rx, papers[i].title, re.I)) for i in ids] for rx in TOPICS.values()])
    topic_vecs = library.embedder.encode(list(TOPICS))
    paper_only = topic_vecs @ np.stack([library.index.paper_vector(i) for i in ids]).T
    cosines = library.topic_cosines(listed, list(TOPICS))
    follow_score = np.array([[cosines[t][i] for i in ids] for t in TOPICS])
    report: dict[str, list[dict[str, float]]] = {}
    for name, scores in (("paper vector", paper_only), ("max(paper, title)", follow_score)):
        rows = []
        for threshold in THRESHOLDS:
            predicted = scores >= threshold
            tp = int((predicted & labels).sum())
            fp = int((predicted & ~labels).sum())
            fn = int((~predicted & labels).sum())
            precision = tp / (tp + fp) if tp + fp else 0.0
            recall = tp / (tp + fn) if tp + fn else 0.0
            f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
            rows.append(
                {
                    "threshold": threshold,
                    "precision": round(precision, 3),
                    "recall": round(recall, 3),
                    "f1": round(f1, 3),
                }
            )
        report[name] = rows
    return report


def _read(path: Path, key: str) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return [row for line in fh if line.strip() and key in (row := json.loads(line))]


def message_floor_report(
    library: Library, answerable: Sequence[Path], unanswerable: Sequence[Path], floors: Sequence[float] = FLOORS
) -> list[dict[str, float]]:
    """For "Find papers about this": per relevance floor, how often the right paper is still shown for an
    answerable question/claim, and how often an off-topic one still shows some paper."""
    pairs = [(row.get("question") or row["claim"], row["title"]) for path in answerable for row in _read(path, "title")]
    off = [row["question"] for path in unanswerable for row in _read(path, "question")]
    hits_of = {text: library.search(text, 5) for text in [q for q, _ in pairs] + off}
    rows = []
    for floor in floors:
        kept = sum(
            any(h.paper.title == title and max(h.dense_score, h.sentence_score) >= floor for h in hits_of[q])
            for q, title in pairs
        )
        shown = sum(any(max(h.dense_score, h.sentence_score) >= floor for h in hits_of[q]) for q in off)
        rows.append(
            {
                "floor": floor,
                "right_paper_kept": round(kept / max(1, len(pairs)), 3),
                "off_topic_shown": round(shown / max(1, len(off)), 3),
            }
        )
    return rows


def format_topic_report(report: dict[str, list[dict[str, float]]], papers: int) -> str:
    """The report as a table."""
    lines = [f"{len(TOPICS)} topics × {papers} papers (on-topic: the title names the topic)"]
    for name, rows in report.items():
        if name == "message floor":
            lines.append("\nFind papers about this: relevance floor\n  floor  right paper kept  off-topic shown")
            for row in rows:
                lines.append(f"  {row['floor']:5.2f}  {row['right_paper_kept']:16.3f}  {row['off_topic_shown']:.3f}")
            continue
        lines.append(f"\n{name}\n  threshold  precision  recall  f1")
        for row in rows:
            lines.append(f"  {row['threshold']:9.2f}  {row['precision']:9.3f}  {row['recall']:6.3f}  {row['f1']:.3f}")
    return "\n".join(lines)
