"""What a question asks for, and quotes that hold it (the rules, then on the bundled papers)."""

from __future__ import annotations

import pytest

from retrieval.query.asks import asked_for, holds, states_finding
from retrieval.text import split_sentences


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("how many parameters does the model have?", "count"),
        ("on how many datasets was it evaluated?", "count"),
        ("how much faster is decoding with a draft model?", "amount"),
        ("what fraction of the weights does it tune?", "amount"),
        ("by how much does it beat LoRA?", "amount"),
        ("what is the benchmark they release called?", "name"),
        ("what's the name of the loss they propose?", "name"),
        ("which dataset do they train on?", "name"),
        ("how does it compare with Swin Transformer?", "comparison"),
        ("how does the method pick the experts for each token?", "method"),
    ],
)
def test_the_form_of_a_question_says_what_it_asks_for(question, kind):
    ask = asked_for(question)
    assert getattr(ask, kind), ask
    if kind in {"count", "amount"}:
        assert ask.number


def test_a_topical_question_asks_for_no_particular_kind_of_fact():
    ask = asked_for("papers on pruning convolutional filters for medical images")
    assert not (ask.number or ask.name or ask.comparison or ask.method)


def test_a_number_counts_most_with_the_asked_unit_next_to_it():
    ask = asked_for("how many parameters does the model have?")
    with_unit = holds("These innovations resulted in a 9B parameter model.", ask, frozenset())
    other_number = holds("We evaluate on 12 datasets for both tasks.", ask, frozenset())
    no_number = holds("Our model performs competitively with the state of the art.", ask, frozenset())
    assert with_unit[:2] == (1.0, 1.0)
    assert other_number[:2] == (1.0, 0.0)
    assert no_number[:2] == (0.0, 0.0)


def test_list_markers_and_digits_inside_names_are_not_numbers():
    ask = asked_for("how many layers does it use?")
    assert holds("We make three contributions: 1) a model, 2) a dataset.", ask, frozenset())[0] == 1.0  # "three"
    assert holds("To address this: 1) we train a ResNet-50 and a GPT-2.", ask, frozenset())[0] == 0.0


def test_a_relative_amount_is_answered_by_a_percentage_or_a_factor():
    ask = asked_for("by how much does it improve accuracy over the baseline?")
    assert ask.relative
    assert holds("It boosts Adapter by 4.2% mean top-1.", ask, frozenset())[1] == 1.0
    assert holds("It was trained on 128 GPUs.", ask, frozenset())[1] == 0.0


def test_a_name_question_wants_a_sentence_that_introduces_a_name_it_did_not_already_spell_out():
    ask = asked_for("what do they call the merged 3D dataset?")
    typed = frozenset({"call", "merged", "3d", "dataset"})
    assert holds("This diverse labeled dataset, termed Objaverse-Mix, helps.", ask, typed)[2] == 1.0
    assert holds("The dataset helps the model learn object variations.", ask, typed)[2] == 0.0
    named = asked_for("what is Objaverse-Mix called in the paper?")
    assert holds("We train on Objaverse-Mix.", named, frozenset({"objaverse-mix"}))[2] == 0.0


def test_a_question_that_asks_for_nothing_in_particular_gets_no_such_features():
    assert holds(
        "It reaches 90% with 9B parameters, termed XModel.", asked_for("papers on model merging"), frozenset()
    ) == (
        0.0,
        0.0,
        0.0,
        0.0,
    )


@pytest.mark.parametrize(
    ("question", "holding"),
    [
        ("how many parameters does the POINTS vision-language model have?", "9B parameter model"),
        (
            "what name do they give the merged, labelled 3D dataset for auto-regressive shape generation?",
            "termed Objaverse-Mix",
        ),
        ("on how many out-of-domain collections was ColBERTer's robustness shown?", "seven high-quality"),
    ],
)
def test_the_answer_quotes_the_sentence_holding_the_asked_fact(library, question, holding):
    answer = library.ask(question)
    assert not answer.abstained
    assert any(holding in quote.text for quote in answer.quotes), [q.text for q in answer.quotes]
    for quote in answer.quotes:  # still verbatim
        assert quote.text in library.get_paper(answer.sources[0].paper_id).abstract
    assert split_sentences(answer.quotes[0].text)


def test_a_yes_no_claim_check_wants_the_sentence_that_states_the_finding():
    assert asked_for("does overfitting an LLM on a tiny dataset make greedy decoding less repetitive?").claim
    assert asked_for("Do LoRA and full fine-tuning end up with similar weight matrices?").claim
    assert not asked_for("how many layers does it have?").claim
    assert not asked_for("codebook collapse in VQ models, how to fix").claim
    assert states_finding("We find that hyperfitted models produce less repetitive text.")
    assert states_finding("Our method consistently outperforms strong baselines on three benchmarks.")
    assert not states_finding("Large language models often repeat themselves under greedy decoding.")


def test_the_finding_sentence_scores_higher_only_when_a_claim_is_checked():
    from retrieval.query.sentences import score_sentences

    sentences = [
        "Greedy decoding makes language models repeat themselves.",
        "We find that hyperfitting reduces repetition.",
    ]
    cosines = [0.5, 0.5]
    terms = ["hyperfitting", "repetition"]
    claim = score_sentences(sentences, cosines, terms, {}, asked_for("does hyperfitting reduce repetition?"))
    topic = score_sentences(sentences, cosines, terms, {}, asked_for("hyperfitting and repetition"))
    assert claim[1] - claim[0] > topic[1] - topic[0]
