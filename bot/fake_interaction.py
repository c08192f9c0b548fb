"""A stand-in for :class:`discord.Interaction` that records what a command sends: for tests and ``bench``.

It drives the real cogs without a Discord connection; the wire-level tests use a local Discord
server instead (``tests/e2e``).
"""

from __future__ import annotations

from unittest.mock import create_autospec

import discord


def mock_interaction(
    client: discord.Client, *, user_id: int = 1, guild_id: int | None = 1, manage_guild: bool = False
) -> discord.Interaction:
    """An autospecced interaction whose responses are recorded, and ``is_done`` flips once answered."""
    interaction = create_autospec(discord.Interaction, instance=True)
    interaction.response = create_autospec(discord.InteractionResponse, instance=True)
    interaction.followup = create_autospec(discord.Webhook, instance=True)
    interaction.response.is_done.return_value = False

    async def answered(*args: object, **kwargs: object) -> None:
        interaction.response.is_done.return_value = True

    interaction.response.defer.side_effect = answered
    interaction.response.send_message.side_effect = answered
    interaction.client = client
    interaction.user.id = user_id
    interaction.guild_id = guild_id
    interaction.permissions = discord.Permissions(manage_guild=manage_guild)
    interaction.command = None
    interaction.created_at = discord.utils.utcnow()  # cooldowns read it
    return interaction
