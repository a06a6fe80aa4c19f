"""Fixtures for the channel tests: the real gateway (uvicorn, on loopback) between
the fake Rasa and the fake Telegram / Zalo platforms of devtools/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.fake_rasa import FakeRasa
from devtools.fake_telegram import FakeTelegram
from devtools.fake_zalo import FakeZalo
from devtools.ports import free_port
from tests.channels.channel_support import GatewayThread, channel_settings


@pytest.fixture(scope="module")
def platforms() -> Iterator[tuple[FakeTelegram, FakeZalo, int]]:
    """A fake Telegram and a fake Zalo for a whole module, and the gateway's port
    (the fake Zalo posts its webhook events there)."""
    bot_port = free_port()
    with FakeTelegram() as telegram, FakeZalo(webhook_url=f"http://127.0.0.1:{bot_port}/zalo/webhook") as zalo:
        yield telegram, zalo, bot_port


@pytest.fixture
def fake_telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


@pytest.fixture
def gateway_port() -> int:
    return free_port()


@pytest.fixture
def fake_zalo(gateway_port: int) -> Iterator[FakeZalo]:
    with FakeZalo(webhook_url=f"http://127.0.0.1:{gateway_port}/zalo/webhook") as fake:
        yield fake


@pytest.fixture
def telegram_gateway(tmp_path: Path, fake_rasa: FakeRasa, fake_telegram: FakeTelegram,
                     gateway_port: int) -> Iterator[GatewayThread]:
    """Webhook mode: the fake posts updates to the gateway's /telegram/webhook."""
    settings = channel_settings(tmp_path, fake_rasa, gateway_port, telegram=fake_telegram)
    with GatewayThread(settings) as gateway:
        fake_telegram.wait_for(lambda: bool(fake_telegram.webhook_url), timeout=20)
        yield gateway


@pytest.fixture
def zalo_gateway(tmp_path: Path, fake_rasa: FakeRasa, fake_zalo: FakeZalo,
                 gateway_port: int) -> Iterator[GatewayThread]:
    settings = channel_settings(tmp_path, fake_rasa, gateway_port, zalo=fake_zalo)
    with GatewayThread(settings) as gateway:
        yield gateway
