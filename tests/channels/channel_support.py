"""Helpers of the channel tests (conftest.py is for fixtures)."""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn
from sqlalchemy import select

from bot.app import create_app
from bot.db import Database
from bot.models import Conversation, Message
from bot.settings import Settings, load_settings
from devtools.ports import free_port
from devtools.waiting import wait_for
from devtools.stack import REPO_ROOT, Stack

NETGUARD_DIR = REPO_ROOT / "tests" / "netguard"


def channel_settings(data_dir: Path, fake_rasa: Any, port: int, *, telegram: Any = None,
                     zalo: Any = None, webhook: bool = True, **extra: str) -> Settings:
    env = {"DATA_DIR": str(data_dir), "RASA_URL": fake_rasa.url, "RASA_TOKEN": fake_rasa.token,
           "BOT_PORT": str(port), "MAX_MESSAGE_CHARS": "500", "CHANNEL_LEASE_SECONDS": "2", **extra}
    if telegram is not None:
        env |= {"TELEGRAM_BOT_TOKEN": telegram.token, "TELEGRAM_API_BASE": telegram.api_base,
                "TELEGRAM_FILE_BASE": telegram.url + "/file/bot"}
        if webhook:
            env |= {"TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram/webhook",
                    "TELEGRAM_WEBHOOK_SECRET": "test-secret_123"}
    if zalo is not None:
        env |= zalo.env()
    return load_settings(env)


@contextmanager
def channel_stack(telegram: Any, zalo: Any, bot_port: int, *, model: Path, engine_python: str,
                  netguard_log: Path, data_dir: Path, **extra_env: str) -> Iterator[Stack]:
    """The real Rasa, action server and gateway (devtools/stack.py) between the fake
    Telegram and Zalo of devtools/, with the network guard on every process."""
    env = {"NETGUARD_LOG": str(netguard_log), "NETGUARD_MODE": "refuse",
           "APP_DATABASE_URL": f"sqlite:///{data_dir / 'app.db'}",
           # What the bot answers is checked, however slow the machine (the busy reply has its own tests).
           "RASA_REPLY_DEADLINE_SECONDS": "300",
           "TELEGRAM_BOT_TOKEN": telegram.token, "TELEGRAM_API_BASE": telegram.api_base,
           "TELEGRAM_FILE_BASE": telegram.url + "/file/bot",
           "TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{bot_port}/telegram/webhook",
           "TELEGRAM_WEBHOOK_SECRET": secrets.token_urlsafe(16), **zalo.env(), **extra_env}
    with Stack(model=model, engine_python=engine_python, data_dir=data_dir, rasa_port=free_port(),
               actions_port=free_port(), bot_port=bot_port, extra_env=env,
               extra_pythonpath=[NETGUARD_DIR]) as stack:
        telegram.wait_for(lambda: bool(telegram.webhook_url), timeout=60)
        yield stack


class GatewayThread:
    """The gateway app served by uvicorn in a thread, on a real loopback port."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = create_app(settings)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=settings.bot_port,
                                log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.bot_port}"

    def __enter__(self) -> GatewayThread:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the gateway did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=20)


def transcript(settings: Settings, channel: str, external_id: str) -> list[tuple[str, str]]:
    database = Database.from_settings(settings)
    try:
        with database.session() as session:
            rows = session.execute(
                select(Message.sender, Message.text)
                .join(Conversation, Message.conversation_id == Conversation.id)
                .where(Conversation.channel == channel, Conversation.external_id == external_id)
                .order_by(Message.id)
            ).all()
            return [(str(sender.value), text) for sender, text in rows]
    finally:
        database.dispose()


def wait_until(condition: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    wait_for(condition, what, timeout, interval=0.05)


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)
