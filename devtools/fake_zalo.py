"""A fake Zalo Official Account platform on 127.0.0.1: real HTTP shapes, no network.

    python -m devtools.fake_zalo --port 8082 --webhook http://127.0.0.1:8000/zalo/webhook

- Delivers signed webhook events (`X-ZEvent-Signature: mac=sha256(app_id +
  body + timestamp + OA secret key)`) and retries when the connection fails.
- `POST /v3.0/oa/message/cs` with the `access_token` header; answers
  `{"error": 0, "data": {"message_id", ...}}` and echoes each sent message as
  an `oa_send_text` event (as Zalo does); error codes can be injected.
- `POST /v4/oa/access_token` (form, `secret_key` header): refresh tokens are
  single-use; a refresh ends the previous access token.

Tests use it as a library:

    with FakeZalo(webhook_url=...) as zalo:
        zalo.user_says("u1", "xin chào")
        zalo.wait_for_sent("u1", 1)
        zalo.fail_next(-216)
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import secrets
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

APP_ID = "1234567890123456789"
APP_SECRET = "fake-app-secret"
OA_ID = "579745863508352884"
OA_SECRET_KEY = "fake-oa-secret-key"
PAGE = Path(__file__).with_name("chat_page.html")


@dataclass
class SentMessage:
    message_id: str
    user_id: str
    text: str
    at: float


@dataclass
class FakeZalo(FakePlatform):
    webhook_url: str = ""
    app_id: str = APP_ID
    app_secret: str = APP_SECRET
    oa_id: str = OA_ID
    oa_secret_key: str = OA_SECRET_KEY
    host: str = "127.0.0.1"
    port: int = 0
    # Seconds between webhook retries (Zalo: 30 s, 5 min, ...; short for tests).
    retry_delays: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0, 4.0)
    echo_sent: bool = True
    # Demo only: accept any refresh token (a demo database keeps the pair of an
    # earlier run, which this new fake never issued).
    forgiving_refresh: bool = False
    sent: list[SentMessage] = field(default_factory=list)
    send_calls: list[dict[str, Any]] = field(default_factory=list)
    refresh_calls: list[dict[str, Any]] = field(default_factory=list)
    user_messages: list[tuple[str, str, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self.access_token = "access-" + secrets.token_hex(8)
        self.refresh_token = "refresh-" + secrets.token_hex(8)
        self._used_refresh_tokens: set[str] = set()
        self._errors: list[int] = []
        self._msg_ids = itertools.count(1)
        self.refresh_delay = 0.0  # seconds the token endpoint takes (to make races likely)
        self._outgoing: list[tuple[dict[str, Any], float]] = []  # (event, not before)
        self._wake = threading.Condition(self._lock)
        self.deliveries: list[tuple[int, int]] = []  # (status, num_retry) per attempt
        self._serve(self._handler())

    def env(self) -> dict[str, str]:
        """The gateway's settings for this fake."""
        return {"ZALO_APP_ID": self.app_id, "ZALO_APP_SECRET": self.app_secret, "ZALO_OA_ID": self.oa_id,
                "ZALO_OA_SECRET_KEY": self.oa_secret_key, "ZALO_ACCESS_TOKEN": self.access_token,
                "ZALO_REFRESH_TOKEN": self.refresh_token, "ZALO_API_BASE": self.url,
                "ZALO_OAUTH_BASE": self.url}

    def __enter__(self) -> FakeZalo:
        return super().__enter__()

    def _wake_deliverer(self) -> None:
        with self._lock:
            self._wake.notify_all()

    # ---- events --------------------------------------------------------------------------------

    def event(self, name: str, user_id: str, message: dict[str, Any], *, from_oa: bool = False,
              admin_id: str | None = None, timestamp_ms: int | None = None) -> dict[str, Any]:
        sender: dict[str, Any] = {"id": self.oa_id if from_oa else user_id}
        if admin_id:
            sender["admin_id"] = admin_id
        recipient = {"id": user_id if from_oa else self.oa_id}
        return {
            "app_id": self.app_id, "user_id_by_app": "by-app-" + user_id, "event_name": name,
            "sender": sender, "recipient": recipient,
            "message": {"msg_id": message.get("msg_id") or f"msg{secrets.token_hex(8)}", **message},
            "timestamp": str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)),
        }

    def user_says(self, user_id: str, text: str) -> dict[str, Any]:
        with self._lock:
            self.user_messages.append((user_id, text, time.time()))
        return self.deliver(self.event("user_send_text", user_id, {"text": text}))

    def user_sends_image(self, user_id: str) -> dict[str, Any]:
        attachment = {"type": "image", "payload": {"thumbnail": "https://example.invalid/t.jpg",
                                                   "url": "https://example.invalid/i.jpg"}}
        return self.deliver(self.event("user_send_image", user_id, {"attachments": [attachment]}))

    def counsellor_types(self, user_id: str, text: str, admin_id: str = "admin-7") -> dict[str, Any]:
        """Someone answers in Zalo's own OA chat tool."""
        return self.deliver(self.event("oa_send_text", user_id, {"text": text}, from_oa=True, admin_id=admin_id))

    def deliver(self, event: dict[str, Any], delay: float = 0.0) -> dict[str, Any]:
        with self._lock:
            self._outgoing.append((event, time.monotonic() + delay))
            self._wake.notify_all()
        return event

    def sign(self, raw: bytes, timestamp: str) -> str:
        digest = hashlib.sha256(self.app_id.encode() + raw + timestamp.encode() + self.oa_secret_key.encode())
        return "mac=" + digest.hexdigest()

    # ---- injection and reading ---------------------------------------------------------------------

    def fail_next(self, *codes: int) -> None:
        """The next sends answer these error codes, in order."""
        with self._lock:
            self._errors.extend(codes)

    def expire_access_token(self) -> None:
        with self._lock:
            self.access_token = "access-" + secrets.token_hex(8)  # the gateway's one is now invalid

    def sent_to(self, user_id: str) -> list[SentMessage]:
        with self._lock:
            return [m for m in self.sent if m.user_id == user_id]

    def wait_for(self, condition: Callable[[], bool], timeout: float = 30.0) -> None:
        wait_for(condition, "the fake Zalo to see what the test waited for", timeout, interval=0.05)

    def wait_for_sent(self, user_id: str, count: int = 1, timeout: float = 30.0) -> list[SentMessage]:
        self.wait_for(lambda: len(self.sent_to(user_id)) >= count, timeout)
        return self.sent_to(user_id)

    # ---- the API ---------------------------------------------------------------------------------------

    def _send_cs(self, headers: dict[str, str], body: Any) -> dict[str, Any]:
        with self._lock:
            self.send_calls.append({"access_token": headers.get("access_token"), "body": body})
            if self._errors:
                code = self._errors.pop(0)
                return {"error": code, "message": f"injected error {code}"}
            if headers.get("access_token") != self.access_token:
                return {"error": -216, "message": "Access token is invalid"}
            try:
                user_id = str(body["recipient"]["user_id"])
                text = str(body["message"]["text"])
            except (KeyError, TypeError):
                return {"error": -201, "message": "Parameters are invalid"}
            if not text or len(text) > 2000:
                return {"error": -210, "message": "Parameter exceeds max length"}
            message_id = f"oa{next(self._msg_ids):08d}"
            self.sent.append(SentMessage(message_id, user_id, text, time.time()))
        if self.echo_sent:  # Zalo tells the webhook about every message the OA sends
            self.deliver(self.event("oa_send_text", user_id, {"text": text, "msg_id": message_id}, from_oa=True))
        return {"error": 0, "message": "Success",
                "data": {"message_id": message_id, "user_id": user_id, "sent_time": int(time.time() * 1000),
                         "quota": {"quota_type": "reply", "remain": 7, "total": 8}}}

    def _oauth(self, headers: dict[str, str], form: dict[str, str]) -> dict[str, Any]:
        time.sleep(self.refresh_delay)
        with self._lock:
            self.refresh_calls.append(form)
            if headers.get("secret_key") != self.app_secret or form.get("app_id") != self.app_id:
                return {"error": -14002, "error_name": "Invalid app", "error_description": "app secret"}
            token = form.get("refresh_token", "")
            if form.get("grant_type") != "refresh_token" or (token != self.refresh_token
                                                             and not self.forgiving_refresh):
                return {"error": -14014, "error_name": "Invalid refresh token",
                        "error_description": "refresh token is invalid or used"}
            self._used_refresh_tokens.add(token)
            self.access_token = "access-" + secrets.token_hex(8)  # the old one stops working
            self.refresh_token = "refresh-" + secrets.token_hex(8)
            return {"access_token": self.access_token, "refresh_token": self.refresh_token,
                    "expires_in": "90000"}

    def _deliver_forever(self) -> None:
        with httpx.Client(timeout=5.0, trust_env=False) as http:
            while not self._stop.is_set():
                with self._lock:
                    now = time.monotonic()
                    due = [(e, t) for e, t in self._outgoing if t <= now]
                    if not (self.webhook_url and due):
                        self._wake.wait(timeout=0.1)
                        continue
                    event, _ = due[0]
                    self._outgoing.remove(due[0])
                self._post(http, event)

    def _post(self, http: httpx.Client, event: dict[str, Any]) -> None:
        raw = json.dumps(event, ensure_ascii=False).encode()
        for attempt, delay in enumerate((0.0, *self.retry_delays)):
            if self._stop.wait(delay):
                return
            headers = {"Content-Type": "application/json", "X-ZEvent-Signature": self.sign(raw, event["timestamp"])}
            if attempt:
                headers["num_retry"] = str(attempt)
            try:
                status = http.post(self.webhook_url, content=raw, headers=headers).status_code
            except httpx.TransportError:
                status = 0  # Zalo retries only when it cannot connect
            with self._lock:
                self.deliveries.append((status, attempt))
            if status:
                return

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(QuietJSONHandler):
            def _route(self) -> None:
                url = urlsplit(self.path)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                if url.path == "/v3.0/oa/message/cs":
                    try:
                        body = json.loads(raw or b"null")
                    except ValueError:
                        body = None
                    self._json(200, fake._send_cs(headers, body))
                elif url.path == "/v4/oa/access_token":
                    self._json(200, fake._oauth(headers, dict(parse_qsl(raw.decode("utf-8")))))
                elif url.path == "/":
                    page = PAGE.read_text(encoding="utf-8").replace("{{PLATFORM}}", "zalo")
                    self._send(200, page.encode(), "text/html; charset=utf-8")
                elif url.path == "/_fake/say":
                    data = json.loads(raw or b"{}")
                    user = str(data.get("chat_id") or "2001")
                    if data.get("photo"):
                        fake.user_sends_image(user)
                    else:
                        fake.user_says(user, str(data.get("text") or ""))
                    self._json(200, {"ok": True})
                elif url.path.startswith("/_fake/chat/"):
                    user = url.path.rsplit("/", 1)[1]
                    with fake._lock:
                        lines = [(at, False, t) for u, t, at in fake.user_messages if u == user]
                        lines += [(m.at, True, m.text) for m in fake.sent if m.user_id == user]
                    shown = [{"id": i, "from_bot": b, "text": t, "buttons": []}
                             for i, (_, b, t) in enumerate(sorted(lines, key=lambda x: x[0]))]
                    self._json(200, {"messages": shown})
                else:
                    self._json(404, {"error": -404, "message": "not found"})

        return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument("--webhook", required=True, help="the gateway's /zalo/webhook URL")
    parser.add_argument("--tokens-file", help="write the fake's first token pair here as JSON")
    args = parser.parse_args()
    with FakeZalo(webhook_url=args.webhook, port=args.port) as fake:
        if args.tokens_file:
            Path(args.tokens_file).write_text(json.dumps(fake.env()), encoding="utf-8")
        print(f"Fake Zalo OA platform on {fake.url}", flush=True)
        fake.serve_until_interrupted()


if __name__ == "__main__":
    main()
