"""Text normalization: titles, sentence splitting, question cleaning, query terms."""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata

MAX_QUESTION_CHARS = 500

_WS = re.compile(r"\s+")
_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)
# Discord mentions and pings that must never reach a query or an answer.
_MENTION = re.compile(r"<(?:@[!&]?|#|a?:\w+:)\d+>|@(?:everyone|here)\b")
# Control and invisible format characters, and lone surrogates (undecodable bytes read with
# surrogateescape), which SQLite and Discord cannot encode.
_CONTROL = re.compile(
    r"[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff\ud800-\udfff]"
)

# Abbreviations after which a period does not end a sentence.
_ABBREV = {
    "e.g",
    "i.e",
    "et al",
    "al",
    "vs",
    "fig",
    "figs",
    "eq",
    "eqs",
    "sec",
    "ref",
    "refs",
    "cf",
    "approx",
    "resp",
    "no",
    "nos",
    "dr",
    "mr",
    "ms",
    "prof",
    "inc",
    "ltd",
    "jr",
    "sr",
    "st",
    "vol",
    "pp",
    "ca",
    "viz",
    "tab",
    "i.i.d",
    "w.r.t",
    "u.s",
    "e.t.c",
    "incl",
    "min",
    "max",
    "avg",
    "std",
}
_SENT_END = re.compile(r"[.!?](?:[\"'\u201d\u2019)\]]*)\s+(?=[\"'\u201c\u2018(\[]*[A-Z0-9\u00c0-\u024f])")

STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are aren as at be because been before
    being below between both but by can cannot could did do does doing don down during each few for
    from further had has have having he her here hers herself him himself his how i if in into is
    isn it its itself just let me more most my myself no nor not of off on once only or other ought
    our ours ourselves out over own paper papers same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up very was
    we were what when where which while who whom why will with would you your yours yourself
    yourselves there's is there any anything something someone study studies work works show shows
    shown find found research researchers propose proposed approach method methods use using used
    based new novel
    """.split()
)


def normalize_title(title: str) -> str:
    """Case-, accent- and punctuation-insensitive form of a title, for deduplication and exact match."""
    text = unicodedata.normalize("NFKD", title)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    return _WS.sub(" ", _NON_WORD.sub(" ", text)).strip()


def title_slug(title: str) -> str:
    """A stable id for a paper that has none (saved pages carry no arXiv id)."""
    return "hf-" + hashlib.sha1(normalize_title(title).encode()).hexdigest()[:12]


def text_hash(title: str, abstract: str) -> str:
    """Fingerprint of the text the index embeds; a change means re-embedding."""
    return hashlib.sha1(f"{title}\x1f{abstract}".encode()).hexdigest()


def clean_text(text: str) -> str:
    """Text as stored and searched: control characters and lone surrogates out, whitespace collapsed."""
    return _WS.sub(" ", _CONTROL.sub(" ", text)).strip()


def clean_question(raw: str, max_chars: int = MAX_QUESTION_CHARS) -> str:
    """Strip mentions, control characters and excess whitespace; cap the length at a word boundary."""
    text = unicodedata.normalize("NFC", raw or "")
    text = clean_text(_MENTION.sub(" ", text))
    if len(text) > max_chars:
        cut = text[:max_chars]
        space = cut.rfind(" ")
        text = cut[:space] if space > max_chars // 2 else cut
    return text


_WORKS = r"(?:papers?|works?|research|stud(?:y|ies)|articles?|publications?|literature|preprints?)"
_ABOUT = (
    r"(?:\s+(?:(?:that|which)\s+(?:stud(?:y|ies)|shows?|proposes?|looks?\s+at|investigates?|discuss(?:es)?|explores?|examines?)"
    r"|on|about|regarding|for|into|in|that|which|where|showing|studying))?"
)
_ARTICLE = r"(?:(?:a|an|any|some|the|recent|good|new)\s+)*"
_LEAD = re.compile(
    r"^(?:"
    r"(?:hey|hi|hello|yo|ok|okay|so|please|pls|quick\s+question)(?=[\s,!:.])[\s,!:.]*"
    r"|@?paperbot\b[\s,!:.-]*"
    rf"|(?:is|are)\s+there\s+{_ARTICLE}{_WORKS}{_ABOUT}\b[\s,:-]*"
    rf"|(?:i'?m|i\s+am)\s+(?:looking|searching)\s+for\s+{_ARTICLE}{_WORKS}?{_ABOUT}\b[\s,:-]*"
    rf"|(?:do|does)\s+(?:you|anyone|anybody|someone|somebody)\s+know\s+(?:of\s+)?{_ARTICLE}{_WORKS}{_ABOUT}\b[\s,:-]*"
    rf"|(?:(?:can|could|would)\s+you\s+(?:please\s+)?)?(?:find|show|recommend|suggest|give|list)\s+(?:me\s+)?{_ARTICLE}{_WORKS}{_ABOUT}\b[\s,:-]*"
    rf"|{_ARTICLE}{_WORKS}\s+(?:on|about|regarding)\b[\s,:-]*"
    r")",
    re.IGNORECASE,
)
# "anything"/"anyone" only after a dash or comma: "can a model learn anything?" keeps its word.
_TRAIL = re.compile(
    r"(?:\s*[,;:-]+\s*(?:anything|anyone|any\s+ideas)|[\s,;:-]+(?:any\s+ideas|thanks|thank\s+you|thx|pls|please))"
    r"\s*[?.!]*\s*$",
    re.IGNORECASE,
)


def strip_framing(question: str) -> str:
    """The question without request framing ("hey, is there a paper on …", "… - anything?").

    The framing words say nothing about the topic but pull the question's embedding and
    its BM25 terms towards every abstract that says "paper" or "work". The framing is
    kept when too little would be left to search for.
    """
    text = question
    for _ in range(4):  # "hey @paperbot, is there a paper on …" peels off in steps
        stripped = _LEAD.sub("", text, count=1)
        if stripped == text:
            break
        text = stripped
    # The sign-off is short: looking only at the end keeps this linear on long punctuation runs.
    tail = _TRAIL.search(text, max(0, len(text) - 40))
    text = (text[: tail.start()] if tail else text).strip(" ,;:-")
    return text if len(query_terms(text)) >= 2 else question


def has_content(question: str) -> bool:
    """True when a cleaned question has at least one letter or digit to search for."""
    return any(ch.isalnum() for ch in question)


@functools.lru_cache(maxsize=8192)
def _split_cached(text: str) -> tuple[str, ...]:
    return tuple(_split(text))


def split_sentences(text: str) -> list[str]:
    """Split an abstract into sentences, verbatim (each is a substring of ``text``).

    Rule-based: a sentence ends at ``.``, ``!`` or ``?`` followed by space and an
    upper-case letter or digit, unless the period closes a known abbreviation or a
    single initial. Cached: the same abstracts are split for every question.
    """
    return list(_split_cached(text))


def _split(text: str) -> list[str]:
    sentences: list[str] = []
    start = 0
    for match in _SENT_END.finditer(text):
        end = match.start() + 1
        chunk = text[start:end]
        word = re.search(r"([\w.]+)\.$", chunk)
        if word:
            token = word.group(1).lower()
            if token in _ABBREV or (len(token) == 1 and token.isalpha()):
                continue
        piece = text[start : match.end()].strip()
        if piece:
            sentences.append(piece)
        start = match.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def rough_stem(term: str) -> str:
    """A query term without a common suffix, for substring tests ("pruning" -> "prun", matching "prune")."""
    return term[: max(4, len(term) - 3)] if len(term) > 5 else term


@functools.lru_cache(maxsize=16384)
def term_set(text: str) -> frozenset[str]:
    """The content words of a text, as a set (cached: used on abstract sentences per question)."""
    return frozenset(query_terms(text))


def query_terms(text: str) -> list[str]:
    """Content words of a query for the lexical index: lower-case, no stopwords, de-duplicated."""
    seen: dict[str, None] = {}
    for token in _NON_WORD.split(unicodedata.normalize("NFKC", text).casefold()):
        token = token.strip("_")
        if len(token) < 2 and not token.isdigit():
            continue
        if token in STOPWORDS:
            continue
        seen.setdefault(token, None)
    return list(seen)
