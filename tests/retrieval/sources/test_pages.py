"""The saved-page parser on the five bundled pages and on hand-made layouts."""

from __future__ import annotations

from datetime import date

import pytest

from retrieval.sources.pages import (
    DEFAULT_PAGES_DIR,
    page_files,
    parse_page,
    parse_page_text,
    parse_pages_dir,
)
from retrieval.text import normalize_title

REF = date(2026, 11, 23)
NAV = ("Get trending papers", "Subscribe", "byAK and the research community", "Daily Papers")


@pytest.fixture(scope="module")
def pages() -> dict[str, list]:
    return {p.name: parse_page(p, reference=REF) for p in page_files(DEFAULT_PAGES_DIR)}


def by_title(papers: list, title: str):
    return next(p for p in papers if p.title == title)


def test_bundled_pages_yield_the_exact_number_of_unique_papers(pages):
    assert {name: len(ps) for name, ps in pages.items()} == {
        "hf-papers-page-000.txt": 61,
        "hf-papers-page-001.txt": 210,
        "hf-papers-page-002.txt": 60,
        "hf-papers-page-003.txt": 65,
        "hf-papers-page-004.txt": 52,
    }
    everything = parse_pages_dir(DEFAULT_PAGES_DIR, reference=REF)
    assert len(everything) == 448
    assert len({normalize_title(p.title) for p in everything}) == 393


def test_no_navigation_text_leaks_into_titles_or_abstracts(pages):
    for papers in pages.values():
        for paper in papers:
            assert not any(paper.title.startswith(n) or n in paper.abstract for n in NAV), paper.title
            assert paper.title not in {"new", "·"} and not paper.title.startswith("•")
            assert len(paper.abstract) > 300 and len(paper.title) < 200


def test_page_000_blank_line_layout_with_page_date(pages):
    papers = pages["hf-papers-page-000.txt"]
    first = papers[0]
    assert first.title == "A Mathematical Theory of Deep Convolutional Neural Networks for Feature Extraction"
    assert first.abstract.startswith("Deep convolutional neural networks have led to breakthrough results")
    assert first.listed_on == date(2026, 3, 14)
    assert by_title(papers, "Pointer Networks").abstract.startswith("We introduce a new neural architecture")
    assert papers[-1].title == "BT^2: Backward-compatible Training with Basis Transformation"


def test_page_001_without_blank_lines_and_title_glued_to_subscribe(pages):
    papers = pages["hf-papers-page-001.txt"]
    assert papers[0].title == "HeadGaS: Real-Time Animatable Head Avatars via 3D Gaussian Splatting"
    assert papers[0].abstract.startswith("3D head animation has seen major quality")
    assert papers[0].listed_on is None  # this page has no date heading
    adam = by_title(papers, "Adam: A Method for Stochastic Optimization")
    assert adam.abstract.startswith("We introduce Adam, an algorithm for first-order gradient-based optimization")
    assert papers[-1].title == "The Effect of Data Dimensionality on Neural Network Prunability"


def test_page_002_author_counts_dates_and_upvotes(pages):
    papers = pages["hf-papers-page-002.txt"]
    first = papers[0]
    assert first.title == "A Comparative Analysis of Static Word Embeddings for Hungarian"
    assert (first.author_count, first.published, first.upvotes) == (1, date(2026, 5, 12), None)
    assert first.listed_on == date(2026, 11, 12)
    relative = by_title(papers, "Relative representations enable zero-shot latent space communication")
    assert (relative.author_count, relative.published) == (6, date(2022, 9, 30))
    diffusion = by_title(papers, "Diffusion Models Beat GANs on Image Classification")
    assert (diffusion.author_count, diffusion.published, diffusion.upvotes) == (8, date(2023, 7, 17), 1)
    # An organization line stands where the author count usually is.
    nemotron = by_title(
        papers, "Llama-Embed-Nemotron-8B: A Universal Text Embedding Model for Multilingual and Cross-Lingual Tasks"
    )
    assert (nemotron.author_count, nemotron.published, nemotron.upvotes) == (None, date(2026, 11, 10), 2)
    # A paper with no metadata block keeps none, and the next paper is not disturbed.
    ume = by_title(papers, "UME-R1: Exploring Reasoning-Driven Generative Multimodal Embeddings")
    assert ume.published is None and ume.author_count is None
    assert papers[-1].title == "Long-term Recurrent Convolutional Networks for Visual Recognition and Description"
    assert papers[-1].published == date(2014, 11, 17)


def test_pages_003_and_004_spot_checks(pages):
    p3 = pages["hf-papers-page-003.txt"]
    assert p3[0].title == "Aligning Language Models Using Follow-up Likelihood as Reward Signal"
    assert p3[0].listed_on == date(2026, 3, 11)
    assert by_title(p3, "Matryoshka Representation Learning").abstract.startswith("Learned representations are")
    p4 = pages["hf-papers-page-004.txt"]
    assert p4[0].title == "Deep Interest Network for Click-Through Rate Prediction"
    assert by_title(p4, "LeanVec: Search your vectors faster by making them fit").abstract.startswith("Modern deep")


def test_duplicates_across_pages_merge_into_one_paper_listed_on_every_day(open_store):
    records = parse_pages_dir(DEFAULT_PAGES_DIR, reference=REF)
    store = open_store().papers
    store.upsert(records)
    assert store.count() == 393
    title = "Knowledge Composition using Task Vectors with Learned Anisotropic Scaling"
    days = {p.listed_on for p in records if p.title == title and p.listed_on}
    assert len(days) >= 2
    (paper_id,) = store.find_exact(title)
    for day in days:
        assert paper_id in [p.id for p in store.papers_on(day)]


def test_year_less_dates_resolve_to_the_latest_past_occurrence():
    text = "Dec 30\n\nA Title\n\n" + "An abstract sentence that is long enough. " * 5
    (paper,) = parse_page_text(text, reference=date(2026, 1, 5))
    assert paper.listed_on == date(2025, 12, 30)


def test_a_malformed_page_resynchronizes_and_keeps_the_good_papers(caplog):
    good = "A real abstract sentence. " * 10
    text = "\n".join(
        ["Subscribe", "Orphan title without abstract", "Good Title", good, "  • 2 authors", "·", "Jan 2, 2020 4"]
    )
    papers = parse_page_text(text, reference=REF, name="bad.txt")
    assert [p.title for p in papers] == ["Good Title"]
    assert (papers[0].author_count, papers[0].published, papers[0].upvotes) == (2, date(2020, 1, 2), 4)
    assert "bad.txt" in caplog.text
