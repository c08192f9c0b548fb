"""The fake Discord refuses what Discord refuses (else the e2e tests' "nothing refused" would prove nothing)."""

from __future__ import annotations

import pytest

from bench.discord_local import discord_rules as rules

OK_MENTIONS = {"parse": []}


def command(**overrides):
    base = {
        "name": "ask",
        "type": 1,
        "description": "Ask",
        "options": [
            {"name": "question", "type": 3, "description": "What", "required": True},
            {"name": "top_k", "type": 4, "description": "How many", "required": False},
        ],
    }
    return base | overrides


def test_valid_commands_pass():
    assert rules.check_commands([command(), {"name": "Find papers", "type": 3, "description": ""}]) == {}


@pytest.mark.parametrize(
    "bad,path",
    [
        (command(name="Ask"), "0.name"),
        (command(name="a" * 33), "0.name"),
        (command(description="d" * 101), "0.description"),
        (command(description=""), "0.description"),
        (command(options=list(reversed(command()["options"]))), "0.options.1.required"),
        (
            command(
                options=[{"name": "x", "type": 3, "description": "x", "choices": [{"name": "n", "value": "v" * 101}]}]
            ),
            "0.options.0.choices.0.value",
        ),
        (
            command(
                options=[
                    {
                        "name": "x",
                        "type": 3,
                        "description": "x",
                        "autocomplete": True,
                        "choices": [{"name": "n", "value": "v"}],
                    }
                ]
            ),
            "0.options.0.autocomplete",
        ),
    ],
)
def test_invalid_commands_are_refused(bad, path):
    assert path in rules.check_commands([bad])


def test_duplicate_command_names_are_refused():
    assert "1.name" in rules.check_commands([command(), command()])


@pytest.mark.parametrize(
    "payload,path",
    [
        ({"content": "x" * 2001, "allowed_mentions": OK_MENTIONS}, "content"),
        ({"content": "hi"}, "allowed_mentions"),
        ({"content": "hi", "allowed_mentions": {"parse": ["everyone"]}}, "allowed_mentions"),
        ({"allowed_mentions": OK_MENTIONS}, "content"),
        (
            {"embeds": [{"description": "d" * 4000}, {"description": "d" * 2001}], "allowed_mentions": OK_MENTIONS},
            "embeds",
        ),
        ({"embeds": [{"title": "t" * 257}], "allowed_mentions": OK_MENTIONS}, "embeds.0.title"),
        (
            {"embeds": [{"fields": [{"name": "n", "value": "v" * 1025}]}], "allowed_mentions": OK_MENTIONS},
            "embeds.0.fields.0.value",
        ),
        (
            {
                "content": "x",
                "allowed_mentions": OK_MENTIONS,
                "components": [{"type": 1, "components": [{"type": 2, "style": 1, "custom_id": "c" * 101}]}],
            },
            "components.0.components.0.custom_id",
        ),
    ],
)
def test_messages_beyond_discords_limits_are_refused(payload, path):
    assert path in rules.check_message(payload)


def test_a_message_within_the_limits_passes():
    payload = {
        "content": "x" * 2000,
        "embeds": [{"title": "t", "description": "d" * 4000, "fields": [{"name": "n", "value": "v" * 1024}]}],
        "allowed_mentions": OK_MENTIONS,
        "components": [{"type": 1, "components": [{"type": 2, "style": 1, "custom_id": "c" * 100, "label": "ok"}]}],
    }
    assert rules.check_message(payload) == {}


def test_autocomplete_answers_are_bounded():
    assert "data.choices" in rules.check_choices([{"name": "n", "value": "v"}] * 26)
    assert "data.choices.0.name" in rules.check_choices([{"name": "n" * 101, "value": "v"}])
