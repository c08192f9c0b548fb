"""Links for a paper, built from stored data only (never an invented id)."""

from __future__ import annotations

import re
from urllib.parse import quote_plus

from retrieval.models import Link, Paper

HF_PAPERS = "https://huggingface.co/papers"
ARXIV_ABS = "https://arxiv.org/abs"

_ARXIV_ID = re.compile(r"^(?:\d{4}\.\d{4,5}|[a-z\-]+(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?$")
# Code and project links named in an abstract; trailing punctuation is not part of a URL.
_URL_IN_TEXT = re.compile(r"https?://[^\s<>\"'\]\)]+", re.IGNORECASE)
_CODE_HOSTS = ("github.com", "gitlab.com", "bitbucket.org", "huggingface.co", "codeberg.org")


def is_arxiv_id(value: str | None) -> bool:
    """True for new-style (2401.01234) and old-style (cs.LG/0101001) arXiv ids."""
    return bool(value) and bool(_ARXIV_ID.match(value or ""))


def search_url(title: str) -> str:
    """The Hugging Face papers search for a title."""
    return f"{HF_PAPERS}?q={quote_plus(title)}"


def urls_in_text(text: str) -> list[str]:
    """URLs written in an abstract, trailing punctuation removed, de-duplicated in order."""
    found: dict[str, None] = {}
    for raw in _URL_IN_TEXT.findall(text):
        found.setdefault(raw.rstrip(".,;:!?}"), None)
    return list(found)


def paper_links(paper: Paper) -> tuple[Link, ...]:
    """Every link for a paper: HF and arXiv pages by id, else a search link; then code and project links."""
    links: list[Link] = []
    if is_arxiv_id(paper.arxiv_id):
        links.append(Link("Hugging Face", f"{HF_PAPERS}/{paper.arxiv_id}"))
        links.append(Link("arXiv", f"{ARXIV_ABS}/{paper.arxiv_id}"))
    elif paper.url:
        links.append(Link("Paper", paper.url))
    else:
        links.append(Link("Search on Hugging Face", search_url(paper.title)))
    seen = {link.url for link in links}
    extra: list[Link] = []
    if paper.github:
        extra.append(Link("Code", paper.github))
    if paper.project_page:
        extra.append(Link("Project page", paper.project_page))
    for url in urls_in_text(paper.abstract):
        host = url.split("/")[2].lower() if url.count("/") >= 2 else ""
        label = "Code" if any(host.endswith(h) for h in _CODE_HOSTS) else "Link"
        extra.append(Link(label, url))
    for link in extra:
        if link.url not in seen:
            seen.add(link.url)
            links.append(link)
    return tuple(links)


def primary_url(paper: Paper) -> str:
    """The one link to show beside a title."""
    return paper_links(paper)[0].url
