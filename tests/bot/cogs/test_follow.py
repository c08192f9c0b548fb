"""/follow commands and the follow DMs: one a day, never a paper twice, closed DMs not retried forever."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from unittest.mock import AsyncMock, MagicMock

import discord
import pytest

from bot.app import PaperBot
from bot.cogs.follow import FollowCog
from bot.fake_interaction import mock_interaction
from bot.render import limits
from retrieval.query.follows import MAX_FOLLOWS
from retrieval.storage.protocol import DmStatus
from tests.bot.conftest import invoke, sent
from tests.conftest import BACKENDS, make_papers

pytestmark = BACKENDS  # the commands and the DMs on SQLite and on PostgreSQL

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)  # papers of make_papers are listed on 2026-11-20


@pytest.fixture
def fresh_bot(open_library, config) -> PaperBot:
    library = open_library()
    papers = make_papers(8)
    papers[3] = replace(papers[3], authors=("Grace Hopper", "Someone Else"))
    library.add_papers(papers)
    return PaperBot(config, library=library)  # state in the library's file, as in production


@pytest.fixture
def make_interaction(fresh_bot):
    """Interactions over the fresh bot (not the session library's)."""
    return lambda **kwargs: mock_interaction(fresh_bot, **kwargs)


@pytest.fixture
def cog(fresh_bot):
    return FollowCog(fresh_bot, refresh=AsyncMock())


def dm_user(bot: PaperBot, user_id: int = 1) -> MagicMock:
    user = MagicMock(id=user_id)
    user.send = AsyncMock()
    bot.get_user = MagicMock(return_value=user)
    return user


def http_error(cls: type[discord.HTTPException], status: int, code: int, text: str) -> discord.HTTPException:
    return cls(MagicMock(status=status, reason=text), {"code": code, "message": text})


# -- commands -------------------------------------------------------------------------------


async def test_follow_topic_and_author_then_list_and_remove(cog, fresh_bot, make_interaction):
    interaction = make_interaction(user_id=1)
    await cog.topic.callback(cog, interaction, "protein structure prediction")
    assert "Following topic" in sent(interaction)["content"] and sent(interaction)["ephemeral"] is True
    await cog.author.callback(cog, make_interaction(user_id=1), "Grace Hopper")
    listing = make_interaction(user_id=1)
    await cog.list_.callback(cog, listing)
    embed = sent(listing)["embed"]
    assert "topic: protein structure prediction" in embed.description and "author: Grace Hopper" in embed.description
    assert limits.fits([embed])
    follows = fresh_bot.state.follows.of_user(1)
    choices = await cog._remove_autocomplete(make_interaction(user_id=1), "grace")
    assert [c.value for c in choices] == [f"id:{follows[1].id}"]
    removing = make_interaction(user_id=1)
    await cog.remove.callback(cog, removing, choices[0].value)
    assert "Stopped following author" in sent(removing)["content"]
    assert [f.kind for f in fresh_bot.state.follows.of_user(1)] == ["topic"]


async def test_removing_someone_elses_follow_is_refused(cog, fresh_bot, make_interaction):
    theirs = fresh_bot.state.follows.add(2, "topic", "robots")
    interaction = make_interaction(user_id=1)
    await cog.remove.callback(cog, interaction, f"id:{theirs.id}")
    assert "no such follow" in sent(interaction)["content"]
    assert fresh_bot.state.follows.of_user(2) == [theirs]


async def test_the_limit_and_duplicates_are_explained(cog, fresh_bot, make_interaction):
    for i in range(MAX_FOLLOWS):
        fresh_bot.state.follows.add(1, "topic", f"topic {i}")
    interaction = make_interaction(user_id=1)
    await invoke(cog.topic, cog, interaction, "one more")
    assert str(MAX_FOLLOWS) in sent(interaction)["content"]
    duplicate = make_interaction(user_id=1)
    await invoke(cog.topic, cog, duplicate, "TOPIC 3")
    assert "already follow" in sent(duplicate)["content"]


# -- DMs ------------------------------------------------------------------------------------


async def test_a_follower_gets_one_dm_listing_the_matches_and_pinging_only_them(cog, fresh_bot):
    fresh_bot.state.follows.add(1, "topic", "protein structure prediction")
    fresh_bot.state.follows.add(1, "author", "grace hopper")
    user = dm_user(fresh_bot)
    assert await cog.notifier.tick(NOW) == {1: "sent"}
    user.send.assert_awaited_once()
    kwargs = user.send.await_args.kwargs
    assert kwargs["content"].startswith("<@1>")
    mentions = kwargs["allowed_mentions"].to_dict()
    assert mentions["parse"] == [] and mentions["users"] == [1]
    embed = kwargs["embed"]
    names = [f.name for f in embed.fields]
    assert limits.fits([embed]) and any("Protein" in n for n in names) and any("Graph neural" in n for n in names)
    assert all("Diffusion" not in n for n in names)
    cog.notifier._refresh.assert_awaited_once()


async def test_no_second_dm_the_same_day_and_no_paper_twice_the_next(cog, fresh_bot):
    fresh_bot.state.follows.add(1, "topic", "protein structure prediction")
    user = dm_user(fresh_bot)
    await cog.notifier.tick(NOW)
    assert await cog.notifier.tick(NOW + timedelta(hours=2)) == {1: "nothing"}
    assert await cog.notifier.tick(NOW + timedelta(days=1)) == {1: "nothing"}  # same papers, already sent
    fresh_bot.library.add_papers([replace(make_papers(1, "Fresh")[0], listed_on=(NOW + timedelta(days=1)).date())])
    fresh_bot.library.add_papers(
        [
            replace(
                make_papers(2, "Later")[1],
                listed_on=(NOW + timedelta(days=1)).date(),
                title="Later 1: Protein structure prediction with diffusion",
            )
        ]
    )
    assert await cog.notifier.tick(NOW + timedelta(days=1, hours=1)) == {1: "sent"}
    assert user.send.await_count == 2
    assert all("Later" in f.name for f in user.send.await_args.kwargs["embed"].fields)


async def test_closed_dms_are_marked_and_not_retried_until_the_user_comes_back(cog, fresh_bot, make_interaction):
    fresh_bot.state.follows.add(1, "topic", "protein structure prediction")
    user = dm_user(fresh_bot)
    user.send.side_effect = http_error(discord.Forbidden, 403, 50007, "Cannot send messages to this user")
    assert await cog.notifier.tick(NOW) == {1: "closed"}
    assert fresh_bot.state.follows.closed_since(1) == NOW
    assert await cog.notifier.tick(NOW + timedelta(days=1)) == {}
    assert user.send.await_count == 1
    listing = make_interaction(user_id=1)
    await cog.list_.callback(cog, listing)
    assert any("could not DM" in f.name for f in sent(listing)["embed"].fields)
    user.send.side_effect = None
    assert await cog.notifier.tick(NOW + timedelta(days=1, hours=1)) == {1: "sent"}


async def test_a_transient_failure_releases_the_papers_for_a_retry(cog, fresh_bot):
    fresh_bot.state.follows.add(1, "topic", "protein structure prediction")
    user = dm_user(fresh_bot)
    user.send.side_effect = [http_error(discord.DiscordServerError, 503, 0, "Unavailable"), None]
    assert await cog.notifier.tick(NOW) == {1: DmStatus.FAILED}
    assert await cog.notifier.tick(NOW + timedelta(minutes=5)) == {1: "nothing"}
    assert await cog.notifier.tick(NOW + timedelta(minutes=40)) == {1: "sent"}


async def test_nobody_following_means_no_feed_request_and_no_dm(cog, fresh_bot):
    user = dm_user(fresh_bot)
    assert await cog.notifier.tick(NOW) == {}
    cog.notifier._refresh.assert_not_awaited()
    user.send.assert_not_awaited()
