"""Delivering messages that are not an immediate reply to the person's request.

The web chat gets its replies in the HTTP response and polls for the rest
(`GET ...?after=`), so it needs no push. Push channels (Telegram, Zalo)
register a sender here; anything that must reach a person later, such as a
counsellor's message or a waiting-time notice, goes through `Deliveries.send`
after it has been stored in the transcript. The core never imports channel
code: channels register themselves at start-up.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from bot.messages import StoredMessage

logger = logging.getLogger(__name__)


class ChannelSender(Protocol):
    async def send(self, external_id: str, messages: Sequence[StoredMessage]) -> None:
        """Queue `messages` (already stored) for delivery to one conversation."""


class Deliveries:
    def __init__(self) -> None:
        self._senders: dict[str, ChannelSender] = {}

    def register(self, channel: str, sender: ChannelSender) -> None:
        self._senders[channel] = sender

    def is_push(self, channel: str) -> bool:
        return channel in self._senders

    async def send(self, channel: str, external_id: str, messages: Sequence[StoredMessage]) -> None:
        sender = self._senders.get(channel)
        if sender is None:
            return  # a polling channel (the web chat) reads stored messages itself
        await sender.send(external_id, messages)
