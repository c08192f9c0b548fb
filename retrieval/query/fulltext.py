"""Quoting one paper's full text: which sentences answer a question, under which section.

Each sentence is scored by the abstract quote-choice model (:mod:`retrieval.query.sentences`:
cosine, word overlap, what the question asks for…) plus what a full text adds: the section it
stands in. The questions people ask of one paper have a usual place for their answer — what it
proposes (abstract, introduction), the main result (abstract, results, conclusion), datasets and
baselines (experiments, setup), limitations (a limitations or discussion section), hyper-parameters
(setup, implementation details, appendix), whether code is available (a repository link) — so a
question of one of these kinds lifts the sentences under such headings and with such words. The
weights were set on ``tests/data/fulltext_questions.jsonl`` (``paperbot eval --fulltext``), the
held-out questions in ``fulltext_holdout.jsonl`` were not used.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from retrieval.links import paper_links
from retrieval.models import Answer, Basis, FullText, Paper, Quote, Source
from retrieval.query.asks import asked_for
from retrieval.query.sentences import score_sentences
from retrieval.text import query_terms, rough_stem

MAX_QUOTES = 3
QUOTE_MARGIN = 2.0
# A full text says when a sentence is this close to the question (an abstract: PAPER_SAYS_COSINE, 0.35). Its
# answers are often one plain sentence among hundreds ("Distance estimation is the hardest family": 0.32).
FULLTEXT_SAYS_COSINE = 0.30


@dataclass(frozen=True)
class Intent:
    """A kind of question about one paper: how to recognise it, where its answer stands, what its sentence says."""

    name: str
    question: re.Pattern[str]
    headings: re.Pattern[str]
    sentence: re.Pattern[str]
    heading_weight: float = 1.5
    sentence_weight: float = 1.5


def _re(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


INTENTS: tuple[Intent, ...] = (
    Intent(
        "proposal",
        _re(
            r"\b(?:propose|proposal|introduce|present|contribution|about|summar\w*|main idea|tl;?dr|key idea|"
            r"what (?:is|does) (?:this|the) (?:paper|work))\b"
        ),
        _re(r"^(?:abstract|(?:\d+\s+)?introduction)$"),
        _re(r"\bwe (?:propose|introduce|present)\b|\b(?:this|our) (?:paper|work) (?:proposes|introduces|presents)\b"),
        heading_weight=1.5,
        sentence_weight=2.5,
    ),
    Intent(
        "result",
        _re(r"\b(?:main|key|headline) (?:result|finding)s?\b|\bfind(?:ing)?s?\b|\bhow well\b|\bresults?\b"),
        _re(r"^(?:abstract|(?:[\d.]+\s+)?(?:results?|main results|conclusions?|evaluation))\b"),
        _re(r"\d+(?:\.\d+)?\s*(?:%|x\b|×|points?)|\b(?:outperform\w*|improv\w*|reach\w*|match\w*|achiev\w*)\b"),
    ),
    Intent(
        "data",
        _re(r"\b(?:datasets?|data sets?|benchmarks?|corpus|corpora|evaluat\w+ on|trained on|tested on|data)\b"),
        _re(r"\b(?:experiments?|experimental|setup|set-up|datasets?|data|evaluation|benchmarks?)\b"),
        _re(r"\b(?:datasets?|benchmarks?|corpus|corpora|evaluate\w* on|pretrained on|trained on|we use)\b"),
    ),
    Intent(
        "baselines",
        _re(r"\b(?:baselines?|compare[sd]?|comparisons?|competitors?|against)\b"),
        _re(r"\b(?:experiments?|experimental|setup|baselines?|evaluation|comparisons?)\b"),
        _re(r"\b(?:baselines?|compare\w*|against|lower bounds?|reference)\b"),
        sentence_weight=2.0,
    ),
    Intent(
        "limitations",
        _re(r"\b(?:limitations?|limited|weakness\w*|drawbacks?|shortcomings?|fail\w*|caveats?|future work)\b"),
        _re(r"\b(?:limitations?|discussion|conclusions?|future work|broader impact)\b"),
        _re(
            r"\b(?:limitations?|limited|does not|do not|did not|cannot|can't|only|assumes?|fails?|helps less|"
            r"future work|may (?:not|differ|overstate))\b"
        ),
        heading_weight=2.0,
        sentence_weight=1.5,
    ),
    Intent(
        "hyperparameters",
        _re(
            r"\b(?:hyper-?parameters?|learning rates?|lr|batch sizes?|epochs?|optimi[sz]ers?|warm-?up|weight decay|"
            r"dropout|steps|iterations|training details|temperature|decoding settings?|trained? for)\b"
        ),
        _re(r"\b(?:setup|set-up|implementation|training|hyper-?parameters?|details|appendix|experiments?)\b"),
        _re(
            r"\b(?:learning rate|batch size|epochs?|adamw?|sgd|optimi[sz]er|warm-?up|weight decay|dropout|"
            r"steps|temperature|decoding)\b"
        ),
        heading_weight=1.0,
        sentence_weight=1.5,
    ),
    Intent(
        "code",
        _re(
            r"\b(?:code|github|open[- ]?source\w*|repo(?:sitory)?|implementation|released?|publicly available|"
            r"checkpoints?|weights)\b"
        ),
        _re(r"$^"),
        _re(
            r"https?://|github\.com|\b(?:code|implementation|checkpoints)\b.*\b(?:available|release\w*)\b|"
            r"\b(?:release|open-source)\w* (?:our|the) (?:code|implementation)|\bpublicly available\b"
        ),
        heading_weight=0.0,
        sentence_weight=4.0,
    ),
)


def intents_of(question: str) -> list[Intent]:
    """The kinds of question ``question`` is (none, one or several)."""
    return [intent for intent in INTENTS if intent.question.search(question)]


def section_label(heading: str) -> str:
    """How a quote's section is shown: "§4 Experiments", "§A.1 Hyper-parameters", "Abstract", "Appendix B Proofs"."""
    heading = heading.strip()
    if re.match(r"^(?:\d+(?:\.\d+)*|[A-Z](?:\.\d+)*)\.?\s+\S", heading):
        return f"§{heading}"
    return heading


def _heading_words(heading: str) -> set[str]:
    return {rough_stem(t) for t in query_terms(heading)}


def score_fulltext(
    question: str,
    sentences: Sequence[tuple[str, str]],
    cosines: Sequence[float],
    terms: Sequence[str],
    term_idf: dict[str, float],
) -> list[float]:
    """A score for each (heading, sentence) of a full text: the abstract model's, plus section and intent cues."""
    texts = [text for _, text in sentences]
    base = score_sentences(texts, cosines, terms, term_idf, asked_for(question))
    intents = intents_of(question)
    stems = {rough_stem(t) for t in terms}
    heading_bonus: dict[str, float] = {}
    scores = []
    for (heading, text), score in zip(sentences, base, strict=True):
        if heading not in heading_bonus:
            bare = re.sub(r"^(?:appendix\s+)?(?:[\dA-Z]+(?:\.\d+)*\.?\s+)", "", heading, flags=re.IGNORECASE)
            bonus = sum(i.heading_weight for i in intents if i.headings.search(bare.strip()))
            bonus += 0.5 * min(2, len(stems & _heading_words(bare)))
            heading_bonus[heading] = bonus
        score += heading_bonus[heading]
        score += sum(i.sentence_weight for i in intents if i.sentence.search(text))
        scores.append(score)
    return scores


def _runs(chosen: list[int], sentences: Sequence[tuple[str, str]]) -> list[list[int]]:
    """Chosen positions grouped into passages: adjacent sentences of one section."""
    runs: list[list[int]] = []
    for i in sorted(chosen):
        if runs and runs[-1][-1] == i - 1 and sentences[i - 1][0] == sentences[i][0]:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def answer_from_fulltext(
    question: str,
    paper: Paper,
    text: FullText,
    vectors: np.ndarray,
    qvec: np.ndarray,
    terms: Sequence[str],
    term_idf: dict[str, float],
    *,
    library_size: int,
    started: float,
) -> Answer | None:
    """Quotes of ``paper``'s full text that answer ``question``, each with its section; None when it does not say."""
    sentences = text.sentences()
    if not sentences or len(vectors) != len(sentences):
        return None
    cosines = [float(x) for x in vectors @ qvec]
    scores = score_fulltext(question, sentences, cosines, terms, term_idf)
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    best = order[0]
    # Generic questions ("what do they propose?") are far from every sentence in meaning; their kind
    # says what answers them, so a sentence that says it (by its words) answers.
    chosen = [i for i in order[:MAX_QUOTES] if scores[i] >= scores[best] - QUOTE_MARGIN]
    intents = intents_of(question)
    cued = any(intent.sentence.search(sentences[i][1]) for intent in intents for i in chosen)
    if max(cosines) < FULLTEXT_SAYS_COSINE and not cued:
        return None
    # A short lead-in ("Our study has several limitations.") is quoted with the sentence that follows it.
    if (
        len(sentences[best][1].split()) < 8
        and best + 1 < len(sentences)
        and sentences[best + 1][0] == sentences[best][0]
    ):
        chosen.append(best + 1)
    chosen = sorted(set(chosen))
    quotes = [
        Quote(
            " ".join(sentences[i][1] for i in run),
            0,
            max(scores[i] for i in run),
            section=section_label(sentences[run[0]][0]),
        )
        for run in _runs(chosen, sentences)
    ]
    # The best passage first: the reader sees the answer before the context.
    quotes.sort(key=lambda q: -q.score)
    links = paper_links(paper)
    source = Source(
        id=paper.ext_id or str(paper.id),
        paper_id=paper.id or 0,
        title=paper.title,
        url=links[0].url,
        score=scores[best],
        quote=quotes[0].text,
        links=links,
        authors=paper.authors,
        published=paper.published,
        section=quotes[0].section,
    )
    lines = [f'From the full text of "{paper.title}" ({source.url}):']
    lines.extend(f"> {q.text}\n  — {q.section}" if q.section else f"> {q.text}" for q in quotes)
    return Answer(
        question=question,
        text="\n".join(lines),
        abstained=False,
        sources=(source,),
        quotes=tuple(quotes),
        took_ms=(time.perf_counter() - started) * 1000,
        library_size=library_size,
        confidence=max(cosines),
        basis=Basis.FULL_TEXT,
    )


def unavailable_note(reason: str) -> str:
    """The line an abstract answer carries when the full text could not be had."""
    return f"Answered from the abstract: the full text could not be had ({reason})."
