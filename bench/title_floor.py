"""How well the ``/paper`` relevance floor separates title fragments from nonsense.

``python -m bench.title_floor [--data-dir DIR]`` prints, for random 2-4 word fragments of real
titles, how many still find their paper, and for off-topic or nonsense lookups, how many are
refused ("no match") instead of showing an unrelated paper.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path
from typing import TextIO

from retrieval.library import TITLE_MATCH_COSINE, Library

NONSENSE = (
    "qwxz blorf",
    "asdf ghjk",
    "pizza recipe with pineapple",
    "football world cup results",
    "cheap flights to paris",
    "how to knit a scarf",
    "zzzz",
    "lorem ipsum dolor",
    "my cat is sleeping",
    "weather tomorrow in london",
    "banana bread",
    "the quick brown fox",
    "tax return deadline",
    "hello world",
    "car insurance quote",
    "gardening tips roses",
    "medieval castle history",
    "stock market crash 1929",
)


def fragments(library: Library, count: int, seed: int = 1) -> list[tuple[str, int]]:
    """``count`` random 2-4 word runs of real titles, with the paper they come from."""
    rng = random.Random(seed)
    papers = [p for p in (library.get_paper(i) for i in range(1, library.store.count() + 1)) if p]
    picked = []
    for paper in rng.sample(papers, min(count, len(papers))):
        words = paper.title.split()
        k = min(len(words), rng.choice([2, 3, 4]))
        start = rng.randrange(0, len(words) - k + 1)
        picked.append((" ".join(words[start : start + k]), paper.id))
    return picked


def run(library: Library, out: TextIO, count: int = 100) -> dict[str, float]:
    """Measure and print the floor's figures."""
    real = fragments(library, count)
    found = sum(1 for query, pid in real if (p := library.find_paper(query)) is not None and p.id == pid)
    answered = sum(1 for query, _ in real if library.find_paper(query) is not None)
    refused = sum(1 for query in NONSENSE if library.find_paper(query) is None)
    figures = {
        "floor_cosine": TITLE_MATCH_COSINE,
        "fragments": len(real),
        "fragments_found_their_paper": found / len(real),
        "fragments_answered": answered / len(real),
        "nonsense_refused": refused / len(NONSENSE),
    }
    for key, value in figures.items():
        out.write(f"{key}: {value:.2f}\n" if isinstance(value, float) else f"{key}: {value}\n")
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--count", type=int, default=100)
    args = parser.parse_args()
    library = Library.open(args.data_dir)
    try:
        run(library, sys.stdout, args.count)
    finally:
        library.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
