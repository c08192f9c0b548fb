"""Text for ``/library import`` and ``/library list``: pure functions within Discord's limits."""

from __future__ import annotations

from bot.render import limits
from retrieval.collections import CollectionPage, ImportReport
from retrieval.sources.reading_list import MAX_RECORDS

# Skipped records listed by line in the summary (the rest are counted).
MAX_SKIPPED_SHOWN = 10


def import_progress(filename: str, done: int, total: int) -> str:
    """The deferred reply while an import embeds: how far it is."""
    share = f" ({100 * done // total}%)" if total else ""
    return f"Importing {limits.safe(filename, 100)}: {done}/{total} papers embedded{share}…"


def import_summary(filename: str, report: ImportReport) -> str:
    """What an import did, with the skipped records by line (≤ 2,000 characters)."""
    lines = [
        f"Imported **{limits.safe(filename, 100)}** ({report.format}) into this server's reading list: "
        f"{report.new} new, {report.updated} updated, {report.unchanged} already there, "
        f"{len(report.skipped)} skipped. The list now holds {report.total} papers, "
        "seen by `/ask`, `/paper` and *Find papers* in this server only."
    ]
    if report.skipped:
        lines.append("Skipped:")
        for line, why in report.skipped[:MAX_SKIPPED_SHOWN]:
            lines.append(f"- line {line}: {limits.safe(why, 150)}")
        if len(report.skipped) > MAX_SKIPPED_SHOWN:
            lines.append(f"- … and {len(report.skipped) - MAX_SKIPPED_SHOWN} more")
    return limits.truncate("\n".join(lines), limits.CONTENT)


def collection_text(page: CollectionPage) -> str:
    """One page of ``/library list`` (≤ 2,000 characters)."""
    if not page.total:
        return (
            "This server's reading list is empty. `/library import` a BibTeX, RIS, CSV or JSONL file "
            f"(up to {MAX_RECORDS} records) to add papers only this server sees."
        )
    lines = [f"This server's reading list: {page.total} papers (page {page.page}/{page.pages}), newest first:"]
    for paper in page.papers:
        year = f" ({paper.published.year})" if paper.published else ""
        lines.append(f"- `id:{paper.id}` {limits.safe(paper.title, 150)}{year}")
    lines.append("Remove one with `/library remove paper: id:N` (or its title).")
    return limits.truncate("\n".join(lines), limits.CONTENT)


def removed_text(titles: list[str]) -> str:
    """What ``/library remove`` removed."""
    if len(titles) == 1:
        return f"Removed **{limits.safe(titles[0], 200)}** from this server's reading list."
    return f"Removed all {len(titles)} papers of this server's reading list."
