"""The safety path on Telegram and Zalo with the real Rasa and action server (via Stack)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.fake_telegram import FakeTelegram
from devtools.fake_zalo import FakeZalo
from scripts.stack import REPO_ROOT, Stack, free_port
# The end-to-end fixtures (model, engine python, network guard log) of tests/e2e.
from tests.e2e.conftest import engine_python, netguard_log, trained_model  # noqa: F401

pytestmark = pytest.mark.e2e
NETGUARD_DIR = REPO_ROOT / "tests" / "netguard"
DISCLOSURE = "bo em danh em dau lam, em so lam"


@pytest.fixture(scope="module")
def platforms() -> Iterator[tuple[FakeTelegram, FakeZalo, int]]:
    bot_port = free_port()
    with FakeTelegram() as telegram, FakeZalo(webhook_url=f"http://127.0.0.1:{bot_port}/zalo/webhook") as zalo:
        yield telegram, zalo, bot_port


@pytest.fixture(scope="module")
def channel_stack(platforms, trained_model: Path, engine_python: str, netguard_log: Path,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    telegram, zalo, bot_port = platforms
    data_dir = tmp_path_factory.mktemp("channel-stack")
    env = {"NETGUARD_LOG": str(netguard_log), "NETGUARD_MODE": "refuse", "APP_DATABASE_URL": f"sqlite:///{data_dir / 'app.db'}",
           "TELEGRAM_BOT_TOKEN": telegram.token, "TELEGRAM_API_BASE": telegram.api_base,
           "TELEGRAM_FILE_BASE": telegram.url + "/file/bot",
           "TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{bot_port}/telegram/webhook",
           "TELEGRAM_WEBHOOK_SECRET": secrets.token_urlsafe(16), **zalo.env()}
    with Stack(model=trained_model, engine_python=engine_python, data_dir=data_dir, rasa_port=free_port(),
               actions_port=free_port(), bot_port=bot_port, extra_env=env,
               extra_pythonpath=[NETGUARD_DIR]) as stack:
        telegram.wait_for(lambda: bool(telegram.webhook_url), timeout=60)
        yield stack


def test_a_disclosure_on_telegram_gets_the_safety_message(channel_stack: Stack, platforms) -> None:
    telegram, _, _ = platforms
    chat = 31337
    telegram.user_says(chat, "/start")
    greeting = telegram.wait_for_bot_messages(chat, 1, timeout=60)
    telegram.user_says(chat, DISCLOSURE)
    telegram.wait_for(lambda: any("111" in m.text for m in telegram.bot_messages(chat)[len(greeting):]),
                      timeout=90)


def test_a_disclosure_on_zalo_gets_the_safety_message(channel_stack: Stack, platforms) -> None:
    _, zalo, _ = platforms
    user = "8400000000000000042"
    zalo.user_says(user, DISCLOSURE)
    zalo.wait_for(lambda: any("111" in m.text for m in zalo.sent_to(user)), timeout=90)


def test_nothing_left_the_machine(channel_stack: Stack, netguard_log: Path) -> None:
    assert not netguard_log.exists() or netguard_log.read_text() == ""
