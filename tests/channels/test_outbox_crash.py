"""Kill the gateway process mid-flight, restart it: the answer arrives exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from tests.channels.channel_support import wait_until

from devtools.fake_telegram import FakeTelegram
from devtools.ports import free_port
from devtools.stack import REPO_ROOT

CHAT = 777


@contextmanager
def gateway_process(data_dir: Path, fake_rasa, fake_telegram: FakeTelegram, port: int) -> Iterator[subprocess.Popen]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "DATA_DIR": str(data_dir),
           "APP_DATABASE_URL": f"sqlite:///{data_dir / 'app.db'}",
           "RASA_URL": fake_rasa.url, "RASA_TOKEN": fake_rasa.token, "CHANNEL_LEASE_SECONDS": "1",
           "TELEGRAM_BOT_TOKEN": fake_telegram.token, "TELEGRAM_API_BASE": fake_telegram.api_base,
           "TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram/webhook",
           "TELEGRAM_WEBHOOK_SECRET": "crash-test-secret", "NO_PROXY": "127.0.0.1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "bot.app:create_app", "--host", "127.0.0.1",
         "--port", str(port), "--no-access-log"],
        cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        def healthy() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1, trust_env=False).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, timeout=60, what="the gateway to start")
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=20)


def kill(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def test_killed_while_rasa_is_thinking(tmp_path: Path, fake_rasa, fake_telegram: FakeTelegram) -> None:
    port = free_port()
    first_call, release = threading.Event(), threading.Event()

    def reply(sender: str, text: str) -> list[dict]:
        if not first_call.is_set():
            first_call.set()
            release.wait(timeout=30)  # the gateway dies while waiting for this
        return [{"text": "Mình đây, em cứ kể nhé."}]

    fake_rasa.reply = reply
    with gateway_process(tmp_path, fake_rasa, fake_telegram, port) as gateway:
        fake_telegram.user_says(CHAT, "em cần giúp")
        assert first_call.wait(timeout=30), "the message never reached Rasa"
        kill(gateway)
    release.set()
    assert fake_telegram.bot_messages(CHAT) == []

    with gateway_process(tmp_path, fake_rasa, fake_telegram, port):
        fake_telegram.wait_for_bot_messages(CHAT, 1, timeout=30)
        time.sleep(3)  # longer than the lease: nothing else may come
    assert [m.text for m in fake_telegram.bot_messages(CHAT)] == ["Mình đây, em cứ kể nhé."]


def test_killed_while_the_answer_waits_in_the_outbox(tmp_path: Path, fake_rasa, fake_telegram: FakeTelegram) -> None:
    port = free_port()
    fake_telegram.fail_next("sendMessage", retry_after=3)
    with gateway_process(tmp_path, fake_rasa, fake_telegram, port) as gateway:
        fake_telegram.user_says(CHAT, "xin chào")
        wait_until(lambda: len(fake_telegram.calls_of("sendMessage")) >= 1, what="the first send (429)")
        kill(gateway)
    assert fake_telegram.bot_messages(CHAT) == []

    with gateway_process(tmp_path, fake_rasa, fake_telegram, port):
        fake_telegram.wait_for_bot_messages(CHAT, 2, timeout=30)
        time.sleep(3)
    assert [m.text for m in fake_telegram.bot_messages(CHAT)] == [
        "Chào em! Hôm nay em thế nào?", "Em muốn nói chuyện về điều gì?"]
    assert fake_rasa.texts_received() == ["xin chào"]
