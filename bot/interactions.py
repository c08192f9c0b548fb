"""Small helpers shared by the cogs: replying whatever the interaction's state, permission checks."""

from __future__ import annotations

import logging

import discord
from discord import app_commands

from retrieval.models import Scope

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()


async def reply(
    interaction: discord.Interaction,
    content: str | None = None,
    *,
    embed: discord.Embed | None = None,
    ephemeral: bool = True,
) -> None:
    """Answer an interaction, as the first response or as a follow-up once it was deferred.

    Never raises for an expired or unknown interaction (logged instead): a reply that can no
    longer be delivered must not turn into a second error.
    """
    kwargs: dict[str, object] = {"ephemeral": ephemeral, "allowed_mentions": NO_MENTIONS}
    if content is not None:
        kwargs["content"] = content
    if embed is not None:
        kwargs["embed"] = embed
    try:
        if interaction.response.is_done():
            if ephemeral:
                await drop_public_thinking(interaction)
            await interaction.followup.send(**kwargs)  # type: ignore[arg-type]
        else:
            await interaction.response.send_message(**kwargs)  # type: ignore[arg-type]
    except discord.HTTPException as exc:
        log.warning("could not reply to interaction %s: %s", getattr(interaction, "id", "?"), exc)


async def drop_public_thinking(interaction: discord.Interaction) -> None:
    """Delete a public "is thinking…" message still waiting for its content.

    Discord turns the first follow-up after a defer into that message, ignoring the follow-up's
    ephemeral flag: a private reply (an error, "no match") would be posted to the whole channel.
    Deleted first, the follow-up becomes a message of its own and stays private.
    """
    if interaction.response.type is not discord.InteractionResponseType.deferred_channel_message:
        return
    original = await interaction.original_response()
    if original.flags.loading and not original.flags.ephemeral:
        await original.delete()


def scope_of(interaction: discord.Interaction) -> Scope:
    """What this interaction may see: the shared library plus its server's reading list (DMs: shared only).

    The one place a Discord request gets its :class:`~retrieval.models.Scope`; the library applies it.
    """
    return Scope.of(interaction.guild_id)


def require_manage_guild(interaction: discord.Interaction) -> None:
    """Raise unless the user may manage this server (the runtime twin of ``default_permissions``)."""
    if interaction.guild_id is None:
        raise app_commands.NoPrivateMessage()
    if not interaction.permissions.manage_guild:
        raise app_commands.MissingPermissions(["manage_guild"])
