from __future__ import annotations

import stat
from pathlib import Path

import pytest

from bot.settings import REPO_ROOT, SettingsError, load_settings


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings({"DATA_DIR": str(tmp_path)})

    assert (settings.bot_host, settings.bot_port) == ("127.0.0.1", 8000)
    assert settings.rasa_url == "http://127.0.0.1:5005"
    assert settings.app_database_url == f"sqlite:///{tmp_path}/app.db"
    assert settings.kb_database_url == f"sqlite:///{tmp_path}/kb.db"
    assert settings.max_message_chars == 2000
    assert settings.bot_env == "development" and not settings.is_production


def test_data_dir_defaults_to_var_in_the_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.settings.read_or_create_token", lambda _dir: "t")
    assert load_settings({}).data_dir == REPO_ROOT / "var"


def test_the_rasa_token_is_generated_once_with_mode_0600(tmp_path: Path) -> None:
    data_dir = tmp_path / "new-data"
    first = load_settings({"DATA_DIR": str(data_dir)}).rasa_token
    second = load_settings({"DATA_DIR": str(data_dir)}).rasa_token

    token_file = data_dir / "secrets" / "rasa_token"
    assert first == second == token_file.read_text().strip()
    assert len(first) >= 32
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(token_file.parent.stat().st_mode) == 0o700


def test_an_explicit_token_wins_and_writes_nothing(tmp_path: Path) -> None:
    settings = load_settings({"DATA_DIR": str(tmp_path), "RASA_TOKEN": "from-env"})
    assert settings.rasa_token == "from-env"
    assert not (tmp_path / "secrets").exists()


def test_the_token_never_shows_in_repr(tmp_path: Path) -> None:
    settings = load_settings({
        "DATA_DIR": str(tmp_path), "RASA_TOKEN": "s3cret",
        "APP_DATABASE_URL": "postgresql+psycopg://app:dbpass@127.0.0.1/app",
    })
    assert "s3cret" not in repr(settings) and "dbpass" not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value"),
    [("BOT_ENV", "staging"), ("BOT_PORT", "eighty"), ("BOT_PORT", "70000"),
     ("MAX_MESSAGE_CHARS", "0"), ("RASA_URL", "127.0.0.1:5005"), ("RASA_MAX_IN_FLIGHT", "0"),
     ("RASA_REPLY_DEADLINE_SECONDS", "soon")],
)
def test_malformed_values_name_the_variable(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        load_settings({"DATA_DIR": str(tmp_path), "RASA_TOKEN": "t", name: value})


def test_settings_module_has_no_web_framework_imports() -> None:
    source = (REPO_ROOT / "bot" / "settings.py").read_text()
    assert "fastapi" not in source and "starlette" not in source and "pydantic" not in source


# ---- several processes (issue #7): Rasa servers and Redis --------------------------------


def test_rasa_urls_list_every_server_and_rasa_url_is_the_first(tmp_path: Path) -> None:
    settings = load_settings({
        "DATA_DIR": str(tmp_path), "RASA_TOKEN": "t",
        "RASA_URLS": " http://127.0.0.1:5005/ , http://127.0.0.1:5006", "RASA_URL": "http://ignored:1",
    })
    assert settings.rasa_urls == ("http://127.0.0.1:5005", "http://127.0.0.1:5006")
    assert settings.rasa_url == "http://127.0.0.1:5005"


def test_without_rasa_urls_the_one_rasa_url_is_used(tmp_path: Path) -> None:
    settings = load_settings({"DATA_DIR": str(tmp_path), "RASA_TOKEN": "t", "RASA_URL": "http://10.0.0.2:5005"})
    assert settings.rasa_urls == ("http://10.0.0.2:5005",) and settings.rasa_url == "http://10.0.0.2:5005"
    assert load_settings({"DATA_DIR": str(tmp_path), "RASA_TOKEN": "t"}).rasa_urls == ("http://127.0.0.1:5005",)


@pytest.mark.parametrize(
    ("value", "problem"),
    [("http://127.0.0.1:5005,,http://127.0.0.1:5006", "empty entry"),
     ("http://127.0.0.1:5005,127.0.0.1:5006", "http"),
     ("http://127.0.0.1:5005,http://127.0.0.1:5005/", "twice"),
     ("http://127.0.0.1:5005?token=x", "http")],
)
def test_malformed_rasa_urls_are_refused_clearly(tmp_path: Path, value: str, problem: str) -> None:
    with pytest.raises(SettingsError, match=f"RASA_URLS.*{problem}"):
        load_settings({"DATA_DIR": str(tmp_path), "RASA_TOKEN": "t", "RASA_URLS": value})


def test_redis_is_off_by_default_with_the_default_prefix(tmp_path: Path) -> None:
    settings = load_settings({"DATA_DIR": str(tmp_path), "RASA_TOKEN": "t"})
    assert settings.redis_url == "" and settings.redis_key_prefix == "tre-em:"


def test_redis_url_and_prefix_are_read(tmp_path: Path) -> None:
    settings = load_settings({"DATA_DIR": str(tmp_path), "RASA_TOKEN": "t",
                              "REDIS_URL": "redis://:hunter22@127.0.0.1:6379/3", "REDIS_KEY_PREFIX": "test-1:"})
    assert settings.redis_url == "redis://:hunter22@127.0.0.1:6379/3"
    assert settings.redis_key_prefix == "test-1:"
    assert "hunter22" not in repr(settings)


@pytest.mark.parametrize(("name", "value"), [("REDIS_URL", "127.0.0.1:6379"), ("REDIS_URL", "http://127.0.0.1:6379"),
                                             ("REDIS_KEY_PREFIX", "has space"), ("REDIS_KEY_PREFIX", "x" * 65)])
def test_malformed_redis_settings_name_the_variable(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        load_settings({"DATA_DIR": str(tmp_path), "RASA_TOKEN": "t", name: value})


def test_production_with_several_processes_still_refuses_default_secrets(tmp_path: Path) -> None:
    env = {"DATA_DIR": str(tmp_path), "BOT_ENV": "production", "RASA_TOKEN": "changeme",
           "RASA_URLS": "http://127.0.0.1:5005,http://127.0.0.1:5006", "REDIS_URL": "redis://127.0.0.1:6379/0"}
    with pytest.raises(SettingsError, match="RASA_TOKEN"):
        load_settings(env)
    with pytest.raises(SettingsError, match="CASE_ENCRYPTION_KEYS"):
        load_settings({**env, "RASA_TOKEN": "r" * 40})
