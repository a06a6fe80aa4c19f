"""Push channels (Telegram, Zalo OA) wired into the one gateway.

    outbox = Outbox(database, settings.channel_lease_seconds)
    speaker = Speaker(database, on_replies=push.reply_hook(outbox))
    relay = Relay(..., speaker=speaker)
    app.include_router(push.router)
    async with run_channels(app, settings, database, relay, outbox):
        ...

Every update goes: webhook/poller -> bot.inbox (stored, acknowledged) ->
intake worker -> channel adapter -> Relay -> transcript + outbox -> outbox
worker -> the channel's API. The core (relay, outbox, inbox) never imports
this package; the adapters register themselves here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from sqlalchemy.orm import Session

from bot.cases.alerts import StaffAlerts
from bot.channels import telegram, zalo
from bot.channels.intake import Intake, finish_current_update
from bot.db import Database
from bot.models import Conversation, Message
from bot.outbox import Outbox
from bot.relay import Relay
from bot.settings import Settings
from bot.speaker import ReplyHook

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)
router.include_router(telegram.router)
router.include_router(zalo.router)


def reply_hook(outbox: Outbox) -> ReplyHook:
    """Queue replies of push channels and mark the update handled, in the
    transaction that stores them."""

    def hook(session: Session, conversation: Conversation, messages: list[Message]) -> None:
        outbox.enqueue(session, conversation, messages)
        finish_current_update(session)

    return hook


@asynccontextmanager
async def run_channels(app: FastAPI, settings: Settings, database: Database, relay: Relay,
                       outbox: Outbox, alerts: StaffAlerts | None = None) -> AsyncIterator[None]:
    """Start the configured channels and the outbox and intake workers; with Telegram, staff
    alerts (`alerts`, the handoff's) go to the counsellors' linked Telegram chats."""
    limiter = getattr(app.state, "rate_limits", None)
    intake = Intake(database, settings.channel_lease_seconds,
                    limiter.per_person if limiter is not None else None)
    channels: list[Any] = []
    if settings.telegram is not None:
        app.state.telegram = telegram.TelegramChannel(settings.telegram, relay, outbox, intake, database)
        channels.append(app.state.telegram)
        if alerts is not None:
            alerts.register(telegram.TelegramStaffAlerts(app.state.telegram))
    if settings.zalo is not None:
        accounts = {settings.zalo.oa_id: settings.zalo}
        app.state.zalo = zalo.ZaloChannel(accounts, relay, outbox, intake, database)
        channels.append(app.state.zalo)
    # Several workers (REDIS_URL): the platforms' rate limits are paced together.
    coordination = getattr(app.state, "coordination", None)
    for name, channel, per_chat, overall in (
        ("telegram", getattr(app.state, "telegram", None), telegram.PER_CHAT_INTERVAL, telegram.OVERALL_PER_SECOND),
        ("zalo", getattr(app.state, "zalo", None), 0.0, zalo.OVERALL_PER_SECOND),
    ):
        pacer = coordination.send_pacer(name, per_chat, overall) if coordination is not None else None
        if channel is not None and pacer is not None:
            channel.limiter = pacer
    if not channels:
        yield
        return

    stop = asyncio.Event()
    for channel in channels:
        await channel.start()
    # References kept: a task nobody holds may be collected mid-run.
    workers = [asyncio.create_task(outbox.run(stop)), asyncio.create_task(intake.run(stop))]
    try:
        yield
    finally:
        stop.set()
        outbox.wake()
        await asyncio.gather(*workers, return_exceptions=True)
        for channel in channels:
            await channel.stop()
