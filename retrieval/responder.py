"""The extractive responder: quotes the sentences that answer a question, or abstains.

Nothing in an answer is generated except fixed framing: quotes are verbatim sentences
from the retrieved abstracts, each attributed to its paper with a link built from
stored data.
"""

from __future__ import annotations

import math
import time

from retrieval.links import paper_links
from retrieval.models import Answer, Hit, Quote, Source
from retrieval.search import SearchResult
from retrieval.text import term_set

MAX_QUOTES = 3
# Further quotes must score within this margin of the best sentence of the top paper.
QUOTE_MARGIN = 0.25
# Sentences of lower-ranked papers must beat the top paper's by this much to take a slot.
OTHER_PAPER_PENALTY = 0.05
# Weight of the share of question words a sentence contains, added to its cosine.
OVERLAP_WEIGHT = 0.3

# Abstention: a logistic model over two measured signals, the best sentence cosine
# among all candidates and the share of the question's content words found in the top
# paper. Fitted on tests/data (answerable vs. out-of-library questions, 5-fold CV), then
# regularized toward the cosine because the dev questions share many words with their
# abstracts; see README "How it works" and `paperbot eval`.
ABSTAIN_WEIGHTS = (10.0, 4.0)
ABSTAIN_BIAS = -7.0
ABSTAIN_THRESHOLD = 0.5


def coverage_confidence(top_sentence: float, term_coverage: float) -> float:
    """Probability-like confidence that the library covers the question."""
    z = ABSTAIN_WEIGHTS[0] * top_sentence + ABSTAIN_WEIGHTS[1] * term_coverage + ABSTAIN_BIAS
    return 1.0 / (1.0 + math.exp(-z))


def _source(hit: Hit) -> Source:
    paper = hit.paper
    links = paper_links(paper)
    return Source(
        id=paper.ext_id or str(paper.id),
        paper_id=paper.id or 0,
        title=paper.title,
        url=links[0].url,
        score=hit.score,
        quote=hit.best_sentence,
        links=links,
        authors=paper.authors,
        published=paper.published,
    )


def _sentence_overlap(sentence: str, terms: set[str]) -> float:
    if not terms:
        return 0.0
    return len(term_set(sentence) & terms) / len(terms)


def select_quotes(result: SearchResult, ranked: list[list[tuple[str, float]]]) -> list[Quote]:
    """Up to three sentences: the top paper's best, then its runners-up or a clearly better one elsewhere.

    ``ranked[i]`` holds hit i's sentences with their cosine to the question, best first.
    A sentence's score is its cosine plus a little for each question word it contains.
    """
    terms = set(result.terms)
    scored: list[tuple[float, int, str]] = []
    for source_index, sentences in enumerate(ranked):
        penalty = OTHER_PAPER_PENALTY if source_index else 0.0
        for text, cosine in sentences:
            scored.append((cosine + OVERLAP_WEIGHT * _sentence_overlap(text, terms) - penalty, source_index, text))
    if not scored:
        return []
    scored.sort(key=lambda s: -s[0])
    best = next((s for s in scored if s[1] == 0), scored[0])
    quotes = [Quote(best[2], best[1], best[0])]
    for score, source_index, text in scored:
        if len(quotes) >= MAX_QUOTES:
            break
        if text != best[2] and score >= best[0] - QUOTE_MARGIN:
            quotes.append(Quote(text, source_index, score))
    # Present quotes grouped by paper, in rank order.
    return sorted(quotes, key=lambda q: (q.source_index, -q.score))


def format_answer_text(quotes: list[Quote], sources: list[Source], abstained: bool, library_size: int) -> str:
    """The plain-text answer (fixed framing around verbatim quotes)."""
    lines: list[str] = []
    if abstained:
        lines.append(f"Not covered by the {library_size} papers I know.")
        if sources:
            lines.append("Closest titles:")
            lines.extend(f"- {s.title} — {s.url}" for s in sources[:3])
        return "\n".join(lines)
    cited: list[int] = []
    for quote in quotes:
        if quote.source_index not in cited:
            cited.append(quote.source_index)
            source = sources[quote.source_index]
            lines.append(f'From "{source.title}" ({source.url}):')
        lines.append(f"> {quote.text}")
    others = [s for i, s in enumerate(sources) if i not in cited]
    if others:
        lines.append("Also relevant:")
        lines.extend(f"- {s.title} — {s.url}" for s in others)
    return "\n".join(lines)


def compose_answer(question: str, result: SearchResult, *, started: float) -> Answer:
    """An :class:`Answer` from search results: quotes and sources, or an abstention with the closest titles."""
    sources = [_source(hit) for hit in result.hits]
    confidence = coverage_confidence(result.top_sentence, result.term_coverage) if result.hits else 0.0
    abstained = confidence < ABSTAIN_THRESHOLD
    quotes: list[Quote] = []
    if not abstained:
        ranked = [result.sentences.get(hit.paper.id or 0, []) for hit in result.hits[:MAX_QUOTES]]
        quotes = select_quotes(result, ranked)
    text = format_answer_text(quotes, sources, abstained, result.library_size)
    return Answer(
        question=question,
        text=text,
        abstained=abstained,
        sources=tuple(sources),
        quotes=tuple(quotes),
        took_ms=(time.perf_counter() - started) * 1000,
        library_size=result.library_size,
        reason="not_covered" if abstained else "",
        confidence=confidence,
    )


def empty_answer(question: str, library_size: int, took_ms: float) -> Answer:
    """The answer to a question with nothing to search for."""
    return Answer(
        question=question,
        text="Please ask a question about research papers, e.g. “is there a paper on pruning CNN filters?”",
        abstained=True,
        sources=(),
        took_ms=took_ms,
        library_size=library_size,
        reason="empty",
    )
