"""A fake Telegram Bot API on 127.0.0.1: the real HTTP shapes, no network.

    python -m devtools.fake_telegram --port 8081      # a page at http://127.0.0.1:8081/

Speaks `/bot<token>/<method>` for getMe, getUpdates (long polling),
setWebhook, deleteWebhook, getWebhookInfo, sendMessage, editMessageText,
editMessageReplyMarkup, deleteMessage, deleteMessages, answerCallbackQuery.
With a webhook set, updates are POSTed to it with the secret header and
redelivered until the gateway answers 2xx (as Telegram does).

Tests use it as a library:

    with FakeTelegram() as tg:
        tg.user_says(chat_id=42, text="xin chào")     # an update from a child
        tg.wait_for_bot_messages(42, 2)                # what the bot sent (alive)
        tg.fail_next("sendMessage", retry_after=1)     # inject a 429
"""

from __future__ import annotations

import argparse
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from devtools.fake_platform import FakePlatform, QuietJSONHandler
from devtools.waiting import wait_for

BOT_TOKEN = "123456789:FAKE-token_for-local-tests"
PAGE = Path(__file__).with_name("chat_page.html")


@dataclass
class ChatMessage:
    message_id: int
    chat_id: int
    from_bot: bool
    text: str
    date: float
    reply_markup: dict[str, Any] | None = None
    deleted: bool = False
    kind: str = "text"


@dataclass
class _Failure:
    method: str
    count: int
    retry_after: int | None
    error_code: int
    description: str


@dataclass
class FakeTelegram(FakePlatform):
    token: str = BOT_TOKEN
    host: str = "127.0.0.1"
    port: int = 0
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    messages: dict[int, list[ChatMessage]] = field(default_factory=dict)
    callback_answers: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Condition()
        self._updates: list[dict[str, Any]] = []  # not yet confirmed (polling) or delivered (webhook)
        # Growing across runs, like Telegram's: a restarted fake must not reuse ids
        # the gateway has already remembered.
        self._update_ids = itertools.count(int(time.time() * 10))
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._failures: list[_Failure] = []
        self.webhook_url = ""
        self.webhook_secret = ""
        self.delivered: list[int] = []  # update ids the webhook accepted
        self._serve(self._handler())

    # ---- life cycle ---------------------------------------------------------------------

    @property
    def api_base(self) -> str:
        """TELEGRAM_API_BASE for the gateway."""
        return f"{self.url}/bot"

    def __enter__(self) -> FakeTelegram:
        return super().__enter__()

    def _wake_deliverer(self) -> None:
        with self._lock:
            self._lock.notify_all()

    # ---- what a child does ------------------------------------------------------------------

    def user_says(self, chat_id: int, text: str, first_name: str = "Em") -> dict[str, Any]:
        message = self._user_message(chat_id, text)
        payload = self._message_dict(message, first_name)
        payload["text"] = text
        if text.startswith("/"):
            command = text.split()[0]
            payload["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return self.push_update({"message": payload})

    def user_sends_photo(self, chat_id: int, caption: str | None = None) -> dict[str, Any]:
        message = self._user_message(chat_id, caption or "", kind="photo")
        payload = self._message_dict(message)
        payload["photo"] = [{"file_id": "AgAD-fake", "file_unique_id": "fake1", "width": 90, "height": 90}]
        if caption:
            payload["caption"] = caption
        return self.push_update({"message": payload})

    def user_sends_sticker(self, chat_id: int) -> dict[str, Any]:
        message = self._user_message(chat_id, "", kind="sticker")
        payload = self._message_dict(message)
        payload["sticker"] = {"file_id": "CAAD-fake", "file_unique_id": "st1", "width": 512, "height": 512,
                              "is_animated": False, "is_video": False, "type": "regular"}
        return self.push_update({"message": payload})

    def user_edits(self, chat_id: int, message_id: int, text: str) -> dict[str, Any]:
        payload = self._message_dict(self._find(chat_id, message_id))
        payload.update({"text": text, "edit_date": int(time.time())})
        return self.push_update({"edited_message": payload})

    def user_presses(self, chat_id: int, message_id: int, index: int = 0) -> dict[str, Any]:
        """Press button `index` of an inline keyboard the bot sent."""
        message = self._find(chat_id, message_id)
        rows = (message.reply_markup or {}).get("inline_keyboard") or []
        buttons = [b for row in rows for b in row]
        data = buttons[index]["callback_data"]
        query = {
            "id": f"cq{next(self._update_ids)}", "from": self._user(chat_id), "chat_instance": "ci",
            "data": data, "message": self._message_dict(message),
        }
        return self.push_update({"callback_query": query})

    def push_update(self, body: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": next(self._update_ids), **body}
        with self._lock:
            self._updates.append(update)
            self._lock.notify_all()
        return update

    def redeliver(self, update: dict[str, Any]) -> None:
        """Send an update again, as Telegram does when unsure it arrived."""
        with self._lock:
            self._updates.append(update)
            self._lock.notify_all()

    # ---- what tests read and inject ------------------------------------------------------------

    def fail_next(self, method: str, *, retry_after: int | None = None, count: int = 1,
                  error_code: int | None = None, description: str = "") -> None:
        code = error_code or (429 if retry_after is not None else 400)
        text = description or (f"Too Many Requests: retry after {retry_after}" if code == 429 else "Bad Request")
        with self._lock:
            self._failures.append(_Failure(method, count, retry_after, code, text))

    def bot_messages(self, chat_id: int, include_deleted: bool = False) -> list[ChatMessage]:
        with self._lock:
            return [m for m in self.messages.get(chat_id, [])
                    if m.from_bot and (include_deleted or not m.deleted)]

    def visible(self, chat_id: int) -> list[ChatMessage]:
        with self._lock:
            return [m for m in self.messages.get(chat_id, []) if not m.deleted]

    def calls_of(self, method: str) -> list[dict[str, Any]]:
        with self._lock:
            return [params for name, params in self.calls if name == method]

    def wait_for(self, condition: Callable[[], bool], timeout: float = 30.0) -> None:
        wait_for(condition, "the fake Telegram to see what the test waited for", timeout, interval=0.05)

    def wait_for_bot_messages(self, chat_id: int, count: int = 1, timeout: float = 30.0) -> list[ChatMessage]:
        self.wait_for(lambda: len(self.bot_messages(chat_id, include_deleted=True)) >= count, timeout)
        return self.bot_messages(chat_id, include_deleted=True)

    def pending_updates(self) -> int:
        with self._lock:
            return len(self._updates)

    # ---- the Bot API -------------------------------------------------------------------------------

    def _api(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.calls.append((method, params))
            for failure in self._failures:
                if failure.method == method and failure.count > 0:
                    failure.count -= 1
                    body: dict[str, Any] = {"ok": False, "error_code": failure.error_code,
                                            "description": failure.description}
                    if failure.retry_after is not None:
                        body["parameters"] = {"retry_after": failure.retry_after}
                    return failure.error_code, body
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
        return handler(params)

    def _ok(self, result: Any) -> tuple[int, dict[str, Any]]:
        return 200, {"ok": True, "result": result}

    def _bad(self, description: str) -> tuple[int, dict[str, Any]]:
        return 400, {"ok": False, "error_code": 400, "description": f"Bad Request: {description}"}

    def _m_getMe(self, _p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return self._ok({"id": int(self.token.split(":")[0]), "is_bot": True, "first_name": "Mây",
                         "username": "may_fake_bot", "can_join_groups": False,
                         "can_read_all_group_messages": False, "supports_inline_queries": False})

    def _m_setWebhook(self, p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.webhook_url = str(p.get("url") or "")
            self.webhook_secret = str(p.get("secret_token") or "")
            if p.get("drop_pending_updates") in (True, "true", "True"):
                self._updates.clear()
            self._lock.notify_all()
        return self._ok(True)

    def _m_deleteWebhook(self, p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.webhook_url = ""
            if p.get("drop_pending_updates") in (True, "true", "True"):
                self._updates.clear()
        return self._ok(True)

    def _m_getWebhookInfo(self, _p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return self._ok({"url": self.webhook_url, "has_custom_certificate": False,
                         "pending_update_count": self.pending_updates()})

    def _m_getUpdates(self, p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if self.webhook_url:
            return 409, {"ok": False, "error_code": 409,
                         "description": "Conflict: can't use getUpdates method while webhook is active"}
        offset = int(p.get("offset") or 0)
        timeout = min(float(p.get("timeout") or 0), 5.0)
        deadline = time.monotonic() + timeout
        with self._lock:
            # Asking from `offset` on confirms (forgets) every earlier update.
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            while not self._updates and not self._stop.is_set() and time.monotonic() < deadline:
                self._lock.wait(timeout=max(0.01, deadline - time.monotonic()))
            return self._ok(list(self._updates[: int(p.get("limit") or 100)]))

    def _m_sendMessage(self, p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        chat_id = int(p["chat_id"])
        text = str(p.get("text") or "")
        if not text:
            return self._bad("message text is empty")
        if len(text) > 4096:
            return self._bad("message is too long")
        markup = p.get("reply_markup")
        with self._lock:
            message = ChatMessage(self._next_message_id(chat_id), chat_id, True, text, time.time(),
                                  markup if isinstance(markup, dict) else None)
            self.messages.setdefault(chat_id, []).append(message)
        return self._ok(self._message_dict(message))

    def _m_editMessageText(self, p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            message = self._find(int(p["chat_id"]), int(p["message_id"]))
            if message is None or message.deleted or not message.from_bot:
                return self._bad("message to edit not found")
            message.text = str(p.get("text") or "")
            markup = p.get("reply_markup")
            message.reply_markup = markup if isinstance(markup, dict) else None
        return self._ok(self._message_dict(message))

    def _m_editMessageReplyMarkup(self, p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            message = self._find(int(p["chat_id"]), int(p["message_id"]))
            if message is None or message.deleted:
                return self._bad("message to edit not found")
            markup = p.get("reply_markup")
            message.reply_markup = markup if isinstance(markup, dict) else None
        return self._ok(self._message_dict(message))

    def _m_deleteMessage(self, p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            message = self._find(int(p["chat_id"]), int(p["message_id"]))
            if message is None or message.deleted:
                return self._bad("message to delete not found")
            if time.time() - message.date > 48 * 3600:
                return self._bad("message can't be deleted for everyone")
            message.deleted = True
        return self._ok(True)

    def _m_deleteMessages(self, p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        for message_id in p.get("message_ids") or []:
            self._m_deleteMessage({"chat_id": p["chat_id"], "message_id": message_id})
        return self._ok(True)

    def _m_answerCallbackQuery(self, p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.callback_answers.append(str(p.get("callback_query_id")))
        return self._ok(True)

    def _m_setMyCommands(self, _p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return self._ok(True)

    # ---- webhook delivery ------------------------------------------------------------------------

    def _deliver_forever(self) -> None:
        backoff = 0.1
        with httpx.Client(timeout=10.0, trust_env=False) as http:
            while not self._stop.is_set():
                with self._lock:
                    while not self._stop.is_set() and not (self.webhook_url and self._updates):
                        self._lock.wait(timeout=0.2)
                    if self._stop.is_set():
                        return
                    update, url, secret = self._updates[0], self.webhook_url, self.webhook_secret
                try:
                    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
                    response = http.post(url, json=update, headers=headers)
                    ok = 200 <= response.status_code < 300
                except httpx.HTTPError:
                    ok = False
                if ok:
                    with self._lock:
                        if self._updates and self._updates[0] is update:
                            self._updates.pop(0)
                        self.delivered.append(update["update_id"])
                    backoff = 0.1
                else:
                    time.sleep(backoff)  # Telegram tries again, later and later
                    backoff = min(backoff * 2, 2.0)

    # ---- helpers ------------------------------------------------------------------------------------

    def _next_message_id(self, chat_id: int) -> int:
        counter = self._message_ids.setdefault(chat_id, itertools.count(1))
        return next(counter)

    def _user_message(self, chat_id: int, text: str, kind: str = "text") -> ChatMessage:
        with self._lock:
            message = ChatMessage(self._next_message_id(chat_id), chat_id, False, text, time.time(), kind=kind)
            self.messages.setdefault(chat_id, []).append(message)
            return message

    def _find(self, chat_id: int, message_id: int) -> ChatMessage:
        for message in self.messages.get(chat_id, []):
            if message.message_id == message_id:
                return message
        return None  # type: ignore[return-value]

    def _user(self, chat_id: int, first_name: str = "Em") -> dict[str, Any]:
        return {"id": chat_id, "is_bot": False, "first_name": first_name, "language_code": "vi"}

    def _message_dict(self, message: ChatMessage, first_name: str = "Em") -> dict[str, Any]:
        sender = ({"id": int(self.token.split(":")[0]), "is_bot": True, "first_name": "Mây",
                   "username": "may_fake_bot"} if message.from_bot else self._user(message.chat_id, first_name))
        data: dict[str, Any] = {
            "message_id": message.message_id, "date": int(message.date), "from": sender,
            "chat": {"id": message.chat_id, "type": "private", "first_name": first_name},
        }
        if message.from_bot or message.kind == "text":
            data["text"] = message.text
        if message.reply_markup and "inline_keyboard" in message.reply_markup:
            data["reply_markup"] = message.reply_markup  # Telegram returns only inline keyboards
        return data

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(QuietJSONHandler):
            def _route(self) -> None:
                url = urlsplit(self.path)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if url.path.startswith("/_fake/") or url.path == "/":
                    self._control(url.path, raw)
                    return
                parts = url.path.strip("/").split("/")
                if len(parts) != 2 or parts[0] != f"bot{fake.token}":
                    self._json(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
                    return
                params = _params(self.headers.get("Content-Type") or "", raw, url.query)
                status, body = fake._api(parts[1], params)
                self._json(status, body)

            def _control(self, path: str, raw: bytes) -> None:
                # A small page and JSON for a person to play the child (demo mode).
                if path == "/":
                    page = PAGE.read_text(encoding="utf-8").replace("{{PLATFORM}}", "telegram")
                    self._send(200, page.encode(), "text/html; charset=utf-8")
                elif path == "/_fake/say":
                    data = json.loads(raw or b"{}")
                    chat_id = int(data.get("chat_id") or 1001)
                    if data.get("press") is not None:
                        fake.user_presses(chat_id, int(data["press"]), int(data.get("index") or 0))
                    elif data.get("photo"):
                        fake.user_sends_photo(chat_id)
                    else:
                        fake.user_says(chat_id, str(data.get("text") or ""))
                    self._json(200, {"ok": True})
                elif path.startswith("/_fake/chat/"):
                    chat_id = int(path.rsplit("/", 1)[1])
                    shown = [{"id": m.message_id, "from_bot": m.from_bot, "text": m.text or f"[{m.kind}]",
                              "buttons": [b["text"] for row in (m.reply_markup or {}).get("inline_keyboard", [])
                                          for b in row]}
                             for m in fake.visible(chat_id)]
                    self._json(200, {"messages": shown})
                else:
                    self._json(404, {"ok": False})

        return Handler


def _params(content_type: str, raw: bytes, query: str) -> dict[str, Any]:
    """PTB posts form fields whose non-string values are JSON; others post JSON."""
    if content_type.startswith("application/json"):
        data = json.loads(raw or b"{}")
        return data if isinstance(data, dict) else {}
    if content_type.startswith("multipart/form-data"):
        return _multipart(content_type, raw)
    fields = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True)) if raw else dict(parse_qsl(query))
    return {key: _maybe_json(value) for key, value in fields.items()}


def _multipart(content_type: str, raw: bytes) -> dict[str, Any]:
    boundary = content_type.split("boundary=", 1)[1].strip('"').encode()
    fields: dict[str, Any] = {}
    for part in raw.split(b"--" + boundary):
        head, _, body = part.partition(b"\r\n\r\n")
        if b'name="' not in head:
            continue
        name = head.split(b'name="', 1)[1].split(b'"', 1)[0].decode()
        fields[name] = _maybe_json(body.rstrip(b"\r\n").decode("utf-8", "replace"))
    return fields


def _maybe_json(value: str) -> Any:
    if value[:1] in ("{", "[") or value in ("true", "false"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default=BOT_TOKEN)
    args = parser.parse_args()
    with FakeTelegram(token=args.token, port=args.port) as fake:
        print(f"Fake Telegram Bot API on {fake.url} (token {fake.token})", flush=True)
        fake.serve_until_interrupted()


if __name__ == "__main__":
    main()
