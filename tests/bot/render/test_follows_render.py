"""Renderers for follows, found papers, added papers and weekly digests: always within Discord's limits."""

from __future__ import annotations

from datetime import UTC, date, datetime

from bot.render import limits
from bot.render.embeds import digest_embeds
from bot.render.follows import added_paper_embed, follow_dm, follow_list_embed, found_papers_embed
from bot.render.text import render_digest
from retrieval.models import Digest, DigestEntry, Follow, FollowMatch, Hit, Paper

HUGE = "@everyone **bold** " + "word " * 400


def paper(i: int) -> Paper:
    return Paper(
        title=f"{HUGE} {i}", abstract=HUGE, id=i, ext_id=f"2401.{i:05d}", arxiv_id=f"2401.{i:05d}", authors=(HUGE,) * 30
    )


def follow(i: int) -> Follow:
    return Follow(id=i, user_id=1, kind="topic", value=HUGE[:60], norm=HUGE[:60])


def test_the_follow_dm_fits_and_pings_nobody_but_the_follower():
    matches = [FollowMatch(paper=paper(i), follows=(follow(1), follow(2)), score=0.9) for i in range(30)]
    content, embed = follow_dm(matches, date(2026, 11, 20), 42)
    assert content.startswith("<@42>") and len(content) <= limits.CONTENT
    assert limits.fits([embed]) and len(embed.fields) == 10
    assert "@everyone" not in str(embed.to_dict())


def test_the_follow_list_fits_and_warns_about_closed_dms():
    embed = follow_list_embed([follow(i) for i in range(10)], datetime(2026, 11, 20, tzinfo=UTC))
    assert limits.fits([embed]) and "@everyone" not in embed.description
    assert any("could not DM" in f.name for f in embed.fields)
    assert "Nothing yet" in follow_list_embed([]).description


def test_found_papers_fit_and_none_says_so():
    hits = [Hit(paper=paper(i), score=1.0, best_sentence=HUGE) for i in range(12)]
    embed = found_papers_embed(HUGE, hits)
    assert limits.fits([embed]) and len(embed.fields) <= 10 and "@everyone" not in embed.author.name
    assert "No paper" in found_papers_embed("x", []).description


def test_the_added_paper_card_says_what_happened():
    embed = added_paper_embed(paper(1), "added")
    assert limits.fits([embed]) and embed.author.name.startswith("Added")
    assert added_paper_embed(paper(1), "unchanged").author.name.startswith("Already")


def test_a_weekly_digest_names_its_week_in_discord_and_in_text():
    digest = Digest(
        day=date(2026, 11, 20),
        since=date(2026, 11, 14),
        entries=tuple(DigestEntry(paper=paper(i)) for i in range(25)),
        total=40,
    )
    embeds = digest_embeds(digest)
    assert limits.fits(embeds) and "week 2026-11-14 – 2026-11-20" in embeds[0].title
    assert "that week" in embeds[0].footer.text
    assert render_digest(digest).startswith("📰 Papers of the week Sat 14 Nov 2026 – Fri 20 Nov 2026")
    empty = Digest(day=date(2026, 11, 20), since=date(2026, 11, 14), entries=(), total=0)
    assert "No papers were listed in the week" in digest_embeds(empty)[0].description
