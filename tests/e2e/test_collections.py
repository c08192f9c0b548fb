"""A server's reading list over the wire: imported in guild A, seen by /ask in A, never in guild B."""

from __future__ import annotations

from bench.discord_local.discord_rules import EPHEMERAL
from tests.retrieval.test_collections import BIB_A

MANAGE_GUILD = 1 << 5
QUESTION = "how are tomato greenhouses irrigated with quantum annealing?"
TITLE = "Quantum irrigation of tomato greenhouses"


def opt(name, value, kind=3):
    return {"name": name, "type": kind, "value": value}


def sub(name, *options):
    return [{"name": name, "type": 1, "options": list(options)}]


def cited(message) -> str:
    embed = message["embeds"][0]
    return " ".join([embed.get("description", "")] + [f["name"] + f["value"] for f in embed.get("fields", [])])


async def test_an_import_in_one_server_is_seen_there_and_never_in_another(discord_server, launch, no_rejections):
    guild_a = discord_server.guild()
    guild_b = discord_server.add_guild("Other server")
    await launch(discord_server)
    admin = discord_server.user("ada")
    file = discord_server.attachment("zotero.bib", BIB_A.encode())
    imported = await discord_server.slash(
        guild_a,
        "library",
        sub("import", opt("file", file["id"], 11)),
        user=admin,
        permissions=MANAGE_GUILD,
        resolved={"attachments": {file["id"]: file}},
    )
    summary = await discord_server.wait_for(
        lambda: next((m for m in discord_server.replies(imported) if "Imported" in (m.get("content") or "")), None),
        timeout=60,
        what="the import summary",
    )
    assert summary["flags"] & EPHEMERAL and "2 new" in summary["content"] and "line 17" in summary["content"]

    in_b = await discord_server.slash(guild_b, "ask", [opt("question", QUESTION)])
    [answer_b] = await discord_server.wait_reply(in_b)
    assert "tomato" not in cited(answer_b).lower() and "Quantum irrigation" not in str(answer_b)
    typed = await discord_server.autocomplete(guild_b, "paper", "query", "quantum irrig")
    await discord_server.wait_for(lambda: typed.choices is not None, what="autocomplete choices")
    assert all(TITLE not in c["name"] for c in typed.choices)
    mine = await discord_server.autocomplete(guild_a, "paper", "query", "quantum irrig")
    await discord_server.wait_for(lambda: mine.choices is not None, what="autocomplete choices")
    assert [c["name"] for c in mine.choices] == [TITLE]

    in_a = await discord_server.slash(guild_a, "ask", [opt("question", QUESTION)])
    [answer_a] = await discord_server.wait_reply(in_a)
    assert TITLE in cited(answer_a)
    listed = await discord_server.slash(guild_a, "library", sub("list"))
    [page] = await discord_server.wait_reply(listed)
    assert TITLE in page["content"] and page["flags"] & EPHEMERAL
