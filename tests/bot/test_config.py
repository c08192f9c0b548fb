"""BotConfig: environment parsing, defaults and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ENV_VARS, BotConfig, ConfigError

GOOD_TOKEN = "MTA5ODc2NTQzMjEwOTg3NjU0Mw.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"


def test_defaults_when_nothing_is_set():
    config = BotConfig.from_env({})
    assert config == BotConfig()
    assert (config.ask_cooldown, config.digest_size, config.sharded, config.guild_id) == (10.0, 10, False, None)


def test_every_setting_is_read():
    config = BotConfig.from_env(
        {
            "DISCORD_TOKEN": f" {GOOD_TOKEN} ",
            "DISCORD_GUILD_ID": "123456789012345678",
            "PAPERBOT_SHARDED": "yes",
            "PAPERBOT_ASK_COOLDOWN": "2.5",
            "PAPERBOT_DIGEST_SIZE": "25",
            "PAPERBOT_DATA_DIR": "/tmp/pb",
            "PAPERBOT_MODEL": "some/model",
            "PAPERBOT_HF_BASE": "http://127.0.0.1:9/",
            "PAPERBOT_LOG_LEVEL": "debug",
        }
    )
    assert config.token == GOOD_TOKEN and config.guild_id == 123456789012345678 and config.sharded
    assert (config.ask_cooldown, config.digest_size, config.data_dir) == (2.5, 25, Path("/tmp/pb"))
    assert (config.model, config.hf_base, config.log_level) == ("some/model", "http://127.0.0.1:9", "DEBUG")


@pytest.mark.parametrize(
    "env,message",
    [
        ({"DISCORD_GUILD_ID": "abc"}, "DISCORD_GUILD_ID must be an integer"),
        ({"PAPERBOT_DIGEST_SIZE": "26"}, "PAPERBOT_DIGEST_SIZE must be 1..25"),
        ({"PAPERBOT_ASK_COOLDOWN": "-1"}, "PAPERBOT_ASK_COOLDOWN must be >= 0"),
        ({"PAPERBOT_SHARDED": "maybe"}, "PAPERBOT_SHARDED must be true or false"),
    ],
)
def test_malformed_values_give_one_clear_line(env, message):
    with pytest.raises(ConfigError, match=message):
        BotConfig.from_env(env)


def test_dotenv_fills_gaps_but_the_environment_wins(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("PAPERBOT_DIGEST_SIZE=7\nPAPERBOT_ASK_COOLDOWN=3\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PAPERBOT_ASK_COOLDOWN", "4")
    monkeypatch.delenv("PAPERBOT_DIGEST_SIZE", raising=False)
    config = BotConfig.from_env()
    monkeypatch.delenv("PAPERBOT_DIGEST_SIZE", raising=False)  # load_dotenv set it in os.environ
    assert (config.digest_size, config.ask_cooldown) == (7, 4.0)


def test_a_well_formed_token_passes_the_shape_check():
    BotConfig(token=GOOD_TOKEN).check_token()


@pytest.mark.parametrize(
    "token,message",
    [
        ("", "not set"),
        ("Bot " + GOOD_TOKEN, "without the 'Bot ' prefix"),
        ("not-a-token", "malformed"),
        ("a.b.c", "malformed"),
        (GOOD_TOKEN + "!", "malformed"),
    ],
)
def test_a_missing_or_malformed_token_is_refused(token, message):
    with pytest.raises(ConfigError, match=message):
        BotConfig(token=token).check_token()


def test_env_vars_list_documents_every_setting_read():
    names = [name for name, _, _ in ENV_VARS]
    assert len(names) == len(set(names))
    assert {"DISCORD_TOKEN", "DISCORD_GUILD_ID", "PAPERBOT_SHARDED", "PAPERBOT_ASK_COOLDOWN"} <= set(names)
    assert all(comment for _, _, comment in ENV_VARS)
