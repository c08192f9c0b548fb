"""``paperbot add`` and ``paperbot follow …``: the harness side of /library add and /follow."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, TextIO

from bot.render.text import render_follow_matches, render_follows, render_paper

OpenLibrary = Callable[[argparse.Namespace], Any]


def _user_id(value: str) -> int:
    """A Discord user id: a positive integer."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a user id: {value!r} (a Discord user id is a number)") from None
    if number <= 0:
        raise argparse.ArgumentTypeError(f"not a user id: {number} (a Discord user id is a positive number)")
    return number


def cmd_add(args: argparse.Namespace, out: TextIO, open_library: OpenLibrary) -> int:
    """Fetch one paper by arXiv id or URL from the Hugging Face papers API and add it."""
    from dataclasses import replace

    from retrieval.sources.feed_client import FeedConfig
    from retrieval.sources.paper_api import PaperLookupError, add_paper_by_ref, parse_paper_ref

    try:
        parse_paper_ref(args.paper)
    except PaperLookupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    config = FeedConfig()
    base = args.base or args.settings.hf_base
    if base:
        config = replace(config, base_url=base.rstrip("/"))
    if args.timeout is not None:
        config = replace(config, connect_timeout=args.timeout, read_timeout=args.timeout)
    if args.retries is not None:
        config = replace(config, retries=args.retries)
    library = open_library(args)
    try:
        added = asyncio.run(add_paper_by_ref(library, args.paper, config))
    except PaperLookupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    out.write(f"{added.outcome}: {added.paper.ext_id}\n\n{render_paper(added.paper)}\n")
    return 0


def cmd_follow(args: argparse.Namespace, out: TextIO, open_library: OpenLibrary) -> int:
    """Add, list, remove follows of a user id, or preview the papers their next DM would list."""
    from bot.state import BotState
    from retrieval.query.follows import FollowError

    library = open_library(args)
    store = BotState(library.storage.state).follows
    if args.follow_command == "add":
        kind, text = ("topic", args.topic) if args.topic is not None else ("author", args.author)
        try:
            follow = store.add(args.user, kind, text)
        except FollowError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        out.write(f"following {follow.kind}: {follow.value} (id {follow.id})\n")
    elif args.follow_command == "list":
        out.write(render_follows(store.of_user(args.user)) + "\n")
    elif args.follow_command == "remove":
        removed = store.remove(args.user, args.id)
        if removed is None:
            print(f"error: user {args.user} has no follow {args.id}", file=sys.stderr)
            return 1
        out.write(f"removed {removed.kind}: {removed.value}\n")
    else:
        from retrieval.sources.feed import utc_today

        day = args.date or utc_today()  # as the DM notifier does: the listings up to today (UTC)
        papers = library.papers_listed(day - timedelta(days=args.days - 1), day)
        matches = library.follow_matches(papers, store.of_user(args.user)).get(args.user, [])
        fresh = set(store.unsent(args.user, [m.paper.id for m in matches if m.paper.id is not None]))
        out.write(render_follow_matches([m for m in matches if m.paper.id in fresh], day) + "\n")
    return 0


def add_parsers(sub: argparse._SubParsersAction, open_library: OpenLibrary, parse_day: Callable[[str], date]) -> None:
    """Register ``add`` and ``follow`` on the ``paperbot`` parser."""
    p = sub.add_parser("add", help="add one paper by arXiv id or arXiv / Hugging Face URL (fetched from the API)")
    p.add_argument("paper", help="e.g. 2401.12345, https://arxiv.org/abs/2401.12345, https://huggingface.co/papers/…")
    p.add_argument("--base", default=None, help="API base URL (env PAPERBOT_HF_BASE, default https://huggingface.co)")
    p.add_argument("--timeout", type=float, default=None, help="connect and read timeout in seconds")
    p.add_argument("--retries", type=int, default=None, help="retries after a failed try (default 3)")
    p.set_defaults(func=lambda args, out=sys.stdout: cmd_add(args, out, open_library))

    p = sub.add_parser("follow", help="follows of a user: add, list, remove, check (preview the next DM)")
    fsub = p.add_subparsers(dest="follow_command", required=True)
    f = fsub.add_parser("add", help="follow a topic or an author")
    f.add_argument("--user", type=_user_id, required=True, help="the Discord user id")
    what = f.add_mutually_exclusive_group(required=True)
    what.add_argument("--topic")
    what.add_argument("--author")
    f = fsub.add_parser("list", help="a user's follows")
    f.add_argument("--user", type=_user_id, required=True)
    f = fsub.add_parser("remove", help="stop one follow (its id from list)")
    f.add_argument("--user", type=_user_id, required=True)
    f.add_argument("id", type=int)
    f = fsub.add_parser("check", help="the papers the user's next DM would list (sends and records nothing)")
    f.add_argument("--user", type=_user_id, required=True)
    f.add_argument("--date", type=parse_day, default=None, help="the last listing day (default: today, UTC, as the DM)")
    f.add_argument("--days", type=int, default=3, choices=range(1, 31), metavar="1-30", help="days of listings")
    p.set_defaults(func=lambda args, out=sys.stdout: cmd_follow(args, out, open_library))
