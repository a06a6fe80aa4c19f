"""Log redaction: the patterns, the record factory, and that every process we start installs it."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from tests.privacy.privacy_support import REPO, engine_python

from common.redaction import RedactingFilter, install, redact
from bot.settings import SettingsError, load_settings
from devtools.ports import free_port


@pytest.mark.parametrize(("text", "secret"), [
    ("gọi em 0912345678 nhé", "0912345678"),
    ("số em 091 234 5678", "091 234 5678"),
    ("0912.345.678 là số mẹ", "0912.345.678"),
    ("0912-345-678", "0912-345-678"),
    ("+84 912 345 678", "912 345 678"),
    ("(+84)91-234-5678", "91-234-5678"),
    ("84912345678", "84912345678"),
    ("máy bàn 024 3825 1234", "3825 1234"),
    ("email lan.nguyen+abc@gmail.com", "lan.nguyen"),
    ("CCCD 001203004567", "001203004567"),
    ("cccd 001 203 004 567", "203 004"),
    ("CMND 123456789", "123456789"),
    ("nhà em ở số 12 ngõ 34 phố Huế, Hà Nội", "ngõ 34"),
    ("123 đường Lê Lợi, quận 1", "Lê Lợi"),
    ("em ở hẻm 45/6 Nguyễn Trãi", "45/6"),
    ("thôn Đông Xá, xã Yên Phong", "Đông Xá"),
    ("tên em là Lan", "Lan"),
    ("em tên là Nguyễn Thị Mai", "Nguyễn Thị Mai"),
    ("mình tên Minh", "Minh"),
])
def test_identifiers_are_replaced(text: str, secret: str) -> None:
    assert secret not in redact(text)
    assert "[" in redact(text)


@pytest.mark.parametrize("text", [
    "POST /api/webchat/abc/messages 200", "case 42 risk high waited 600s", "Em 13 tuổi, học lớp 8",
    "retention: purged conversations=3 tracker_events=9", "lúc 10:30 ngày 12/11/2025",
])
def test_ordinary_log_lines_are_left_alone(text: str) -> None:
    assert redact(text) == text


def test_records_of_any_logger_are_redacted_once_installed(caplog: pytest.LogCaptureFixture) -> None:
    install()
    install()  # idempotent
    with caplog.at_level(logging.INFO):
        logging.getLogger("uvicorn.error").info("message from %s: %s", "0912345678", "tên em là Lan")
        try:
            raise ValueError("bad input: em ở số 12 ngõ 34 phố Huế, gọi 0987654321")
        except ValueError:
            logging.getLogger("some.library").exception("failed")
    text = caplog.text
    for secret in ("0912345678", "Lan", "ngõ 34", "0987654321"):
        assert secret not in text
    assert "[phone]" in text and "[address]" in text


def test_the_filter_form_for_logging_config_files() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "id %s", ("001203004567",), None)
    assert RedactingFilter().filter(record) and record.getMessage() == "id [id-number]"


def test_the_debug_switch_is_off_by_default_and_refused_in_production(tmp_path: Path) -> None:
    base = {"DATA_DIR": str(tmp_path), "RASA_TOKEN": "t"}
    assert load_settings(base).log_message_text is False
    assert load_settings({**base, "LOG_MESSAGE_TEXT": "true"}).log_message_text is True
    with pytest.raises(SettingsError, match="LOG_MESSAGE_TEXT"):
        load_settings({**base, "LOG_MESSAGE_TEXT": "true", "BOT_ENV": "production", "RASA_TOKEN": "r" * 40,
                       "CASE_ENCRYPTION_KEYS": "k"})
    with pytest.raises(SettingsError):
        load_settings({**base, "LOG_MESSAGE_TEXT": "maybe"})


SNIPPET = "import logging, sys; logging.basicConfig(stream=sys.stderr); logging.getLogger('t').warning('gọi 0912345678')"


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "RASA_TELEMETRY_ENABLED": "false"}


def test_the_action_server_installs_it_on_import() -> None:
    out = subprocess.run([sys.executable, "-c", "import actions; " + SNIPPET], cwd=REPO, env=_env(),
                         capture_output=True, text=True, timeout=120)
    assert "0912345678" not in out.stderr and "[phone]" in out.stderr, out.stderr[-2000:]


def test_the_rasa_launcher_installs_it() -> None:
    from devtools.stack import RASA_LAUNCHER

    launcher_head = RASA_LAUNCHER.split("from rasa.__main__")[0]  # the part before Rasa starts
    out = subprocess.run([engine_python(), "-c", launcher_head + SNIPPET], cwd=REPO, env=_env(),
                         capture_output=True, text=True, timeout=120)
    assert "0912345678" not in out.stderr and "[phone]" in out.stderr, out.stderr[-2000:]


def test_a_running_gateway_logs_no_identifiers_even_with_the_debug_switch(tmp_path: Path, fake_rasa) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    env = {**_env(), "DATA_DIR": str(tmp_path), "RASA_URL": fake_rasa.url, "RASA_TOKEN": fake_rasa.token,
           "LOG_MESSAGE_TEXT": "true"}
    log = tmp_path / "gateway.log"
    with open(log, "wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "bot.app:create_app", "--host", "127.0.0.1",
             "--port", str(port), "--log-level", "debug"], cwd=REPO, env=env, stdout=sink, stderr=subprocess.STDOUT)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            said = "em tên là Nguyễn Thị Mai, số em 0912 345 678, email mai@example.com, CCCD 001203004567"
            response = httpx.post(f"{base}/api/webchat/abcdefghijklmnop1234/messages", json={"text": said})
            assert response.status_code == 200
            time.sleep(0.5)
        finally:
            process.terminate()
            process.wait(timeout=20)
    text = log.read_text(encoding="utf-8", errors="replace")
    assert "LOG_MESSAGE_TEXT" in text  # the switch did log the message...
    for secret in ("Nguyễn Thị Mai", "0912 345 678", "mai@example.com", "001203004567"):
        assert secret not in text  # ...but not who wrote it
    assert "[phone]" in text and "[email]" in text
