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
from retrieval.query.search import SearchResult

MAX_QUOTES = 3
# Further quotes from the top paper must score within this margin of its best sentence.
QUOTE_MARGIN = 2.5

# Abstention: a logistic model over three measured signals of how well the library
# matches the question: the best sentence cosine and the best paper cosine among all
# candidates, and the top paper's fused rank score (high when every retriever puts it
# first). Fitted on tests/data (dev questions and half the hold-out questions against
# out-of-library questions) by `paperbot eval --fit`; the threshold answers 99% of the
# fitting set's covered questions. Word overlap is left out on purpose: it made the model
# refuse questions that paraphrase their paper.
ABSTAIN_WEIGHTS = (3.42, 3.3, 1.78)
ABSTAIN_BIAS = -2.97
ABSTAIN_THRESHOLD = 0.671


def abstention_signals(result: SearchResult) -> tuple[float, float, float]:
    """What the abstention model reads: best sentence cosine, best paper cosine, the top paper's fused score."""
    top_fused = result.top_rrf if result.hits else 0.0
    return result.top_sentence, result.top_doc, top_fused


def coverage_confidence(top_sentence: float, top_doc: float, top_fused: float) -> float:
    """Probability-like confidence that the library covers the question."""
    w_sent, w_doc, w_fused = ABSTAIN_WEIGHTS
    z = w_sent * top_sentence + w_doc * top_doc + w_fused * top_fused + ABSTAIN_BIAS
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


def select_quotes(result: SearchResult) -> list[Quote]:
    """Up to three sentences of the top paper that best answer the question, in abstract order.

    Quoting one paper rather than mixing papers keeps the answer attributable at a glance;
    the other papers are listed after it with their own best sentence as their quote.
    Sentences that stand next to each other in the abstract become one passage, as the
    abstract has them: it reads as written, and a sentence that another splitter would
    not have cut in two is still quoted whole.
    """
    if not result.hits:
        return []
    top_id = result.hits[0].paper.id or 0
    scored = result.sentences.get(top_id) or [(result.hits[0].best_sentence, 0.0)]
    best = max(score for _, score in scored)
    chosen = sorted(range(len(scored)), key=lambda i: -scored[i][1])[:MAX_QUOTES]
    chosen = sorted(i for i in chosen if scored[i][1] >= best - QUOTE_MARGIN)
    runs: list[list[int]] = []
    for i in chosen:
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    # Abstracts are stored whitespace-collapsed, so adjacent sentences are one space apart.
    return [Quote(" ".join(scored[i][0] for i in run), 0, max(scored[i][1] for i in run)) for run in runs]


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
    confidence = coverage_confidence(*abstention_signals(result)) if result.hits else 0.0
    abstained = confidence < ABSTAIN_THRESHOLD
    quotes: list[Quote] = []
    if not abstained:
        quotes = select_quotes(result)
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


# Asking about one paper: it "does not say" when its best sentence is this far from the
# question (cosine). Set on dev questions asked of their own paper (answered) against the
# same questions asked of another paper (should not be); see bench/evaluate.py.
PAPER_SAYS_COSINE = 0.35


def compose_paper_answer(question: str, result: SearchResult, *, started: float) -> Answer:
    """The answer from one paper (``result`` holds it alone): its best sentences, or that it does not say."""
    hit = result.hits[0]
    source = _source(hit)
    says = result.top_sentence >= PAPER_SAYS_COSINE
    quotes = select_quotes(result) if says else []
    if says:
        text = format_answer_text(quotes, [source], False, result.library_size)
    else:
        text = f'"{source.title}" does not say: nothing in its abstract answers that ({source.url}).'
    return Answer(
        question=question,
        text=text,
        abstained=not says,
        sources=(source,),
        quotes=tuple(quotes),
        took_ms=(time.perf_counter() - started) * 1000,
        library_size=result.library_size,
        reason="" if says else "not_in_paper",
        confidence=result.top_sentence,
    )


def paper_not_found(question: str, paper: str, library_size: int, *, started: float) -> Answer:
    """The answer when no paper matches what the user named."""
    return Answer(
        question=question,
        text=f"No paper in the library matches {paper!r}: try its exact title or arXiv id.",
        abstained=True,
        sources=(),
        took_ms=(time.perf_counter() - started) * 1000,
        library_size=library_size,
        reason="no_such_paper",
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
