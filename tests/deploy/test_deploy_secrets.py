"""No secret in deploy/; deploy/generate-env.sh writes consistent, private, production-grade ones."""

from __future__ import annotations

import re
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from tests.deploy.deploy_support import DEPLOY, ENV_DIR, REPO_ROOT, env_file_template

from bot.settings import load_settings

FERNET_KEY = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}=")
CREDENTIALS_IN_URL = re.compile(r"://[^/\s:@]*:(?!\$)[^@\s/<>]+@")  # a $variable is a reference, not a value
PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")


def _random_looking(word: str) -> bool:
    return (len(word) >= 32 and re.fullmatch(r"[A-Za-z0-9_+/=-]+", word) is not None
            and bool(re.search(r"[a-z]", word)) + bool(re.search(r"[A-Z]", word)) + bool(re.search(r"\d", word)) >= 3)


def _committed_files() -> list[Path]:
    # Real env files (deploy/env/*.env) are git-ignored secrets; everything else is shipped.
    return [p for p in sorted(DEPLOY.rglob("*")) if p.is_file() and not (p.parent == ENV_DIR and p.suffix == ".env")]


def test_no_secret_values_anywhere_in_deploy() -> None:
    for path in _committed_files():
        text = path.read_text(encoding="utf-8")
        assert not FERNET_KEY.search(text), f"{path} holds something shaped like a Fernet key"
        assert not PRIVATE_KEY.search(text), path
        assert not CREDENTIALS_IN_URL.search(text), f"{path} has a URL with a password"
        for word in re.findall(r"[^\s'\"`]+", text):
            assert not _random_looking(word), f"{path} holds a random-looking value: {word[:6]}..."


def test_env_file_templates_have_names_but_no_values() -> None:
    templates = sorted(ENV_DIR.glob("*.env.example"))
    assert {t.name for t in templates} == {"app.env.example", "postgres.env.example", "rasa.env.example",
                                           "redis.env.example"}
    for template in templates:
        values = env_file_template(template.name.removesuffix(".env.example"))
        assert values and not any(values.values()), f"{template.name} must not carry values"


def test_real_env_files_are_ignored_by_git() -> None:
    result = subprocess.run(["git", "check-ignore", "deploy/env/app.env", "deploy/env/rasa.env"], cwd=REPO_ROOT,
                            capture_output=True, text=True)
    assert result.stdout.split() == ["deploy/env/app.env", "deploy/env/rasa.env"]
    result = subprocess.run(["git", "check-ignore", "deploy/env/app.env.example"], cwd=REPO_ROOT)
    assert result.returncode == 1  # the templates are committed


def _read_env(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text(encoding="utf-8").splitlines() if "=" in line)


@pytest.fixture
def generated(tmp_path: Path) -> Path:
    subprocess.run([str(DEPLOY / "generate-env.sh"), "--env-dir", str(tmp_path)], check=True, capture_output=True)
    return tmp_path


def test_generated_env_files_are_private_and_consistent(generated: Path) -> None:
    files = {name: _read_env(generated / f"{name}.env") for name in ("postgres", "redis", "rasa", "app")}
    for name in files:
        assert stat.S_IMODE((generated / f"{name}.env").stat().st_mode) == 0o600
        # Every variable the template names is written (channels are optional and left out).
        template = set(env_file_template(name))
        optional = {v for v in template if v.startswith(("TELEGRAM_", "ZALO_"))}
        assert set(files[name]) == template - optional
    app, rasa, postgres, redis = files["app"], files["rasa"], files["postgres"], files["redis"]
    assert app["RASA_TOKEN"] == rasa["RASA_TOKEN"]
    assert rasa["TRACKER_DB_PASSWORD"] == postgres["TRACKER_DB_PASSWORD"]
    assert rasa["REDIS_PASSWORD"] == redis["REDIS_PASSWORD"] and redis["REDIS_PASSWORD"] in app["REDIS_URL"]
    for url in ("APP_DATABASE_URL", "KB_DATABASE_URL", "RASA_TRACKER_URL"):
        assert f"tre_em:{postgres['APP_DB_PASSWORD']}@postgres:5432/" in app[url]
    Fernet(app["CASE_ENCRYPTION_KEYS"])
    Fernet(rasa["TRACKER_ENCRYPTION_KEYS"])
    assert len({postgres["POSTGRES_PASSWORD"], postgres["APP_DB_PASSWORD"], postgres["TRACKER_DB_PASSWORD"],
                redis["REDIS_PASSWORD"], app["RASA_TOKEN"]}) == 5


def test_generated_secrets_satisfy_production_settings(generated: Path) -> None:
    env = {**_read_env(generated / "app.env"), "BOT_ENV": "production", "DATA_DIR": str(generated / "data"),
           "RASA_URLS": "http://rasa-1:5005,http://rasa-2:5005"}
    settings = load_settings(env)  # raises SettingsError on a missing or weak secret
    assert settings.is_production
    assert settings.rasa_token == env["RASA_TOKEN"]


def test_generate_env_never_overwrites_a_secret(generated: Path) -> None:
    before = (generated / "app.env").read_text(encoding="utf-8")
    result = subprocess.run([str(DEPLOY / "generate-env.sh"), "--env-dir", str(generated)], capture_output=True,
                            text=True)
    assert result.returncode != 0 and "not overwriting" in result.stderr
    assert (generated / "app.env").read_text(encoding="utf-8") == before
