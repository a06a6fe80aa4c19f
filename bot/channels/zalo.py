"""Zalo Official Account: the adapter between OA webhook events and the Relay.

Incoming (`POST /zalo/webhook`, one URL per Zalo app):
- the signature `X-ZEvent-Signature` is `sha256(app_id + raw body + timestamp +
  OA secret key)` (the OA secret key, not the app secret; plain SHA-256, not an
  HMAC), as `mac=<hex>` or bare hex in either case, compared in constant time;
  the timestamp is `X-ZEvent-Timestamp` if sent, else the body's `timestamp`;
- events older than 5 minutes are refused (replays);
- an unsigned empty probe (Zalo checking the URL) gets 200 and nothing else;
- every event is answered at once (Zalo wants 200 within 2 s): it is stored
  (bot.inbox, by `msg_id`) and handled by the intake worker in the background;
- `oa_send_*` echoes of our own messages are dropped; the same event with
  `sender.admin_id` is a person typing in Zalo's OA chat tool: a counsellor turn.

Outgoing (`ZaloTransport`, called by the outbox): `POST /v3.0/oa/message/cs`
with the `access_token` header, success only when `error == 0`; `-216`/`-220`
refresh the token (single-flight, bot.channels.zalo_tokens) and retry once;
`-32` backs off; `-230`/`-213`/`-232` mean the child is outside Zalo's
messaging window: stored, so the console can show it (`messaging_windows`).

Conversations are `<OA id>:<user id>`, so several OAs can share the gateway.
Buttons: consultation messages carry text only, so the bot's choices are listed
as numbered lines; the child answers with the number or the words.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Sequence
from typing import Any

import anyio.to_thread
import httpx
from fastapi import APIRouter, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import replies
from bot.api_errors import error_response
from bot.channels.intake import Intake
from bot.channels.quick_exit import ZALO_MENU_PAYLOAD, is_quick_exit
from bot.coordination.send_pacing import LocalSendPacer
from bot.channels.zalo_tokens import TokenRefreshFailed, ZaloTokens
from bot.channels.zalo_windows import CHANNEL, MessagingWindows, messaging_windows, record_window_closed
from bot.db import Database
from bot.messages import BotReply, Inbound, StoredMessage
from bot.models import Conversation, Message, Sender
from bot.outbox import Outbox, Outgoing, RetryLater, Sent, SendResult, Undeliverable
from bot.relay import RejectedMessage, Relay
from bot.settings import ZaloSettings
from bot.transcript import REPLY_SENDERS
from nlu.vietnamese_text import fold

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 2000  # Zalo's limit for one consultation text
MAX_EVENT_AGE_MS = 5 * 60 * 1000
TOKEN_ERRORS = {-216, -220}
RATE_LIMITED = -32
WINDOW_CLOSED = {-230, -213, -232}
# Zalo allows 4,000 requests a minute per app; stay well below.
OVERALL_PER_SECOND = 20
SEND_TIMEOUT = httpx.Timeout(15.0, connect=3.0)

_ATTACHMENT_EVENTS = {
    "user_send_image": "photo", "user_send_gif": "gif", "user_send_sticker": "sticker",
    "user_send_audio": "voice", "user_send_video": "video", "user_send_file": "file",
    "user_send_location": "location", "user_send_link": "link", "user_send_business_card": "contact",
}
WINDOW_CLOSED_NOTICE = (
    "[Zalo không cho gửi thêm tin: trẻ chưa nhắn cho OA trong 7 ngày qua. "
    "Tin sẽ gửi được khi trẻ nhắn lại.]"
)

# For the console: how long Zalo still lets a counsellor write to this child.
__all__ = ["MessagingWindows", "messaging_windows"]

router = APIRouter(include_in_schema=False)


# ---- signature ------------------------------------------------------------------------------


def expected_signature(app_id: str, raw_body: bytes, timestamp: str, oa_secret_key: str) -> str:
    digest = hashlib.sha256()
    for part in (app_id.encode(), raw_body, timestamp.encode(), oa_secret_key.encode()):
        digest.update(part)
    return digest.hexdigest()


def signature_matches(header: str, app_id: str, raw_body: bytes, timestamp: str, oa_secret_key: str) -> bool:
    given = header.strip()
    if given[:4].lower() == "mac=":
        given = given[4:]
    expected = expected_signature(app_id, raw_body, timestamp, oa_secret_key)
    # Either case is accepted; compare_digest keeps the time independent of where they differ.
    return hmac.compare_digest(given.lower().encode(), expected.encode())


# ---- the channel ----------------------------------------------------------------------------------


class ZaloChannel:
    def __init__(self, accounts: dict[str, ZaloSettings], relay: Relay, outbox: Outbox,
                 intake: Intake, database: Database) -> None:
        self.accounts = accounts  # by OA id
        self.by_app = {a.app_id: a for a in accounts.values()}
        self._relay = relay
        self._outbox = outbox
        self._database = database
        self.tokens = ZaloTokens(database, accounts)
        self.limiter = LocalSendPacer(per_key_interval=0.0, overall_per_second=OVERALL_PER_SECOND)
        self.http = httpx.AsyncClient(timeout=SEND_TIMEOUT, trust_env=False)
        outbox.register(CHANNEL, ZaloTransport(self))
        for oa_id in accounts:
            intake.register(_source(oa_id), self.process)
        self._intake = intake

    async def start(self) -> None:
        await anyio.to_thread.run_sync(self.tokens.seed)

    async def stop(self) -> None:
        await self.http.aclose()
        self.tokens.close()

    # ---- incoming -----------------------------------------------------------------------------

    async def accept(self, event: dict[str, Any]) -> None:
        """Store a verified event for the worker, or drop what we do not handle."""
        name = str(event.get("event_name") or "")
        sender, recipient = _ids(event.get("sender")), _ids(event.get("recipient"))
        if name.startswith("oa_send_"):
            if not sender.get("admin_id"):
                # The echo of a message the bot sent: dropped here, before the intake,
                # where it would use up the child's per-person rate limit.
                return
            oa_id, user_id = sender.get("id"), recipient.get("id")
        elif name.startswith(("user_send_", "anonymous_send_")):
            oa_id, user_id = recipient.get("id"), sender.get("id")
        else:
            return  # follows, seen/received receipts...: nothing to do
        message = event.get("message") if isinstance(event.get("message"), dict) else {}
        msg_id = message.get("msg_id")
        if not oa_id or not user_id or not msg_id or oa_id not in self.accounts:
            logger.info("Zalo event %s dropped: unknown OA or no msg_id", name)
            return
        await self._intake.accept(_source(oa_id), str(msg_id), f"{oa_id}:{user_id}", event)

    async def process(self, event: dict[str, Any]) -> None:
        name = str(event["event_name"])
        sender, recipient = _ids(event.get("sender")), _ids(event.get("recipient"))
        message = event.get("message") if isinstance(event.get("message"), dict) else {}
        if name.startswith("oa_send_"):
            await self._oa_message(name, sender, recipient, message)
            return
        conversation = f"{recipient['id']}:{sender['id']}"
        msg_id = message.get("msg_id")
        refs = {"external_message_id": str(msg_id) if msg_id else None, "user_ref": sender["id"]}
        if name in ("user_send_text", "anonymous_send_text"):
            text = message.get("text")
            if not isinstance(text, str) or not text.strip():
                return
            if text.strip() == ZALO_MENU_PAYLOAD or is_quick_exit(text):
                await self.quick_exit(conversation)
                return
            payload = await anyio.to_thread.run_sync(self._chosen_button, conversation, text)
            if payload is not None:
                await self._handle(Inbound(channel=CHANNEL, external_id=conversation, payload=payload, **refs))
            else:
                await self._handle(Inbound(channel=CHANNEL, external_id=conversation, text=text, **refs))
            return
        kind = _ATTACHMENT_EVENTS.get(name) or _ATTACHMENT_EVENTS.get(name.replace("anonymous_", "user_"))
        if kind is not None:
            await self._handle(Inbound(channel=CHANNEL, external_id=conversation, attachments=(kind,), **refs))

    async def _oa_message(self, name: str, sender: dict[str, str], recipient: dict[str, str],
                          message: dict[str, Any]) -> None:
        if not sender.get("admin_id"):
            return  # the echo of a message the bot (the outbox) sent
        # A person answered in Zalo's own OA chat tool: Zalo delivered it; record it.
        text = message.get("text") if name == "oa_send_text" else None
        shown = text if isinstance(text, str) and text.strip() else "[Tư vấn viên đã gửi một tệp hoặc ảnh qua Zalo]"
        await self._relay.speaker.note(CHANNEL, f"{sender['id']}:{recipient['id']}", Sender.COUNSELLOR, shown)

    def _chosen_button(self, conversation: str, text: str) -> str | None:
        """A number or the words of a choice the bot's latest message listed."""
        oa_id, _, _ = conversation.partition(":")
        with self._database.session() as session:
            found = session.scalars(
                select(Message).join(Conversation, Message.conversation_id == Conversation.id)
                .where(Conversation.channel == CHANNEL, Conversation.external_id == conversation,
                       Message.sender.in_(REPLY_SENDERS))
                .order_by(Message.id.desc()).limit(1)
            ).first()
            buttons = (found.buttons or []) if found is not None else []
        wanted = _comparable(text)
        for number, button in enumerate(buttons, start=1):
            if wanted in (str(number), _comparable(str(button.get("title", "")))):
                return str(button["payload"])
        return None

    async def quick_exit(self, conversation: str) -> None:
        """Zalo lets an OA delete nothing: stop what is queued, note it, one neutral line."""
        await self._outbox.cancel_pending(CHANNEL, conversation)
        await self._relay.speaker.note(CHANNEL, conversation, Sender.USER, replies.CHILD_LEFT_QUICKLY)
        await self._relay.speaker.say(CHANNEL, conversation, [BotReply(text=replies.QUICK_EXIT_LINE)])
        self._outbox.wake()

    async def _handle(self, inbound: Inbound) -> None:
        try:
            await self._relay.handle(inbound)
        except RejectedMessage as error:
            logger.info("Zalo message not accepted: %s", error.code)
        self._outbox.wake()

    async def window_closed(self, conversation: str, code: int) -> None:
        def work(session: Session) -> bool:
            found = session.scalars(select(Conversation).where(
                Conversation.channel == CHANNEL, Conversation.external_id == conversation)).first()
            return found is not None and record_window_closed(session, found, code)

        if await self._database.run(work):
            await self._relay.speaker.note(CHANNEL, conversation, Sender.SYSTEM, WINDOW_CLOSED_NOTICE)



class ZaloTransport:
    """The outbox's sender for Zalo."""

    max_chars = MAX_MESSAGE_CHARS

    def __init__(self, channel: ZaloChannel) -> None:
        self._channel = channel

    async def send(self, item: Outgoing) -> SendResult:
        channel = self._channel
        oa_id, _, user_id = item.external_id.partition(":")
        account = channel.accounts.get(oa_id)
        if account is None:
            return Undeliverable(f"no configuration for OA {oa_id}")
        body = {"recipient": {"user_id": user_id}, "message": {"text": _with_choices(item)}}
        try:
            token = await channel.tokens.access_token(oa_id)
        except TokenRefreshFailed as error:
            return RetryLater(f"no access token: {error}", delay=300.0)
        for attempt in range(2):
            await channel.limiter.wait(oa_id)
            try:
                response = await channel.http.post(
                    f"{account.api_base}/v3.0/oa/message/cs", json=body, headers={"access_token": token}
                )
                data = response.json()
            except (httpx.HTTPError, ValueError) as error:
                return RetryLater(f"Zalo unreachable: {type(error).__name__}")
            code = _error_code(data)
            if code == 0:
                sent = data.get("data") if isinstance(data.get("data"), dict) else {}
                return Sent(str(sent.get("message_id")) if sent.get("message_id") else None)
            if code in TOKEN_ERRORS and attempt == 0:
                try:
                    token = await channel.tokens.refresh(oa_id, token)
                except TokenRefreshFailed as error:
                    return RetryLater(f"token refresh failed: {error}", delay=300.0)
                continue
            if code == RATE_LIMITED:
                channel.limiter.pause(2.0 ** min(item.attempts, 6))
                return RetryLater("Zalo rate limit (-32)")
            if code in WINDOW_CLOSED:
                await channel.window_closed(item.external_id, code)
                return Undeliverable(f"outside Zalo's messaging window ({code})")
            if response.status_code >= 500:
                return RetryLater(f"Zalo answered HTTP {response.status_code}")
            if code in TOKEN_ERRORS:
                return RetryLater(f"token still refused ({code})", delay=60.0)
            return Undeliverable(f"Zalo error {code}")
        return RetryLater("unreachable")


def _with_choices(item: Outgoing) -> str:
    if not item.buttons:
        return item.text
    lines = "\n".join(f"{i}. {b['title']}" for i, b in enumerate(item.buttons, start=1))
    text = f"{item.text}\n\n{lines}\n(Em trả lời bằng số hoặc chữ nhé.)" if item.text else lines
    return text if len(text) <= MAX_MESSAGE_CHARS else item.text[:MAX_MESSAGE_CHARS]


def _error_code(data: Any) -> int:
    if not isinstance(data, dict):
        return -1
    try:
        return int(data.get("error", -1))
    except (TypeError, ValueError):
        return -1


def _comparable(text: str) -> str:
    return " ".join(fold(text).lower().replace(".", " ").split())


def _ids(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {k: str(v) for k, v in value.items() if isinstance(v, (str, int)) and not isinstance(v, bool)}


def _source(oa_id: str) -> str:
    return f"zalo:{oa_id}"


# ---- the webhook --------------------------------------------------------------------------------


@router.post("/zalo/webhook")
async def zalo_webhook(request: Request) -> Response:
    channel: ZaloChannel | None = getattr(request.app.state, "zalo", None)
    if channel is None:
        return error_response(404, "not_found", "Zalo is not configured")
    raw = await request.body()
    signature = request.headers.get("x-zevent-signature")
    if not signature:
        if raw.strip() in (b"", b"{}"):
            return Response(status_code=200)  # Zalo checking the URL: no event
        return error_response(401, "missing_signature", "X-ZEvent-Signature is required")
    try:
        event = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return error_response(400, "invalid_json", "the body must be a JSON object in UTF-8")
    if not isinstance(event, dict):
        return error_response(400, "invalid_json", "the body must be a JSON object")
    account = channel.by_app.get(str(event.get("app_id") or ""))
    timestamp = request.headers.get("x-zevent-timestamp") or str(event.get("timestamp") or "")
    if account is None or not timestamp.isdigit():
        return error_response(401, "invalid_signature", "unknown app or no timestamp")
    if not signature_matches(signature, account.app_id, raw, timestamp, account.oa_secret_key):
        return error_response(401, "invalid_signature", "the signature does not match")
    if abs(time.time() * 1000 - int(timestamp)) > MAX_EVENT_AGE_MS:
        return error_response(401, "stale_event", "the event is older than 5 minutes")
    await channel.accept(event)  # a quick write; the worker does the rest
    return Response(status_code=200)
