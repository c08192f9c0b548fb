"""What a question asks for (a count, an amount, a name, a comparison, a method) and whether a sentence holds it.

A question that asks "how many tokens" wants the sentence with the number of tokens, not
the paper's general claim; one that asks what a method is called wants the sentence that
names it. These rules read the question's form, then look in a sentence for what that
form asks for: a number (best with the asked unit next to it), a name (an acronym or
coined word, best introduced by "called", "named", "we propose"…), a comparative. They
feed the sentence model in :mod:`retrieval.query.sentences` as features; its weights
decide how much they count.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from retrieval.text import query_terms, rough_stem

_COUNT = re.compile(r"\bhow\s+many\b|\bnumber\s+of\b|\bhow\s+often\b", re.IGNORECASE)
_AMOUNT = re.compile(
    r"\bhow\s+(?:much|big|large|small|fast|long|far|accurate|well)\b|\bby\s+what\b|\bwhat\s+(?:share|fraction|percentage|"
    r"proportion|rate|ratio|size|score|accuracy|speed[- ]?up|factor)s?\b|\bup\s+to\s+what\b|\bwhat\s+\w+\s+(?:rate|factor|score|"
    r"accuracy|speed[- ]?up|gain|improvement|reduction|budget)s?\b|\bhow\s+(?:\w+\s+){0,3}(?:improve|beat|reduce|cut|gain|"
    r"speed|shrink|lift)\b|\bwhat\s+(?:ap|auc|f1|bleu|accuracy|perplexity)\b|\bin\s+which\s+(?:\w+\s+)?sizes?\b",
    re.IGNORECASE,
)
_NAME = re.compile(
    r"\b(?:call|called|named|name[ds]?|dubbed|termed|known\s+as|acronym)\b|\bwhat\s+(?:is|'s|are)\s+(?:the\s+)?name\b"
    r"|\bwhich\s+(?:\w+\s+){0,3}(?:dataset|benchmark|model|method|algorithm|architecture|loss|metric|features?|"
    r"system|framework|tool)s?\b",
    re.IGNORECASE,
)
_COMPARE = re.compile(
    r"\b(?:compare[sd]?|comparison|versus|vs\.?|against|better|worse|beat|beats|outperforms?|faster|slower|"
    r"stack\s+up|than)\b",
    re.IGNORECASE,
)
_YES_NO = re.compile(
    r"^\s*(?:so\s+|and\s+|but\s+)?(?:does|do|did|is|are|was|were|can|could|will|would|should|has|have)\b",
    re.IGNORECASE,
)
_FINDING = re.compile(
    r"\b(?:we\s+(?:find|found|show|observe|demonstrate|reveal|confirm)|(?:results?|experiments?|analysis|evaluations?)"
    r"\s+(?:show|shows|demonstrate|demonstrates|indicate|indicates|suggest|suggests|reveal|reveals|confirm)|"
    r"(?:outperform|surpass|improv|reduc|increas|achiev|lead)\w*|significantly|consistently|substantially)\b",
    re.IGNORECASE,
)
_METHOD = re.compile(r"^\s*(?:so\s+)?how\s+(?:do|does|did|can|could|is|are|was|were)\b", re.IGNORECASE)

# A number standing on its own (not the "50" of "ResNet-50", not a list's "1)"), or a spelled-out count.
_NUMBER = re.compile(
    r"(?:(?<=[\s(~≈+$<>])|^)(?!\d\))(?:\d+(?:[.,]\d+)*(?:\\?%|x\b|×|[kKmMbBgGtT]\b)?)(?=[\s,;:).%/x×\-–]|$)"
    r"|\b(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|hundreds?|thousands?|"
    r"millions?|billions?|dozens?|half|double|doubling|twice|tens)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[\w'^.-]+")
# A coined name: an acronym or mixed-case / digit-bearing word ("SoRA", "DFN-2B", "ColBERTer", "LR^2VQ").
_COINED = re.compile(r"(?<![\w-])(?=[\w^-]*[A-Z][\w^-]*[A-Z0-9^])[A-Za-z][\w^-]*[A-Za-z0-9](?![\w-])")
_INTRODUCES = re.compile(
    r"\b(?:called|named|termed|dubbed|coined|we\s+(?:propose|present|introduce|call|name|release|design|develop)|"
    r"(?:is|are)\s+(?:a|an)\b|(?:our|the)\s+(?:proposed\s+)?(?:approach|method|model|framework|system|algorithm|"
    r"scheme|technique|dataset|benchmark|loss)\s*,)",
    re.IGNORECASE,
)
# A capitalized word inside a sentence (not its first): a name such as "Loki" when a name is asked for.
_CAPITALIZED = re.compile(r"(?<=[\s(,])[A-Z][a-z]{2,}\b")
# Question words that say what form the answer takes, not what it is about: never the unit of a number.
_FORM_WORDS = frozenset(
    "many much name names named called call big large small fast long far well number give gives given "
    "roughly approximately exactly".split()
)
# A change or share asked for ("how much does it improve…", "what fraction…") comes as a percentage or a factor.
_RELATIVE = re.compile(
    r"\b(?:improv\w*|beat\w*|reduc\w*|cut\w*|gain\w*|faster|slower|speed\w*|shrink\w*|lift\w*|degrad\w*|"
    r"boost\w*|share|fraction|percent\w*|proportion|rate|ratio|factor\w*|smaller|larger|bigger|fewer|less)\b",
    re.IGNORECASE,
)
_PERCENT_OR_FACTOR = re.compile(r"\d\s*(?:\\?%|x\b|×|times\b|-fold\b)|\btimes\b|\bhalf\b|\bdoubl", re.IGNORECASE)
_COMPARATIVE = re.compile(
    r"\b(?:than|vs\.?|versus|outperform\w*|surpass\w*|compared|comparable|beat\w*|over|relative|improv\w*|"
    r"better|worse|faster|fewer|less|more|higher|lower|times)\b|\d\s*(?:x|×)\b",
    re.IGNORECASE,
)
_MEANS = re.compile(r"\b(?:by|via|through|using|uses|use|with|which|leverag\w+|employ\w*|replac\w+)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Ask:
    """What one question asks for, read from its form."""

    count: bool = False
    amount: bool = False
    name: bool = False
    comparison: bool = False
    method: bool = False
    # A change or a share ("how much faster", "what fraction"): a percentage or factor answers it.
    relative: bool = False
    # The question's content words, roughly stemmed: the unit a number should come with.
    stems: tuple[str, ...] = ()
    # A yes / no claim check ("does X beat Y?", "is X enough for Y?"): the sentence stating the finding answers it.
    claim: bool = False

    @property
    def number(self) -> bool:
        """True when the answer is a number (a count or an amount)."""
        return self.count or self.amount


@functools.lru_cache(maxsize=1024)
def asked_for(question: str) -> Ask:
    """What ``question`` asks for: a count, an amount, a name, a comparison, a method (any, several or none)."""
    name = bool(_NAME.search(question))
    count = bool(_COUNT.search(question))
    amount = not count and bool(_AMOUNT.search(question))
    return Ask(
        count=count,
        amount=amount,
        name=name,
        comparison=bool(_COMPARE.search(question)),
        method=bool(_METHOD.search(question)) and not (count or name),
        relative=amount and bool(_RELATIVE.search(question)),
        stems=tuple(rough_stem(t) for t in query_terms(question) if not t.isdigit() and t not in _FORM_WORDS),
        claim=bool(_YES_NO.match(question)) and not (count or name),
    )


def states_finding(sentence: str) -> bool:
    """Whether a sentence states a result or claim ("we find…", "results show…", "outperforms…")."""
    return bool(_FINDING.search(sentence))


@dataclass(frozen=True)
class _Facts:
    """What a sentence holds, whatever the question (cached: the same abstracts come up again and again)."""

    # The words just before and just after each number, lower-case.
    numbers: tuple[tuple[str, str], ...]
    percent_or_factor: bool
    coined: tuple[str, ...]  # casefolded
    capitalized: tuple[str, ...]  # casefolded
    introduces: bool
    comparative: bool
    means: bool


@functools.lru_cache(maxsize=32768)
def _facts(sentence: str) -> _Facts:
    lowered = sentence.casefold()
    numbers = []
    for match in _NUMBER.finditer(sentence):
        after = " ".join(_WORD.findall(lowered[match.end() : match.end() + 40])[:3])
        before = " ".join(_WORD.findall(lowered[max(0, match.start() - 25) : match.start()])[-2:])
        numbers.append((before, after))
    return _Facts(
        numbers=tuple(numbers),
        percent_or_factor=bool(_PERCENT_OR_FACTOR.search(sentence)),
        coined=tuple(m.group(0).casefold() for m in _COINED.finditer(sentence)),
        capitalized=tuple(m.group(0).casefold() for m in _CAPITALIZED.finditer(sentence)),
        introduces=bool(_INTRODUCES.search(sentence)),
        comparative=bool(_COMPARATIVE.search(sentence)),
        means=bool(_MEANS.search(sentence)),
    )


def holds(sentence: str, ask: Ask, question_words: frozenset[str]) -> tuple[float, float, float, float]:
    """How well a sentence holds what was asked: (a number, a number with the asked unit, a name, a comparison/means).

    Each is 0 unless the question asks for that kind of thing. ``question_words`` are the
    question's words as typed (lower-case), so a name the question already spells out does
    not count as the answer.
    """
    number = unit = name = compare = 0.0
    if not (ask.number or ask.name or ask.comparison or ask.method):
        return number, unit, name, compare
    facts = _facts(sentence)
    if ask.number and facts.numbers:
        number = 1.0
        # A percentage or factor answers a relative amount; else the unit is a question word
        # within a few words after (or just before) the number.
        relative = ask.relative and facts.percent_or_factor
        near = any(stem in after or stem in before for before, after in facts.numbers for stem in ask.stems)
        unit = 1.0 if relative or near else 0.0
    if ask.name:
        coined = [c for c in facts.coined if c not in question_words]
        if facts.introduces:
            names = coined or [c for c in facts.capitalized if c not in question_words]
            name = 1.0 if names else 0.0
        elif coined:
            name = 0.5
    if ask.comparison and facts.comparative:
        compare = 1.0
    elif ask.method and facts.means:
        compare = 0.5
    return number, unit, name, compare
