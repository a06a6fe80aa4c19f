"""The one client of the Rasa server. Channel code never talks to Rasa directly.

- `send_message`: the REST channel (`POST /webhooks/rest/webhook`).
- `converse`: the same, also returning custom `handoff` instructions (the
  action server's way of asking the gateway for a counsellor).
- `get_tracker`, `append_events`, `execute_action`, `status`: the HTTP API, protected by the
  token Rasa was started with (`--auth-token`), passed as `?token=`.

Every failure surfaces as `RasaUnavailable` (Rasa down, timed out, answered
nonsense), so callers have one thing to catch and can answer the child kindly.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from typing import Any

import httpx

from bot.messages import BotReply, Button

logger = logging.getLogger(__name__)

# Rasa runs the NLU pipeline and possibly several custom actions per message.
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=3.0)
# Only connection failures are retried: the request never reached Rasa, so a
# retry cannot make the bot answer (or run an action) twice.
CONNECT_RETRIES = 2
RETRY_DELAY_SECONDS = 0.3
# "<channel>:<id of the channel>", e.g. "web:k3V9x_Qm2LrT8wZp", "telegram:-100123".
SAFE_SENDER_ID = re.compile(r"[A-Za-z0-9_.:@-]{1,200}")


class RasaUnavailable(Exception):
    """Rasa could not be reached or gave no usable answer."""


class RasaClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._token = token
        # trust_env=False: never route through a proxy from the environment;
        # Rasa is on loopback and nothing of the product leaves the machine.
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), timeout=timeout, trust_env=False, transport=transport
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> RasaClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def send_message(
        self, sender_id: str, text: str, metadata: dict[str, Any] | None = None
    ) -> list[BotReply]:
        """Hand one user message to Rasa; return the bot's replies in order."""
        return (await self.converse(sender_id, text, metadata)).replies

    async def converse(
        self, sender_id: str, text: str, metadata: dict[str, Any] | None = None
    ) -> RasaTurn:
        """Like `send_message`, also returning the instructions meant for the gateway."""
        body: dict[str, Any] = {"sender": sender_id, "message": text}
        if metadata:
            body["metadata"] = metadata
        data = await self._request("POST", "/webhooks/rest/webhook", json=body)
        if not isinstance(data, list):
            raise RasaUnavailable("Rasa's webhook answered something other than a list")
        return _turn(data)

    async def execute_action(self, sender_id: str, action: str) -> list[BotReply]:
        """Run one action in a conversation (e.g. the check-in after a handoff); its replies."""
        data = await self._request(
            "POST", _tracker_path(sender_id).removesuffix("/tracker") + "/execute",
            json={"name": action}, authenticated=True,
        )
        messages = data.get("messages") if isinstance(data, dict) else None
        return _turn(messages if isinstance(messages, list) else []).replies

    async def get_tracker(self, sender_id: str) -> dict[str, Any]:
        data = await self._request("GET", _tracker_path(sender_id), authenticated=True)
        if not isinstance(data, dict):
            raise RasaUnavailable("Rasa's tracker endpoint answered something other than an object")
        return data

    async def append_events(self, sender_id: str, events: list[dict[str, Any]]) -> dict[str, Any]:
        """Append events (e.g. a `pause`/`resume`) to a conversation's tracker."""
        data = await self._request(
            "POST", _tracker_path(sender_id) + "/events", json=events, authenticated=True
        )
        return data if isinstance(data, dict) else {}

    async def status(self) -> dict[str, Any]:
        """Rasa's `/status`; succeeds only once a model is loaded."""
        data = await self._request("GET", "/status", authenticated=True)
        if not isinstance(data, dict) or not data.get("model_file"):
            raise RasaUnavailable("Rasa has no model loaded")
        return data

    async def is_ready(self) -> bool:
        try:
            await self.status()
        except RasaUnavailable:
            return False
        return True

    async def _request(
        self, method: str, path: str, *, json: Any = None, authenticated: bool = False
    ) -> Any:
        params = {"token": self._token} if authenticated else None
        for attempt in range(CONNECT_RETRIES + 1):
            try:
                response = await self._http.request(method, path, json=json, params=params)
                break
            except (httpx.ConnectError, httpx.ConnectTimeout) as error:
                if attempt == CONNECT_RETRIES:
                    raise RasaUnavailable(f"cannot connect to Rasa: {error!r}") from error
                await asyncio.sleep(RETRY_DELAY_SECONDS * (attempt + 1))
            except httpx.HTTPError as error:
                # Includes read timeouts: Rasa may still be working on the message.
                raise RasaUnavailable(f"Rasa request failed: {error!r}") from error
        if response.status_code >= 400:
            # The body may echo the request; log only the status and path.
            raise RasaUnavailable(f"Rasa answered {response.status_code} to {method} {path}")
        try:
            return response.json()
        except ValueError as error:
            raise RasaUnavailable(f"Rasa answered invalid JSON to {method} {path}") from error


def _tracker_path(sender_id: str) -> str:
    # Rasa (Sanic 21) does not percent-decode path parameters, so the id goes in
    # as it is; only ids that cannot change the path are allowed.
    if not SAFE_SENDER_ID.fullmatch(sender_id):
        raise ValueError(f"unsafe Rasa sender id: {sender_id!r}")
    return f"/conversations/{sender_id}/tracker"


@dataclass(frozen=True)
class RasaTurn:
    replies: list[BotReply]
    # Custom messages addressed to the gateway, never shown to the person:
    # e.g. {"handoff": {"risk": "high", "category": "...", "consent": "given"}}.
    instructions: list[dict[str, Any]] = field(default_factory=list)


INSTRUCTION_KEYS = frozenset({"handoff"})


def _turn(items: list[Any]) -> RasaTurn:
    replies: list[BotReply] = []
    instructions: list[dict[str, Any]] = []
    for item in items:
        custom = item.get("custom") if isinstance(item, dict) else None
        if isinstance(custom, dict) and isinstance(custom.get("handoff"), dict):
            instructions.append({k: v for k, v in custom.items() if k in INSTRUCTION_KEYS})
        elif (reply := _parse_reply(item)) is not None:
            replies.append(reply)
    return RasaTurn(replies, instructions)


def _parse_reply(item: Any) -> BotReply | None:
    """One REST channel message -> BotReply; images and custom payloads are not shown."""
    if not isinstance(item, dict):
        return None
    text = item.get("text") if isinstance(item.get("text"), str) else ""
    buttons = tuple(
        Button(title=str(b.get("title") or b.get("payload")), payload=str(b["payload"]))
        for b in item.get("buttons") or ()
        if isinstance(b, dict) and isinstance(b.get("payload"), str) and b["payload"]
    )
    if not text and not buttons:
        if item.keys() - {"recipient_id"}:
            logger.info("dropping a Rasa message the gateway cannot show: keys %s", sorted(item))
        return None
    return BotReply(text=text, buttons=buttons)
