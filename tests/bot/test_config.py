"""Settings: environment parsing, defaults and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.settings import ENV_VARS, ConfigError, Settings, on_shards

GOOD_TOKEN = "MTA5ODc2NTQzMjEwOTg3NjU0Mw.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"


def test_defaults_when_nothing_is_set():
    config = Settings.from_env({})
    assert config == Settings()
    assert (config.ask_cooldown, config.digest_size, config.sharded, config.guild_id) == (10.0, 10, False, None)


def test_every_setting_is_read():
    config = Settings.from_env(
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
        Settings.from_env(env)


def test_dotenv_fills_gaps_but_the_environment_wins(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("PAPERBOT_DIGEST_SIZE=7\nPAPERBOT_ASK_COOLDOWN=3\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PAPERBOT_ASK_COOLDOWN", "4")
    monkeypatch.delenv("PAPERBOT_DIGEST_SIZE", raising=False)
    config = Settings.from_env()
    monkeypatch.delenv("PAPERBOT_DIGEST_SIZE", raising=False)  # load_dotenv set it in os.environ
    assert (config.digest_size, config.ask_cooldown) == (7, 4.0)


def test_a_well_formed_token_passes_the_shape_check():
    assert Settings(token=GOOD_TOKEN).check_token() is None  # no ConfigError
    for spaced in (f" {GOOD_TOKEN}", GOOD_TOKEN.replace(".", ". ", 1)):  # the check is not a substring search
        with pytest.raises(ConfigError, match="malformed"):
            Settings(token=spaced).check_token()


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
        Settings(token=token).check_token()


def test_env_vars_list_documents_every_setting_read():
    names = [name for name, _, _ in ENV_VARS]
    assert len(names) == len(set(names))
    assert {"DISCORD_TOKEN", "DISCORD_GUILD_ID", "PAPERBOT_SHARDED", "PAPERBOT_ASK_COOLDOWN"} <= set(names)
    assert all(comment for _, _, comment in ENV_VARS)


def test_shard_count_and_ids_are_read_and_imply_sharding():
    config = Settings.from_env({"PAPERBOT_SHARD_COUNT": "4", "PAPERBOT_SHARD_IDS": "3, 1"})
    assert (config.sharded, config.shard_count, config.shard_ids) == (True, 4, (1, 3))
    assert on_shards(1 << 22, config.shard_count, config.shard_ids)
    assert not on_shards(2 << 22, config.shard_count, config.shard_ids)
    assert Settings.from_env({"PAPERBOT_SHARD_COUNT": "2"}).shard_ids is None  # all of them


@pytest.mark.parametrize(
    "env,message",
    [
        ({"PAPERBOT_SHARD_IDS": "0"}, "PAPERBOT_SHARD_IDS needs PAPERBOT_SHARD_COUNT"),
        ({"PAPERBOT_SHARD_COUNT": "2", "PAPERBOT_SHARD_IDS": "2"}, "between 0 and 1"),
        ({"PAPERBOT_SHARD_COUNT": "2", "PAPERBOT_SHARD_IDS": "a"}, "comma-separated integers"),
        ({"PAPERBOT_SHARD_COUNT": "0"}, "PAPERBOT_SHARD_COUNT must be >= 1"),
        ({"PAPERBOT_DISCORD_API_BASE": "proxy:8080"}, "must be an http"),
        ({"PAPERBOT_LOG_LEVEL": "loud"}, "PAPERBOT_LOG_LEVEL must be one of"),
        ({"PAPERBOT_DIGEST_TICK": "0"}, "PAPERBOT_DIGEST_TICK must be"),
        ({"PAPERBOT_METRICS_PORT": "http"}, "PAPERBOT_METRICS_PORT must be a port"),
        ({"PAPERBOT_METRICS_PORT": "70000"}, "PAPERBOT_METRICS_PORT must be a port"),
    ],
)
def test_malformed_sharding_api_base_log_level_and_tick_give_one_clear_line(env, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


@pytest.mark.parametrize(
    "base,url",
    [
        ("http://nirn:8080/api", "http://nirn:8080/api/v10"),
        ("http://nirn:8080/api/", "http://nirn:8080/api/v10"),
        ("https://proxy.example/api/v10", "https://proxy.example/api/v10"),
    ],
)
def test_api_base_gets_the_api_version_unless_it_names_one(base, url):
    assert Settings.from_env({"PAPERBOT_DISCORD_API_BASE": base}).api_url == url
    assert Settings.from_env({}).api_url is None


def test_env_example_lists_every_setting():
    example = (Path(__file__).resolve().parents[2] / ".env.example").read_text()
    assert all(f"\n{name}=" in example for name, _, _ in ENV_VARS)


@pytest.mark.parametrize(
    "raw,address",
    [
        ("", ("0.0.0.0", None)),
        ("9108", ("0.0.0.0", 9108)),
        ("127.0.0.1:0", ("127.0.0.1", 0)),
        ("[::1]:9108", ("::1", 9108)),
    ],
)
def test_metrics_port_is_off_by_default_and_takes_a_host(raw, address):
    config = Settings.from_env({"PAPERBOT_METRICS_PORT": raw})
    assert (config.metrics_host, config.metrics_port) == address
