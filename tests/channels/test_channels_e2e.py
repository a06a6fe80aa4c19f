"""The safety path on Telegram and Zalo with the real Rasa and action server (via Stack)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.channels.channel_support import channel_stack as start_channel_stack

from devtools.stack import Stack
# The end-to-end fixtures (model, engine python, network guard log) of tests/e2e.
from tests.e2e.conftest import engine_python, netguard_log, trained_model  # noqa: F401

pytestmark = pytest.mark.e2e
DISCLOSURE = "bo em danh em dau lam, em so lam"


@pytest.fixture(scope="module")
def channel_stack(platforms, trained_model: Path, engine_python: str, netguard_log: Path,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    telegram, zalo, bot_port = platforms
    with start_channel_stack(telegram, zalo, bot_port, model=trained_model, engine_python=engine_python,
                             netguard_log=netguard_log, data_dir=tmp_path_factory.mktemp("channel-stack")) as stack:
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
