"""Generic questions of one paper ("what do they propose?", "main result?", "tl;dr?") and the sentences that answer them.

A question asked of one paper is *generic* when, once the words that only point at the paper
("they", "this paper", "the authors") and the question's form ("what", "is", "the") are taken
away, every word left names a facet of the paper: its contribution, topic, result, problem,
method, evaluation, novelty, or a summary. Such a question is not matched by meaning (its
words are far from any sentence: "tl;dr?"), it is answered by the sentences that play that
role in the abstract, found by the cue words of each role, where they stand, and how central
they are to the abstract (cosine of the sentence with the paper's vector). An abstract always
has such sentences, so a generic question is never "does not say".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import StrEnum


class Facet(StrEnum):
    """What a generic question about one paper asks."""

    CONTRIBUTION = "contribution"
    TOPIC = "topic"
    RESULT = "result"
    PROBLEM = "problem"
    METHOD = "method"
    EVALUATION = "evaluation"
    NOVELTY = "novelty"
    SUMMARY = "summary"


# Words that name a facet (lower-case, as typed; a few stems by prefix below).
_FACET_WORDS: dict[Facet, frozenset[str]] = {
    Facet.CONTRIBUTION: frozenset(
        "propose proposed proposes propose? contribution contributions contribute contributes offer offers "
        "introduce introduces introduced present presents presented do did does point takeaway takeaways "
        "purpose goal aim aims point".split()
    ),
    Facet.TOPIC: frozenset("about topic topics subject gist idea ideas overview describe it's what's".split()),
    Facet.RESULT: frozenset(
        "result results finding findings find found show shows showed conclusion conclusions conclude "
        "outcome outcomes achieve achieves achieved well perform performance works work effective "
        "claim claims learn learned".split()
    ),
    Facet.PROBLEM: frozenset(
        "problem problems address addresses tackle tackles solve solves solving challenge challenges "
        "motivation motivate motivated why matter matters important issue issues question questions gap "
        "need".split()
    ),
    Facet.METHOD: frozenset(
        "method methods approach approaches technique techniques methodology algorithm framework "
        "model architecture design mechanism take".split()
    ),
    Facet.EVALUATION: frozenset(
        "evaluate evaluated evaluates evaluation evaluations experiment experiments experimental test "
        "tested tests benchmark benchmarks dataset datasets validate validated validation measure "
        "measured empirical empirically run compare compared baselines baseline".split()
    ),
    Facet.NOVELTY: frozenset(
        "new novel novelty different differ original unique innovation innovative special".split()
    ),
    Facet.SUMMARY: frozenset(
        "summarize summarise summary summarized tl dr tldr tl;dr eli5 explain brief briefly short shortly "
        "nutshell sentence line overall recap abstract".split()
    ),
}
_WORD_FACET = {word: facet for facet, words in _FACET_WORDS.items() for word in words}
# Words that point at the paper or carry the question's form: they say nothing about what is asked.
_NEUTRAL = frozenset(
    "what whats what's which who how is are was were be been the a an of in on for to it its it's this that these "
    "those they them their paper's paper papers work study article authors author here there do does did can could "
    "would should will me us please give tell main key central primary core basic big overall general one two "
    "three few some in one sentence words and or so ok okay hey quick quickly really exactly actually i you we "
    "our your basically essentially mostly like just with by from at as up into they're there's that's does "
    "doing done use used using get gets got has have had paper? all any".split()
)
_TOKEN = re.compile(r"[a-z0-9;']+")


def generic_facets(question: str) -> tuple[Facet, ...]:
    """The facets a generic question asks about, in the order asked; () for a specific question."""
    words = [w.strip("'") for w in _TOKEN.findall(question.casefold().replace("tl;dr", "tldr"))]
    facets: list[Facet] = []
    for word in words:
        if not word or word in _NEUTRAL or word == "how":
            continue
        facet = _WORD_FACET.get(word)
        if facet is None:
            return ()  # a word that names something specific: answered by meaning
        if facet not in facets:
            facets.append(facet)
    # "how does it work?": the method; "what do they do?", "what is it?": what the paper is about.
    if not facets and "how" in words:
        return (Facet.METHOD,)
    if not facets:
        return (Facet.TOPIC,) if words and len(words) <= 8 else ()
    return tuple(facets)


_CONTRIBUTION = re.compile(
    r"\b(?:we|this (?:paper|work|article|study)|in this (?:paper|work|article)|here,? we|our work)\s+(?:\w+\s+){0,2}?"
    r"(?:propose|introduce|present|develop|design|release|establish|study|investigate|show|argue|recommend|"
    r"describe|prove|report|offer|build|address)",
    re.IGNORECASE,
)
_RESULT = re.compile(
    r"\b(?:results?|experiments?|findings?|evaluations?)\s+(?:\w+\s+){0,2}?(?:show|demonstrate|indicate|suggest|"
    r"confirm|verify|illustrate|reveal)|\boutperform\w*|\bachiev\w*|\bstate[- ]of[- ]the[- ]art\b|\bimprov\w*|"
    r"\bsurpass\w*|\bsuperior\b|\bwe (?:find|found|observe|show|demonstrate|verify)\b|\bfinding\b|\d+(?:\.\d+)?\s*%"
    r"|\b\d+(?:\.\d+)?x\b|\bspeed-?ups?\b|\bbetter\b|\bsignificant\w*",
    re.IGNORECASE,
)
_PROBLEM = re.compile(
    r"\b(?:problem|challeng\w*|however|remains?|limited|limitation\w*|costly|expensive|difficult|issue\w*|"
    r"bottleneck\w*|lack\w*|fail\w*|suffer\w*|hard|gap|overlooked|unclear|open question|requires?|yet)\b",
    re.IGNORECASE,
)
_METHOD = re.compile(
    r"\b(?:we (?:propose|introduce|present|develop|design)|our (?:method|approach|framework|model|algorithm)|"
    r"based on|by (?:using|leveraging|combining)|consists? of|leverag\w*|via|through|combin\w*|"
    r"at the heart|architecture|algorithm|mechanism|module)\b",
    re.IGNORECASE,
)
_EVALUATION = re.compile(
    r"\b(?:evaluat\w*|experiment\w*|benchmark\w*|datasets?|tested|validat\w*|baselines?|empirical\w*|"
    r"ablation\w*|compar\w*|trained on|A/B)\b",
    re.IGNORECASE,
)
_NOVELTY = re.compile(
    r"\b(?:novel|first|new|unlike|in contrast|differs?|rather than|instead of|prior work|previous|existing|"
    r"to date|for the first time)\b",
    re.IGNORECASE,
)
_CUES = {
    Facet.CONTRIBUTION: _CONTRIBUTION,
    Facet.RESULT: _RESULT,
    Facet.PROBLEM: _PROBLEM,
    Facet.METHOD: _METHOD,
    Facet.EVALUATION: _EVALUATION,
    Facet.NOVELTY: _NOVELTY,
}
# Which roles answer each facet, best first (a summary is what they propose, then what they found).
_ANSWERED_BY: dict[Facet, tuple[Facet, ...]] = {
    Facet.CONTRIBUTION: (Facet.CONTRIBUTION,),
    Facet.TOPIC: (Facet.CONTRIBUTION,),
    Facet.RESULT: (Facet.RESULT,),
    Facet.PROBLEM: (Facet.PROBLEM,),
    Facet.METHOD: (Facet.METHOD,),
    Facet.EVALUATION: (Facet.EVALUATION,),
    Facet.NOVELTY: (Facet.NOVELTY,),
    Facet.SUMMARY: (Facet.CONTRIBUTION, Facet.RESULT),
}


def role_scores(
    sentences: Sequence[str], centrality: Sequence[float], role: Facet, cosines: Sequence[float] | None = None
) -> list[float]:
    """How well each sentence plays ``role`` in its abstract: its cue words, where it stands, how central it
    is, and (a little) its cosine to the question."""
    n = len(sentences)
    last = max(1, n - 1)
    cue = _CUES[role]
    out = []
    cosines = cosines or [0.0] * n
    for i, (text, central, cosine) in enumerate(zip(sentences, centrality, cosines, strict=True)):
        position = i / last
        hits = len(cue.findall(text))
        score = min(hits, 3) * 1.0 + 2.0 * central + 1.0 * cosine
        if role is Facet.CONTRIBUTION:
            score += 1.5 * bool(hits) - 0.8 * position
        elif role is Facet.RESULT:
            score += 1.0 * position - (2.0 if i == 0 else 0.0)
        elif role is Facet.PROBLEM:
            score += 1.0 * (1.0 - position) + (0.8 if i in (0, 1) else 0.0)
        elif role is Facet.EVALUATION:
            score += 0.5 * position
        elif role is Facet.NOVELTY:
            score += 1.0 if _CONTRIBUTION.search(text) else 0.0
        elif role is Facet.METHOD:
            score += 0.3 * (1.0 - abs(position - 0.4))
        out.append(score)
    return out


def facet_sentences(
    sentences: Sequence[str],
    centrality: Sequence[float],
    facets: Sequence[Facet],
    cosines: Sequence[float] | None = None,
    most: int = 2,
) -> list[int]:
    """Indices of the sentences that answer ``facets`` (at most ``most``, each role's best, in the order asked)."""
    if not sentences:
        return []
    roles = list(dict.fromkeys(role for facet in facets for role in _ANSWERED_BY[facet]))
    chosen: list[int] = []
    for role in roles:
        scores = role_scores(sentences, centrality, role, cosines)
        for i in sorted(range(len(sentences)), key=lambda j: -scores[j]):
            if i not in chosen:
                chosen.append(i)
                break
        if len(chosen) >= most:
            break
    return chosen
