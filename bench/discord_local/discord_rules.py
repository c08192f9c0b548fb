"""What Discord refuses: the documented limits the fake server enforces on everything the bot sends.

Each check returns Discord-shaped error details (``{"path": "message"}``), empty when the payload is
accepted; the server turns a non-empty result into ``400 {"code": 50035, "message": "Invalid Form
Body", "errors": …}`` as Discord does, and records it so a test can see what was refused.
Limits: https://discord.com/developers/docs/resources/message (content, embeds, allowed mentions),
…/interactions/application-commands (command names, descriptions, options), …/components.
"""

from __future__ import annotations

import re
from typing import Any

CONTENT = 2000
EMBEDS = 10
EMBED_TOTAL = 6000
EMBED_TITLE, EMBED_DESCRIPTION, EMBED_FIELDS = 256, 4096, 25
FIELD_NAME, FIELD_VALUE, FOOTER_TEXT, AUTHOR_NAME = 256, 1024, 2048, 256
ACTION_ROWS, ROW_BUTTONS, CUSTOM_ID, BUTTON_LABEL = 5, 5, 100, 80
COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")
CONTEXT_NAME = re.compile(r"^[-_ \w]{1,32}$")
COMMAND_DESCRIPTION, COMMAND_OPTIONS, CHOICES, CHOICE_NAME, CHOICE_VALUE = 100, 25, 25, 100, 100
SUBCOMMAND, SUBCOMMAND_GROUP = 1, 2
CHAT_INPUT = 1
EPHEMERAL = 1 << 6

Errors = dict[str, str]


def check_message(payload: dict[str, Any], *, edit: bool = False) -> Errors:
    """A message create or edit: content, embeds, allowed mentions, components."""
    errors: Errors = {}
    content = payload.get("content")
    embeds = payload.get("embeds") or []
    if content is not None and len(content) > CONTENT:
        errors["content"] = f"Must be {CONTENT} or fewer in length."
    if not edit and not content and not embeds and not payload.get("components"):
        errors["content"] = "Cannot send an empty message"
    if len(embeds) > EMBEDS:
        errors["embeds"] = f"Must be {EMBEDS} or fewer in length."
    total = 0
    for i, embed in enumerate(embeds):
        total += _check_embed(embed, f"embeds.{i}", errors)
    if total > EMBED_TOTAL:
        errors["embeds"] = f"Embed size exceeds maximum size of {EMBED_TOTAL}"
    if content or embeds:
        # paperbot's rule, as strict as a careful bot: never ping anyone from a reply.
        mentions = payload.get("allowed_mentions")
        if mentions is None:
            errors["allowed_mentions"] = "missing: the bot must always say whom it may ping"
        elif mentions.get("parse") or mentions.get("users") or mentions.get("roles"):
            errors["allowed_mentions"] = f"must ping nobody, got {mentions!r}"
    _check_components(payload.get("components") or [], errors)
    return errors


def _check_embed(embed: dict[str, Any], path: str, errors: Errors) -> int:
    size = 0
    for key, limit in (("title", EMBED_TITLE), ("description", EMBED_DESCRIPTION)):
        text = embed.get(key) or ""
        size += len(text)
        if len(text) > limit:
            errors[f"{path}.{key}"] = f"Must be {limit} or fewer in length."
    fields = embed.get("fields") or []
    if len(fields) > EMBED_FIELDS:
        errors[f"{path}.fields"] = f"Must be {EMBED_FIELDS} or fewer in length."
    for j, field in enumerate(fields):
        name, value = field.get("name") or "", field.get("value") or ""
        size += len(name) + len(value)
        if not name or len(name) > FIELD_NAME:
            errors[f"{path}.fields.{j}.name"] = f"Must be between 1 and {FIELD_NAME} in length."
        if not value or len(value) > FIELD_VALUE:
            errors[f"{path}.fields.{j}.value"] = f"Must be between 1 and {FIELD_VALUE} in length."
    for key, sub, limit in (("footer", "text", FOOTER_TEXT), ("author", "name", AUTHOR_NAME)):
        text = (embed.get(key) or {}).get(sub) or ""
        size += len(text)
        if len(text) > limit:
            errors[f"{path}.{key}.{sub}"] = f"Must be {limit} or fewer in length."
    return size


def _check_components(rows: list[dict[str, Any]], errors: Errors) -> None:
    if len(rows) > ACTION_ROWS:
        errors["components"] = f"Must be {ACTION_ROWS} or fewer in length."
    seen: set[str] = set()
    for i, row in enumerate(rows):
        items = row.get("components") or []
        if row.get("type") != 1 or not 1 <= len(items) <= ROW_BUTTONS:
            errors[f"components.{i}"] = "An action row holds 1 to 5 buttons."
        for j, item in enumerate(items):
            path = f"components.{i}.components.{j}"
            custom_id = item.get("custom_id")
            if item.get("style") == 5:  # Link buttons have a URL and no custom id.
                continue
            if not custom_id or len(custom_id) > CUSTOM_ID:
                errors[f"{path}.custom_id"] = f"Must be between 1 and {CUSTOM_ID} in length."
            elif custom_id in seen:
                errors[f"{path}.custom_id"] = "Component custom id cannot be duplicated"
            seen.add(custom_id or "")
            if len(item.get("label") or "") > BUTTON_LABEL:
                errors[f"{path}.label"] = f"Must be {BUTTON_LABEL} or fewer in length."


def check_commands(commands: list[dict[str, Any]]) -> Errors:
    """A bulk overwrite of application commands."""
    errors: Errors = {}
    names: set[tuple[int, str]] = set()
    for i, command in enumerate(commands):
        kind = command.get("type", CHAT_INPUT)
        name = command.get("name", "")
        key = (kind, name)
        if key in names:
            errors[f"{i}.name"] = "Application command names must be unique"
        names.add(key)
        if kind == CHAT_INPUT:
            _check_named(command, str(i), errors)
            _check_options(command.get("options") or [], f"{i}.options", errors, depth=0)
        else:
            if not CONTEXT_NAME.match(name):
                errors[f"{i}.name"] = "Must be between 1 and 32 in length."
            if command.get("description"):
                errors[f"{i}.description"] = "Context menu commands cannot have a description"
    return errors


def _check_named(item: dict[str, Any], path: str, errors: Errors) -> None:
    name = item.get("name", "")
    if not COMMAND_NAME.match(name) or name != name.lower():
        errors[f"{path}.name"] = "Command name is invalid"
    description = item.get("description", "")
    if not 1 <= len(description) <= COMMAND_DESCRIPTION:
        errors[f"{path}.description"] = f"Must be between 1 and {COMMAND_DESCRIPTION} in length."


def _check_options(options: list[dict[str, Any]], path: str, errors: Errors, depth: int) -> None:
    if len(options) > COMMAND_OPTIONS:
        errors[path] = f"Must be {COMMAND_OPTIONS} or fewer in length."
    seen_optional = False
    names: set[str] = set()
    for j, option in enumerate(options):
        where = f"{path}.{j}"
        _check_named(option, where, errors)
        if option.get("name") in names:
            errors[f"{where}.name"] = "Option names must be unique"
        names.add(option.get("name", ""))
        kind = option.get("type")
        if kind in (SUBCOMMAND, SUBCOMMAND_GROUP):
            if depth >= 2 or (kind == SUBCOMMAND_GROUP and depth >= 1):
                errors[f"{where}.type"] = "Sub-command nesting is too deep"
            _check_options(option.get("options") or [], f"{where}.options", errors, depth + 1)
            continue
        if option.get("required"):
            if seen_optional:
                errors[f"{where}.required"] = "Required options must be placed before non-required options"
        else:
            seen_optional = True
        choices = option.get("choices") or []
        if choices and option.get("autocomplete"):
            errors[f"{where}.autocomplete"] = "Autocomplete cannot be set with choices"
        errors.update(check_choices(choices, f"{where}.choices"))


def check_choices(choices: list[dict[str, Any]], path: str = "data.choices") -> Errors:
    """Command option choices, and the choices of an autocomplete answer."""
    errors: Errors = {}
    if len(choices) > CHOICES:
        errors[path] = f"Must be {CHOICES} or fewer in length."
    for k, choice in enumerate(choices):
        if not 1 <= len(choice.get("name") or "") <= CHOICE_NAME:
            errors[f"{path}.{k}.name"] = f"Must be between 1 and {CHOICE_NAME} in length."
        value = choice.get("value")
        if isinstance(value, str) and not 1 <= len(value) <= CHOICE_VALUE:
            errors[f"{path}.{k}.value"] = f"Must be between 1 and {CHOICE_VALUE} in length."
    return errors
