"""Discreet alerts to counsellors and supervisors outside the console.

A sender (for example the Telegram client of bot/channels) registers itself;
without one, alerts reach open consoles only. The text never carries child
content: risk level, how long it waited, "open the console".
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

logger = logging.getLogger(__name__)

RISK_LABELS_UPPER = {"imminent": "KHẨN CẤP", "high": "CAO", "concern": "THEO DÕI"}


class StaffAlertSender(Protocol):
    async def send_alert(self, chat_ids: Sequence[str], text: str) -> None:
        """Deliver `text` to each chat id; must not raise for one bad recipient."""


def new_case_text(risk: str) -> str:
    return f"Ca mới — mức {RISK_LABELS_UPPER.get(risk, risk)} — mở bảng điều khiển"


def overdue_text(risk: str, minutes: int) -> str:
    return (f"Ca mức {RISK_LABELS_UPPER.get(risk, risk)} đã chờ {minutes} phút — "
            "mở bảng điều khiển")


class StaffAlerts:
    def __init__(self) -> None:
        self._sender: StaffAlertSender | None = None

    def register(self, sender: StaffAlertSender) -> None:
        self._sender = sender

    async def send(self, chat_ids: Sequence[str], text: str) -> None:
        if self._sender is None or not chat_ids:
            return
        try:
            await self._sender.send_alert(chat_ids, text)
        except Exception:  # noqa: BLE001 - an alert channel failing must not stop the queue
            logger.exception("staff alert could not be sent")
