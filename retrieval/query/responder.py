"""The extractive responder: quotes the sentences that answer a question, or abstains.

Nothing in an answer is generated except fixed framing: quotes are verbatim sentences
from the retrieved abstracts, each attributed to its paper with a link built from
stored data.
"""

from __future__ import annotations

import time

from retrieval.links import paper_links
from retrieval.models import Answer, Hit, Quote, Source
from retrieval.query.abstain import Reason, is_covered, paper_says
from retrieval.query.search import SearchResult

MAX_QUOTES = 3
# Further quotes from the top paper must score within this margin of its best sentence.
QUOTE_MARGIN = 2.5


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


# An abstention's text lists at most this many closest titles.
CLOSEST_SHOWN = 3


def format_answer_text(quotes: list[Quote], sources: list[Source], abstained: bool, library_size: int) -> str:
    """The plain-text answer (fixed framing around verbatim quotes)."""
    lines: list[str] = []
    if abstained:
        lines.append(f"Not covered by the {library_size} papers I know.")
        if sources:
            lines.append("Closest titles:")
            lines.extend(f"- {s.title} — {s.url}" for s in sources[:CLOSEST_SHOWN])
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
    covered, confidence = is_covered(result)
    abstained = not covered
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
        reason=Reason.NOT_COVERED if abstained else Reason.NONE,
        confidence=confidence,
    )


def compose_paper_answer(question: str, result: SearchResult, *, started: float) -> Answer:
    """The answer from one paper (``result`` holds it alone): its best sentences, or that it does not say."""
    hit = result.hits[0]
    source = _source(hit)
    says = paper_says(result)
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
        reason=Reason.NONE if says else Reason.NOT_IN_PAPER,
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
        reason=Reason.NO_SUCH_PAPER,
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
        reason=Reason.EMPTY,
    )
