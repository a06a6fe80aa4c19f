"""A tiny stand-in for the Rasa server: real HTTP on 127.0.0.1, Rasa's wire shapes.

Speaks the REST channel (`POST /webhooks/rest/webhook`) and the parts of the
token-protected HTTP API the gateway uses (`/status`, tracker, events).
Tests set `reply` to script the bot and read `webhook_calls` to see exactly
what reached "Rasa".

For the failover tests (several Rasa servers, one tracker store): with
`record_turns`, a turn is saved into `events` as Rasa saves it (the user event
with its metadata, then the bot events), and two fakes can share one `events`
dict. `failures` scripts how the next webhook calls go wrong, one entry each:
"before" drops the connection without doing anything (a server killed before the
turn was saved), "after" saves the turn then drops the connection (killed after
saving, before answering), "slow:<seconds>" answers late.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from devtools.ports import free_port

Reply = Callable[[str, str], list[dict[str, Any]]]


def default_reply(sender: str, text: str) -> list[dict[str, Any]]:
    if text.lower().startswith("xin chào"):
        return [
            {"recipient_id": sender, "text": "Chào em! Hôm nay em thế nào?"},
            {
                "recipient_id": sender,
                "text": "Em muốn nói chuyện về điều gì?",
                "buttons": [
                    {"title": "Em đang buồn", "payload": "/mental_health"},
                    {"title": "Hỏi về quyền trẻ em", "payload": '/ask_rights{"topic":"rights"}'},
                ],
            },
        ]
    return [{"recipient_id": sender, "text": f"Mình nghe em nói: {text}"}]


class FakeRasa:
    def __init__(self, token: str = "fake-rasa-token") -> None:
        self.token = token
        self.reply: Reply = default_reply
        self.model_loaded = True
        self.webhook_calls: list[dict[str, Any]] = []
        self.events: dict[str, list[dict[str, Any]]] = {}
        self.record_turns = False
        self.failures: list[str] = []
        self.tracker_reads = 0
        # POST /conversations/<id>/execute (the check-in after a handoff): what ran, what it says.
        self.executed: list[tuple[str, str]] = []
        self.execute_reply: Callable[[str, str], list[dict[str, Any]]] = lambda sender, action: [
            {"recipient_id": sender, "text": f"({action})"}
        ]
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        # A short poll interval keeps shutdown (once per test) quick.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeRasa:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def texts_received(self) -> list[str]:
        return [call["message"] for call in self.webhook_calls]

    def save_turn(self, body: dict[str, Any], messages: list[dict[str, Any]]) -> None:
        """The events Rasa saves for one turn, in its wire shape."""
        turn: list[dict[str, Any]] = [
            {"event": "user", "text": body["message"], "metadata": body.get("metadata") or {}}
        ]
        for message in messages:
            data = {key: message.get(key) for key in ("elements", "quick_replies", "buttons", "attachment",
                                                      "image", "custom")}
            turn.append({"event": "action", "name": "utter_something"})
            turn.append({"event": "bot", "text": message.get("text"), "data": data, "metadata": {}})
        turn.append({"event": "action", "name": "action_listen"})
        self.events.setdefault(body["sender"], []).extend(turn)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                url = urlsplit(self.path)
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"null")
                if url.path == "/webhooks/rest/webhook":
                    fake.webhook_calls.append(body)
                    failure = fake.failures.pop(0) if fake.failures else ""
                    if failure == "before":
                        self.close_connection = True
                        return
                    messages = fake.reply(body["sender"], body["message"])
                    if fake.record_turns:
                        fake.save_turn(body, messages)
                    if failure == "after":
                        self.close_connection = True
                        return
                    if failure.startswith("slow:"):
                        time.sleep(float(failure.removeprefix("slow:")))
                        with contextlib.suppress(OSError):  # the client has given up by now
                            self._json(200, messages)
                        return
                    self._json(200, messages)
                elif url.path.endswith("/execute") and self._authorised(url.query):
                    sender = unquote(url.path.split("/")[2])
                    fake.executed.append((sender, body["name"]))
                    self._json(200, {"tracker": {"sender_id": sender},
                                     "messages": fake.execute_reply(sender, body["name"])})
                elif url.path.endswith("/tracker/events") and self._authorised(url.query):
                    sender = unquote(url.path.split("/")[2])
                    fake.events.setdefault(sender, []).extend(body)
                    self._json(200, {"sender_id": sender, "events": fake.events[sender]})
                else:
                    self._json(401 if url.path.endswith("/events") else 404, {"status": "failure"})

            def do_GET(self) -> None:  # noqa: N802
                url = urlsplit(self.path)
                if not self._authorised(url.query):
                    self._json(401, {"status": "failure", "reason": "NotAuthenticated"})
                elif url.path == "/status":
                    if fake.model_loaded:
                        self._json(200, {"model_file": "models/fake.tar.gz", "model_id": "fake"})
                    else:
                        self._json(409, {"status": "failure", "reason": "NoAgent"})
                elif url.path.startswith("/conversations/") and url.path.endswith("/tracker"):
                    sender = unquote(url.path.split("/")[2])
                    fake.tracker_reads += 1
                    self._json(200, {"sender_id": sender, "events": fake.events.get(sender, [])})
                else:
                    self._json(404, {"status": "failure"})

            def _authorised(self, query: str) -> bool:
                return parse_qs(query).get("token") == [fake.token]

            def _json(self, status: int, data: Any) -> None:
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        return Handler


def unused_port() -> int:
    """A loopback port nothing listens on (to play "Rasa is down"), and nothing will while the test runs."""
    return free_port()
