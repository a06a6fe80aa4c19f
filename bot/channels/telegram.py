"""Telegram (python-telegram-bot 22): the adapter between Bot API updates and the Relay.

- Webhook mode (production, `TELEGRAM_WEBHOOK_URL` set): Telegram posts to
  `POST /telegram/webhook`; the route checks `X-Telegram-Bot-Api-Secret-Token`
  in constant time, remembers the update by `update_id` (bot.inbox) and
  answers at once. The PTB `Application` is built with `.updater(None)` and
  fed from there (PTB's custom-webhook pattern).
- Polling mode (a laptop: only `TELEGRAM_BOT_TOKEN` set): a PTB `Updater`
  fetches updates into its queue and we accept them the same way.
- Either way the intake worker later runs the update through the
  Application's handlers (`process_update`), which turn it into an `Inbound`.
- Sending: the outbox calls `TelegramTransport.send`, one API call per item,
  at most 1 message a second per chat and 30 a second overall; a 429's
  `retry_after` pauses everything for that long.
- Only private chats are served: a group would put other people's messages
  into a child's transcript.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Request, Response
from sqlalchemy import select
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message as TgMessage,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application, ApplicationBuilder, CallbackQueryHandler, CommandHandler, ContextTypes, MessageHandler, Updater, filters

from bot import replies
from bot.api_errors import error_response
from bot.channels import message_refs
from bot.channels.intake import Intake
from bot.channels.quick_exit import BUTTON_TITLE, is_quick_exit
from bot.coordination.send_pacing import LocalSendPacer
from bot.db import Database
from bot.messages import GREETING_PAYLOAD, BotReply, Inbound, StoredMessage
from bot.models import Conversation, Message, Sender
from bot.outbox import Outbox, Outgoing, RetryLater, Sent, SendResult, Undeliverable
from bot.relay import RejectedMessage, Relay
from bot.settings import TelegramSettings

logger = logging.getLogger(__name__)

CHANNEL = "telegram"
MAX_MESSAGE_CHARS = 4096  # Telegram's limit for one message
# Edited messages and everything else are not subscribed to: an edit is not a new message.
ALLOWED_UPDATES = ["message", "callback_query"]
PER_CHAT_INTERVAL = 1.0
OVERALL_PER_SECOND = 30
START_RETRY_SECONDS = 5.0
# How long a delivered message's reference (for the quick exit) is retried while the database is away.
REF_RETRY_SECONDS = 20.0

# Telegram attachment fields -> the kinds the transcript names (bot.replies).
_ATTACHMENT_KINDS = (
    ("photo", "photo"), ("sticker", "sticker"), ("animation", "gif"), ("voice", "voice"),
    ("audio", "audio"), ("video", "video"), ("video_note", "video"), ("document", "file"),
    ("location", "location"), ("venue", "location"), ("contact", "contact"),
)

router = APIRouter(include_in_schema=False)


class TelegramChannel:
    def __init__(self, settings: TelegramSettings, relay: Relay, outbox: Outbox, intake: Intake,
                 database: Database) -> None:
        self.settings = settings
        self._relay = relay
        self._outbox = outbox
        self._intake = intake
        self._database = database
        self._errors: dict[int, BaseException] = {}
        self._ready = asyncio.Event()
        self._updater: Updater | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self.limiter = LocalSendPacer(PER_CHAT_INTERVAL, OVERALL_PER_SECOND)
        # The bot id is the token's first part: known without asking Telegram.
        self.source = f"telegram:{settings.bot_token.split(':', 1)[0]}"
        self.application: Application[Any, Any, Any, Any, Any, Any] = (
            ApplicationBuilder()
            .token(settings.bot_token)
            .base_url(settings.api_base)
            .base_file_url(settings.file_base)
            .updater(None)
            .build()
        )
        private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
        app = self.application
        app.add_handler(CommandHandler("start", self._on_start, filters=private))
        app.add_handler(CallbackQueryHandler(self._on_button))
        app.add_handler(MessageHandler(private & filters.TEXT, self._on_text))
        app.add_handler(MessageHandler(private & filters.ATTACHMENT, self._on_attachment))
        app.add_error_handler(self._on_error)
        outbox.register(CHANNEL, TelegramTransport(self))
        intake.register(self.source, self._process)

    @property
    def bot(self) -> Any:
        return self.application.bot

    # ---- life cycle ------------------------------------------------------------------

    async def start(self) -> None:
        """Connect in the background: the gateway (and the web chat) must not wait
        for Telegram, and keeps retrying if it cannot be reached."""
        self._tasks.append(asyncio.create_task(self._connect()))

    async def _connect(self) -> None:
        while True:
            try:
                await self.application.initialize()  # getMe
                if self.settings.uses_webhook:
                    await self.bot.set_webhook(
                        url=self.settings.webhook_url,
                        secret_token=self.settings.webhook_secret,
                        allowed_updates=ALLOWED_UPDATES,
                    )
                else:
                    self._updater = Updater(bot=self.bot, update_queue=asyncio.Queue())
                    await self._updater.initialize()
                    queue = await self._updater.start_polling(allowed_updates=ALLOWED_UPDATES)
                    self._tasks.append(asyncio.create_task(self._pump(queue)))
                self._ready.set()
                logger.info("Telegram connected (%s)", "webhook" if self.settings.uses_webhook else "polling")
                return
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001
                logger.warning("Telegram not reachable yet (%s); retrying", type(error).__name__)
                await asyncio.sleep(START_RETRY_SECONDS)

    async def stop(self) -> None:
        if self._updater is not None and self._updater.running:
            await self._updater.stop()  # confirms the last offset to Telegram
            await self._updater.shutdown()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.application.running:
            await self.application.stop()
        try:
            await self.application.shutdown()
        except Exception:  # noqa: BLE001 (never initialised)
            pass

    async def _pump(self, queue: asyncio.Queue[object]) -> None:
        while True:
            update = await queue.get()
            if isinstance(update, Update):
                try:
                    await self.accept(update.to_dict())
                except Exception:  # noqa: BLE001 (database busy: Telegram has it, it comes again)
                    logger.exception("could not store a polled Telegram update")

    # ---- incoming --------------------------------------------------------------------

    async def accept(self, data: dict[str, Any]) -> bool:
        """Remember an update (before Telegram hears "OK"); False for a redelivery."""
        return await self._intake.accept(self.source, str(data["update_id"]), _chat_key(data), data)

    async def _process(self, data: dict[str, Any]) -> None:
        await self._ready.wait()
        update = Update.de_json(data, self.bot)
        await self.application.process_update(update)
        error = self._errors.pop(id(update), None)
        if error is not None:
            raise error  # the intake retries it later

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if context.error is not None:
            self._errors[id(update)] = context.error

    async def _on_start(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        chat_id = await self._remember_incoming(update)
        await self._handle(Inbound(channel=CHANNEL, external_id=chat_id, payload=GREETING_PAYLOAD,
                                   opens_conversation=True, **_refs(update)))

    async def _on_text(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        chat_id = await self._remember_incoming(update)
        message = update.effective_message
        assert message is not None and message.text is not None
        if is_quick_exit(message.text):
            await self.quick_exit(chat_id)
            return
        await self._handle(Inbound(channel=CHANNEL, external_id=chat_id, text=message.text, **_refs(update)))

    async def _on_attachment(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        chat_id = await self._remember_incoming(update)
        message = update.effective_message
        assert message is not None
        kinds = tuple(kind for field, kind in _ATTACHMENT_KINDS if getattr(message, field, None)) or ("file",)
        if message.caption and message.caption.strip():
            # What the child wrote under the picture is text like any other (a
            # disclosure may be there); the picture itself is only noted.
            await self._relay.speaker.note(CHANNEL, chat_id, Sender.USER, replies.attachment_notice(kinds))
            await self._handle(Inbound(channel=CHANNEL, external_id=chat_id, text=message.caption, **_refs(update)))
            return
        await self._handle(Inbound(channel=CHANNEL, external_id=chat_id, attachments=kinds, **_refs(update)))

    async def _on_button(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        try:
            await query.answer()  # stops the spinner on the child's button
        except TelegramError:
            pass  # too old to answer; the press still counts
        message = query.message
        if message is None or message.chat.type != "private":
            return
        chat_id = str(message.chat.id)
        pressed = await anyio.to_thread.run_sync(lambda: self._pressed_button(chat_id, query.data or ""))
        if pressed is None:
            return  # not one of ours (or of another conversation): ignore
        title, payload = pressed
        if isinstance(message, TgMessage) and message.text:
            try:  # show what was chosen and take the keyboard away
                await query.edit_message_text(f"{message.text}\n\n👉 {title}")
            except TelegramError:
                pass
        await self._handle(Inbound(channel=CHANNEL, external_id=chat_id, payload=payload, **_refs(update)))

    def _pressed_button(self, chat_id: str, data: str) -> tuple[str, str] | None:
        """callback_data "<message id>:<button index>" -> (title, payload) of a
        button the bot offered in this chat."""
        message_id, _, index = data.partition(":")
        if not (message_id.isdigit() and index.isdigit()):
            return None
        with self._database.session() as session:
            found = session.execute(
                select(Message, Conversation)
                .join(Conversation, Message.conversation_id == Conversation.id)
                .where(Message.id == int(message_id))
            ).first()
            if found is None:
                return None
            stored, conversation = found
            if (conversation.channel, conversation.external_id) != (CHANNEL, chat_id):
                return None
            buttons = stored.buttons or []
            if int(index) >= len(buttons):
                return None
            return str(buttons[int(index)]["title"]), str(buttons[int(index)]["payload"])

    async def _handle(self, inbound: Inbound) -> None:
        try:
            await self._relay.handle(inbound)
        except RejectedMessage as error:
            logger.info("Telegram message not accepted: %s", error.code)
        self._outbox.wake()

    async def _remember_incoming(self, update: Update) -> str:
        message = update.effective_message
        assert message is not None
        chat_id = str(message.chat.id)
        await self._database.run(lambda s: message_refs.remember(s, CHANNEL, chat_id, str(message.message_id),
                                                           message.date))
        return chat_id

    # ---- quick exit --------------------------------------------------------------------

    async def quick_exit(self, chat_id: str) -> None:
        """Nothing more appears, what can be deleted is, one neutral line stays,
        and the transcript tells the counsellor the child had to leave."""
        await self._outbox.cancel_pending(CHANNEL, chat_id)
        await self._relay.speaker.note(CHANNEL, chat_id, Sender.USER, replies.CHILD_LEFT_QUICKLY)
        refs = await self._database.run(lambda s: [(r.id, r.platform_message_id)
                                             for r in message_refs.deletable(s, CHANNEL, chat_id)])
        done: list[int] = []
        for ref_id, message_id in refs:
            await self._delete(chat_id, message_id)
            done.append(ref_id)
            if len(done) >= 20:  # a crash part-way does not redo what is gone
                batch, done = done, []
                await self._database.run(lambda s, b=batch: message_refs.forget(s, b))
        await self._database.run(lambda s: message_refs.forget(s, done))
        await self._relay.speaker.say(CHANNEL, chat_id, [BotReply(text=replies.QUICK_EXIT_LINE)])
        self._outbox.wake()

    async def _delete(self, chat_id: str, message_id: str) -> None:
        for _attempt in range(3):
            await self.limiter.wait(f"delete:{chat_id}")
            try:
                await self.bot.delete_message(chat_id=int(chat_id), message_id=int(message_id))
                return
            except RetryAfter as error:
                await asyncio.sleep(_seconds(error.retry_after))
            except BadRequest:
                return  # already gone, or too old
            except (Forbidden, NetworkError):
                return



class TelegramTransport:
    """The outbox's sender for Telegram."""

    max_chars = MAX_MESSAGE_CHARS

    def __init__(self, channel: TelegramChannel) -> None:
        self._channel = channel

    async def send(self, item: Outgoing) -> SendResult:
        channel = self._channel
        if not channel._ready.is_set():
            return RetryLater("Telegram not connected yet", delay=2.0)
        await channel.limiter.wait(item.external_id)
        text = item.text or "Em chọn một mục dưới đây nhé:"
        try:
            sent = await channel.bot.send_message(chat_id=int(item.external_id), text=text,
                                                  reply_markup=_markup(item))
        except RetryAfter as error:
            seconds = _seconds(error.retry_after)
            channel.limiter.pause(seconds)  # Telegram said so: every chat waits
            return RetryLater("429 too many requests", delay=seconds)
        except Forbidden as error:
            return Undeliverable(f"forbidden: {error.message}")  # the child blocked the bot
        except BadRequest as error:
            return Undeliverable(f"bad request: {error.message}")
        except (NetworkError, TelegramError) as error:
            return RetryLater(f"{type(error).__name__}: {error.message}")
        try:
            await channel._database.run_retrying(
                lambda s: message_refs.remember(s, CHANNEL, item.external_id, str(sent.message_id)),
                within_seconds=REF_RETRY_SECONDS)
        except Exception:  # noqa: BLE001
            # Delivered all the same: answering "not sent" would send it again (the child would
            # see it twice). Only a quick exit cannot delete this one message.
            logger.exception("telegram: a message was delivered but its reference could not be stored")
        return Sent(str(sent.message_id))


class TelegramStaffAlerts:
    """bot.cases.alerts' sender: a discreet line ("Ca mới — mức CAO — mở bảng điều khiển") to each
    counsellor who linked a Telegram chat (`python -m bot.users alerts NAME CHAT_ID`; the person must
    have opened a chat with the bot once). Never child content; not part of any conversation, so
    not stored and not queued: an alert that cannot be sent now is logged and dropped (the console
    shows the queue anyway)."""

    def __init__(self, channel: TelegramChannel, ready_seconds: float = 10.0) -> None:
        self._channel = channel
        self._ready_seconds = ready_seconds

    async def send_alert(self, chat_ids: Sequence[str], text: str) -> None:
        channel = self._channel
        try:
            await asyncio.wait_for(channel._ready.wait(), self._ready_seconds)
        except TimeoutError:
            logger.warning("staff alert not sent: Telegram is not connected")
            return
        for chat_id in chat_ids:
            try:
                await channel.limiter.wait(f"staff:{chat_id}")
                await channel.bot.send_message(chat_id=int(chat_id), text=text)
            except (ValueError, TelegramError) as error:  # one bad recipient never stops the others
                logger.warning("staff alert to a Telegram chat failed: %s", error)


def _markup(item: Outgoing) -> Any:
    if item.buttons:
        return InlineKeyboardMarkup([
            [InlineKeyboardButton(str(b["title"])[:200], callback_data=f"{item.message_id}:{b['index']}")]
            for b in item.buttons
        ])
    if item.text == replies.QUICK_EXIT_LINE:
        return ReplyKeyboardRemove()  # after a quick exit nothing hints at what this chat was
    return ReplyKeyboardMarkup([[KeyboardButton(BUTTON_TITLE)]], resize_keyboard=True, is_persistent=True)


def _seconds(value: int | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _refs(update: Update) -> dict[str, Any]:
    user = update.effective_user
    return {"external_message_id": str(update.update_id), "user_ref": str(user.id) if user else None}


def _chat_key(data: dict[str, Any]) -> str:
    for field in ("message", "edited_message", "channel_post"):
        chat = (data.get(field) or {}).get("chat") if isinstance(data.get(field), dict) else None
        if isinstance(chat, dict) and "id" in chat:
            return str(chat["id"])
    query = data.get("callback_query")
    if isinstance(query, dict):
        message = query.get("message")
        if isinstance(message, dict) and isinstance(message.get("chat"), dict):
            return str(message["chat"].get("id"))
        if isinstance(query.get("from"), dict):
            return str(query["from"].get("id"))
    return "-"


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


@router.post("/telegram/webhook")
async def telegram_webhook(request: Request) -> Response:
    channel: TelegramChannel | None = getattr(request.app.state, "telegram", None)
    if channel is None or not channel.settings.uses_webhook:
        return error_response(404, "not_found", "Telegram is not configured for webhooks")
    given = request.headers.get("x-telegram-bot-api-secret-token", "")
    if not hmac.compare_digest(given.encode(), channel.settings.webhook_secret.encode()):
        return error_response(401, "invalid_secret", "missing or wrong secret token")
    data = _json_object(await request.body())
    if data is None:
        return error_response(400, "invalid_json", "the body must be a JSON object in UTF-8")
    update_id = data.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool) or update_id < 0:
        return error_response(400, "invalid_update", "update_id must be a non-negative integer")
    await channel.accept(data)  # a redelivery is acknowledged and dropped
    return Response(status_code=200)
