"""Sentence splitting and question cleaning."""

from __future__ import annotations

import pytest

from retrieval.text import (
    MAX_QUESTION_CHARS,
    clean_question,
    has_content,
    query_terms,
    split_sentences,
    strip_framing,
)


def test_sentences_are_verbatim_substrings_and_respect_abbreviations():
    text = (
        "We study e.g. pruning and i.e. sparsity, following Smith et al. in 2020. "
        "Accuracy rose by 3.5 points (Fig. 2). Does it scale? Yes! 10 models were tested on scale, depth, etc. "
        "Then we stopped."
    )
    sentences = split_sentences(text)
    assert sentences == [
        "We study e.g. pruning and i.e. sparsity, following Smith et al. in 2020.",
        "Accuracy rose by 3.5 points (Fig. 2).",
        "Does it scale?",
        "Yes!",
        "10 models were tested on scale, depth, etc.",
        "Then we stopped.",
    ]
    assert all(s in text for s in sentences)


def test_clean_question_strips_mentions_controls_and_caps_length():
    assert clean_question("  @everyone <@123456> what is\u200b  <#42> Adam?  @here ") == "what is Adam?"
    long = "word " * 5000
    cleaned = clean_question(long)
    assert len(cleaned) <= MAX_QUESTION_CHARS and cleaned.endswith("word")
    assert clean_question("Qu'est-ce que l'apprentissage 🤖 par renforcement ?") == (
        "Qu'est-ce que l'apprentissage 🤖 par renforcement ?"
    )
    # Undecodable bytes read with surrogateescape arrive as lone surrogates, which SQLite cannot store.
    assert clean_question("\udcff\udcfe pruning filters") == "pruning filters"


def test_has_content_rejects_empty_and_punctuation_only_questions():
    assert not has_content(clean_question(""))
    assert not has_content(clean_question("   ?!  @everyone "))
    assert has_content(clean_question("变压器"))


def test_query_terms_drop_stopwords_and_keep_order():
    assert query_terms("Is there a paper on pruning the CNN filters, pruning twice?") == [
        "pruning",
        "cnn",
        "filters",
        "twice",
    ]


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        ("Is there a paper that studies dense retrievers without labels?", "dense retrievers without labels?"),
        ("hey @paperbot, is there research about LoRA matrices", "LoRA matrices"),
        ("I'm looking for work on background music for videos - anything?", "background music for videos"),
        ("Any papers on gradient noise for deep nets?", "gradient noise for deep nets?"),
        ("can you recommend me some papers about graph networks for molecules", "graph networks for molecules"),
        ("do you know of any work on speculative decoding", "speculative decoding"),
        ("Are there any recent studies showing scaling laws for sparse models?", "scaling laws for sparse models?"),
        ("Hi! papers about vision transformers for video, thanks", "vision transformers for video"),
    ],
)
def test_request_framing_is_stripped_from_the_topic(question, topic):
    assert strip_framing(question) == topic


@pytest.mark.parametrize(
    "question",
    [
        "is there a way to train one embedding whose prefixes work?",
        "Is there a paper on pruning?",
        "study of attention heads",
        "OK-VQA results with retrieval",
        "hi-res image synthesis with diffusion",
        "can a small model learn anything from noisy labels?",
    ],
)
def test_questions_that_are_all_topic_or_too_short_keep_their_framing(question):
    assert strip_framing(question) == question
