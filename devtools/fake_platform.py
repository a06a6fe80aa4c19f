"""What the fake Telegram and Zalo servers share: a threaded HTTP server on
loopback, a request handler that answers JSON and logs nothing, and a
background thread that delivers to the gateway."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class QuietJSONHandler(BaseHTTPRequestHandler):
    """GET and POST go to `_route`; replies are JSON; nothing is logged."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *_args: Any) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        self._route()

    def do_POST(self) -> None:  # noqa: N802
        self._route()

    def _route(self) -> None:
        raise NotImplementedError

    def _json(self, status: int, body: Any) -> None:
        self._send(status, json.dumps(body, ensure_ascii=False).encode(), "application/json")

    def _send(self, status: int, raw: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


class FakePlatform:
    """Life cycle of a fake: `with Fake(...) as fake:` serves and delivers until the block ends.

    Subclasses set `host`, `port` and `_lock` before calling `_serve(handler)`,
    and implement `_deliver_forever` (checking `_stop`) and `_wake_deliverer`.
    """

    host: str
    port: int

    def _serve(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._stop = threading.Event()
        self._server = ThreadingHTTPServer((self.host, self.port), handler)
        self._server.daemon_threads = True
        self._threads = [
            threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True),
            threading.Thread(target=self._deliver_forever, daemon=True),
        ]

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self):  # type: ignore[no-untyped-def]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._wake_deliverer()
        self._server.shutdown()
        self._server.server_close()

    def serve_until_interrupted(self) -> None:
        """For the command line: serve until Ctrl-C."""
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass

    def _deliver_forever(self) -> None:
        raise NotImplementedError

    def _wake_deliverer(self) -> None:
        raise NotImplementedError
