"""Bot state: settings, the scheduling rule, claim-before-post idempotency, feedback."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time, timedelta

import pytest

from bot.state import (
    BotState,
    GuildSettings,
    LogEntry,
    PostStatus,
    SettingsError,
    is_due,
    parse_post_time,
    parse_timezone,
    parse_topics,
)
from tests.conftest import BACKENDS

T0 = datetime(2026, 11, 12, 6, 0, tzinfo=UTC)  # 07:00 in Paris (UTC+1 in November)


@pytest.fixture
def state(open_state):
    return open_state()


def settings(post: str = "09:00", tz: str = "Europe/Paris", updated: datetime | None = None, **kw) -> GuildSettings:
    return GuildSettings(
        guild_id=1, channel_id=10, post_time=parse_post_time(post), timezone=tz, updated_at=updated, **kw
    )


# -- parsing --------------------------------------------------------------------------------


@pytest.mark.parametrize("text,expected", [("09:00", time(9)), ("9:05", time(9, 5)), ("23:59", time(23, 59))])
def test_parse_post_time_accepts_24_hour_times(text, expected):
    assert parse_post_time(text) == expected


@pytest.mark.parametrize("text", ["24:00", "9", "09:60", "9am", "", "09:00:00"])
def test_parse_post_time_rejects_anything_else_with_a_friendly_message(text):
    with pytest.raises(SettingsError, match="HH:MM"):
        parse_post_time(text)


def test_parse_timezone_accepts_iana_names():
    assert parse_timezone("Asia/Kolkata").key == "Asia/Kolkata"


@pytest.mark.parametrize("text", ["Mars/Olympus", "", "../etc/passwd", "/etc/localtime", "CEST+2"])
def test_parse_timezone_rejects_unknown_names(text):
    with pytest.raises(SettingsError, match="time zone"):
        parse_timezone(text)


def test_parse_topics_trims_dedupes_and_bounds():
    assert parse_topics(" LLM agents , diffusion,LLM agents,, ") == ("LLM agents", "diffusion")
    assert parse_topics(None) == ()
    with pytest.raises(SettingsError):
        parse_topics(",".join(f"t{i}" for i in range(6)))
    with pytest.raises(SettingsError):
        parse_topics("x" * 61)


# -- the pure scheduling rule ---------------------------------------------------------------


def test_not_due_before_the_local_post_time():
    assert not is_due(settings("09:00"), T0, None)  # 07:00 Paris


def test_due_at_and_after_the_local_post_time():
    assert is_due(settings("07:00"), T0, None)
    assert is_due(settings("06:30"), T0, None)


def test_the_same_utc_instant_is_due_in_one_zone_and_not_another():
    assert is_due(settings("10:00", tz="Asia/Tokyo"), T0, None)  # 15:00 in Tokyo
    assert not is_due(settings("10:00", tz="America/New_York"), T0, None)  # 01:00 in New York


def test_a_missed_post_is_made_up_later_the_same_local_day():
    assert is_due(settings("07:00"), T0 + timedelta(hours=14), None)  # 21:00 Paris, still the 12th


def test_a_day_already_posted_claimed_or_skipped_is_not_due():
    for status in (PostStatus.POSTED, PostStatus.POSTING, PostStatus.SKIPPED):
        entry = LogEntry(10, date(2026, 11, 12), status, 1, T0 - timedelta(hours=5))
        assert not is_due(settings("07:00"), T0, entry)


def test_failed_and_empty_days_are_retried_after_a_pause():
    failed = LogEntry(10, date(2026, 11, 12), PostStatus.FAILED, None, T0 - timedelta(minutes=1))
    assert not is_due(settings("06:00"), T0, failed)
    assert is_due(settings("06:00"), T0 + timedelta(minutes=5), failed)
    empty = LogEntry(10, date(2026, 11, 12), PostStatus.EMPTY, None, T0 - timedelta(minutes=30))
    assert not is_due(settings("06:00"), T0, empty)
    assert is_due(settings("06:00"), T0 + timedelta(minutes=30), empty)


def test_a_schedule_set_after_todays_post_time_starts_tomorrow():
    late = settings("06:00", updated=T0)  # set at 07:00 Paris, post time 06:00
    assert not is_due(late, T0 + timedelta(minutes=1), None)
    assert is_due(late, T0 + timedelta(days=1), None)


def test_disabled_settings_are_never_due():
    assert not is_due(settings("00:00", enabled=False), T0, None)


# -- storage ------------------------------------------------------------------------------


@BACKENDS
def test_settings_round_trip_and_replace(state):
    saved = state.save_settings(1, 10, time(9), "Europe/Paris", ("llm",), now=T0)
    assert saved == GuildSettings(1, 10, time(9), "Europe/Paris", ("llm",), True, None, T0)
    state.record_error(1, "boom")
    again = state.save_settings(1, 11, time(8, 30), "UTC", (), now=T0)
    assert (again.channel_id, again.post_time, again.topics, again.last_error) == (11, time(8, 30), (), None)
    assert state.get_settings(2) is None


@BACKENDS
def test_disable_switches_off_and_reports_whether_anything_changed(state):
    assert not state.disable(1)
    state.save_settings(1, 10, time(9), "UTC")
    assert state.disable(1)
    assert not state.get_settings(1).enabled and state.enabled_settings() == []
    assert not state.disable(1)


@BACKENDS
def test_due_lists_servers_with_their_local_day(state):
    state.save_settings(1, 10, time(5), "UTC", now=T0 - timedelta(days=1))
    state.save_settings(2, 20, time(23), "UTC", now=T0 - timedelta(days=1))
    state.save_settings(3, 30, time(0, 30), "Pacific/Kiritimati", now=T0 - timedelta(days=1))  # UTC+14
    due = {s.guild_id: day for s, day in state.due(T0)}
    assert due == {1: date(2026, 11, 12), 3: date(2026, 11, 12)}


@BACKENDS
def test_claim_is_granted_once_per_channel_and_day(state):
    s = state.save_settings(1, 10, time(5), "UTC", now=T0 - timedelta(days=1))
    day = date(2026, 11, 12)
    assert state.claim(s, day, T0)
    assert not state.claim(s, day, T0)
    state.finish(10, day, PostStatus.POSTED, 99)
    assert not state.claim(s, day, T0 + timedelta(hours=3))
    assert state.log_entry(10, day).message_id == 99
    assert state.claim(s, day + timedelta(days=1), T0 + timedelta(days=1))


@BACKENDS
def test_claim_survives_a_restart_on_the_same_database(open_state):
    first = open_state()
    s = first.save_settings(1, 10, time(5), "UTC", now=T0 - timedelta(days=1))
    assert first.claim(s, date(2026, 11, 12), T0)
    second = open_state()
    assert not second.claim(s, date(2026, 11, 12), T0 + timedelta(minutes=1))
    assert second.due(T0 + timedelta(minutes=1)) == []


@BACKENDS
def test_concurrent_claims_from_four_connections_grant_exactly_one(open_state):
    states = [open_state() for _ in range(4)]
    s = states[0].save_settings(1, 10, time(5), "UTC", now=T0 - timedelta(days=1))
    results: list[bool] = []
    barrier = threading.Barrier(len(states))

    def worker(state: BotState) -> None:
        barrier.wait()
        results.append(state.claim(s, date(2026, 11, 12), T0))

    threads = [threading.Thread(target=worker, args=(state,)) for state in states]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, False, False, True]


@BACKENDS
def test_a_failed_claim_can_be_retried_after_the_pause(state):
    s = state.save_settings(1, 10, time(5), "UTC", now=T0 - timedelta(days=1))
    day = date(2026, 11, 12)
    assert state.claim(s, day, T0)
    state.finish(10, day, PostStatus.FAILED)
    assert not state.claim(s, day, T0 + timedelta(minutes=1))
    assert state.claim(s, day, T0 + timedelta(minutes=6))
    assert state.log_entry(10, day).status == PostStatus.POSTING


@BACKENDS
def test_saving_settings_again_lets_a_skipped_day_be_retried(state):
    s = state.save_settings(1, 10, time(5), "UTC", now=T0 - timedelta(days=1))
    day = date(2026, 11, 12)
    state.claim(s, day, T0)
    state.finish(10, day, PostStatus.SKIPPED)
    assert state.due(T0) == []
    state.save_settings(1, 10, time(5), "UTC", now=T0 - timedelta(days=1))
    assert [d for _, d in state.due(T0)] == [day]


@BACKENDS
def test_feedback_is_stored_once_per_user_and_a_new_vote_replaces_the_old(state):
    state.record_feedback("what is rlhf?", "2401.00001", 7, 1)
    state.record_feedback("what is rlhf?", "2401.00001", 7, -1)
    state.record_feedback("what is rlhf?", "2401.00001", 8, 1)
    state.record_feedback("what is rlhf?", None, 8, 1)
    state.record_feedback("what is rlhf?", None, 8, 1)
    assert state.feedback_totals("what is rlhf?") == (2, 1)
    with pytest.raises(ValueError):
        state.record_feedback("q", None, 1, 0)


@BACKENDS
def test_a_library_role_is_set_replaced_kept_across_a_restart_and_cleared(open_state):
    first = open_state()
    assert first.library_role(1) is None
    first.set_library_role(1, 77)
    first.set_library_role(1, 78)
    first.set_library_role(2, 99)
    second = open_state()
    assert (second.library_role(1), second.library_role(2)) == (78, 99)
    second.set_library_role(1, None)
    assert first.library_role(1) is None and first.library_role(2) == 99
