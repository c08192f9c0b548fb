"""How well does a followed topic pick its papers? The measurement behind ``TOPIC_THRESHOLD``.

Twenty topic phrases, each with a pattern: a paper counts as on-topic when its title matches the
pattern (a proxy label: a paper can be about a topic without naming it, so precision is understated
and recall overstated). For each threshold, precision, recall and F1 of "score ≥ threshold", for the
paper-vector cosine alone and for the score follows use (the higher of paper and title cosine).
"""

from __future__ import annotations

import re
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


def format_topic_report(report: dict[str, list[dict[str, float]]], papers: int) -> str:
    """The report as a table."""
    lines = [f"{len(TOPICS)} topics × {papers} papers (on-topic: the title names the topic)"]
    for name, rows in report.items():
        lines.append(f"\n{name}\n  threshold  precision  recall  f1")
        for row in rows:
            lines.append(f"  {row['threshold']:9.2f}  {row['precision']:9.3f}  {row['recall']:6.3f}  {row['f1']:.3f}")
    return "\n".join(lines)
