"""Rendering: pure functions from library results to Discord embeds or plain text."""
