"""The one client of the Rasa servers. Channel code never talks to Rasa directly.

- `send_message`: the REST channel (`POST /webhooks/rest/webhook`).
- `converse`: the same, also returning custom `handoff` instructions (the
  action server's way of asking the gateway for a counsellor).
- `get_tracker`, `append_events`, `execute_action`, `status`: the HTTP API, protected by the
  token Rasa was started with (`--auth-token`), passed as `?token=`.

Several Rasa servers (RASA_URLS) share one tracker store and one lock store, so
any of them can take any turn (bot/rasa_servers.py chooses). A request that never
reached a server (connection refused) goes to the next one. A turn that failed
after it was sent (the server was killed mid-turn, or timed out) is neither lost
nor doubled: every message carries an id of the gateway's own in its metadata,
and Rasa saves a turn's events all at once at its end (`MessageProcessor.handle_message`
under `lock_store.lock`), so the tracker either holds the message with all its
replies or nothing of it. We read the tracker from another server: found, the
replies are rebuilt from the events after it; not found, the message is sent again.

Every failure surfaces as `RasaUnavailable` (Rasa down, timed out, answered
nonsense), so callers have one thing to catch and can answer the child kindly.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from bot.messages import BotReply, Button
from bot.rasa_servers import FAILED_PAUSE_SECONDS, RasaServers
from common.dialogue import HANDOFF_KEY, is_handoff_instruction

logger = logging.getLogger(__name__)

# Rasa runs the NLU pipeline and possibly several custom actions per message.
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=3.0)
# Sending a turn again after a server died with it: the other server may first wait
# for the dead one's ticket in the lock store to expire (Rasa's TICKET_LOCK_LIFETIME).
RECOVERY_TIMEOUT = httpx.Timeout(90.0, connect=3.0)
# Only connection failures are retried blindly: the request never reached Rasa,
# so a retry cannot make the bot answer (or run an action) twice.
CONNECT_RETRIES = 2
RETRY_DELAY_SECONDS = 0.3
# After a read timeout: Sanic cancels the turn when we hang up (Rasa logs
# rest.message.received.timeout), so it is either saved already or never will be, except
# for a save under way at that moment: how long to look for it before sending it again.
TIMEOUT_SETTLE_SECONDS = 5.0
TRACKER_POLL_SECONDS = 0.5
# Idle connections to Rasa are closed after this long (Sanic closes them after 5 s).
KEEPALIVE_SECONDS = 2.0
# The key of the gateway's own id of a message, in the user event's metadata.
MESSAGE_ID_KEY = "gateway_message_id"
WEBHOOK_PATH = "/webhooks/rest/webhook"
# "<channel>:<id of the channel>", e.g. "web:k3V9x_Qm2LrT8wZp", "telegram:-100123".
SAFE_SENDER_ID = re.compile(r"[A-Za-z0-9_.:@-]{1,200}")


class RasaUnavailable(Exception):
    """Rasa could not be reached or gave no usable answer."""


class TurnInDoubt(RasaUnavailable):
    """The request reached a server, which gave no answer: it may or may not have acted on it."""

    def __init__(self, message: str, url: str, timed_out: bool) -> None:
        super().__init__(message)
        self.url = url
        self.timed_out = timed_out


class RasaClient:
    def __init__(
        self,
        base_urls: str | Sequence[str],
        token: str,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        recovery_timeout: httpx.Timeout = RECOVERY_TIMEOUT,
        settle_seconds: float = TIMEOUT_SETTLE_SECONDS,
        failed_pause_seconds: float = FAILED_PAUSE_SECONDS,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._token = token
        self.servers = RasaServers([base_urls] if isinstance(base_urls, str) else base_urls,
                                   failed_pause_seconds)
        self._recovery_timeout = recovery_timeout
        self._settle_seconds = settle_seconds
        # trust_env=False: never route through a proxy from the environment;
        # Rasa is on loopback and nothing of the product leaves the machine.
        # keepalive_expiry below Sanic's 5 s keep-alive timeout: an idle connection is dropped
        # here before Rasa closes it, so a turn is never written into a connection being closed
        # (a ReadError that would cost a tracker check and a resend).
        self._http = httpx.AsyncClient(timeout=timeout, trust_env=False, transport=transport,
                                       limits=httpx.Limits(keepalive_expiry=KEEPALIVE_SECONDS))

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
        message_id = uuid.uuid4().hex
        body: dict[str, Any] = {
            "sender": sender_id, "message": text, "metadata": {**(metadata or {}), MESSAGE_ID_KEY: message_id},
        }
        try:
            data = await self._request("POST", WEBHOOK_PATH, json=body)
        except TurnInDoubt as doubt:
            logger.warning("a Rasa server failed mid-turn (%s); checking the tracker", doubt)
            return await self._recover(sender_id, body, message_id, doubt)
        return _webhook_turn(data)

    async def _recover(self, sender_id: str, body: dict[str, Any], message_id: str,
                       doubt: TurnInDoubt) -> RasaTurn:
        """After a failure mid-turn: the turn from the tracker if it happened, else send it again."""
        found = await self._turn_in_tracker(sender_id, message_id, doubt.timed_out)
        if found is not None:
            logger.info("the turn was saved before the failure: replies rebuilt from the tracker")
            return found
        try:
            data = await self._request("POST", WEBHOOK_PATH, json=body, timeout=self._recovery_timeout)
        except TurnInDoubt as again:
            found = await self._turn_in_tracker(sender_id, message_id, again.timed_out)
            if found is not None:
                return found
            raise RasaUnavailable(f"Rasa failed twice on one message: {again}") from again
        logger.info("the turn was not saved before the failure: sent again")
        return _webhook_turn(data)

    async def _turn_in_tracker(self, sender_id: str, message_id: str, wait_for_it: bool) -> RasaTurn | None:
        """The turn of `message_id` as the tracker saved it, or None if it was never saved.

        `wait_for_it` (a timeout, not a dead server): the slow server may still save
        it, so look again for a few seconds before concluding it never happened.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self._settle_seconds if wait_for_it else 0.0)
        while True:
            found = turn_from_events((await self.get_tracker(sender_id)).get("events") or [], message_id)
            if found is not None or loop.time() >= deadline:
                return found
            await asyncio.sleep(TRACKER_POLL_SECONDS)

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
        """`/status` of the first server with a model loaded (each server is asked in turn)."""
        problems = []
        for url in self.servers.order():
            try:
                data = await self._send(url, "GET", "/status", json=None, authenticated=True, timeout=None)
            except RasaUnavailable as error:
                problems.append(str(error))
                continue
            if isinstance(data, dict) and data.get("model_file"):
                return data
            problems.append(f"{url} has no model loaded")
        raise RasaUnavailable("no Rasa server is ready: " + "; ".join(problems))

    async def is_ready(self) -> bool:
        try:
            await self.status()
        except RasaUnavailable:
            return False
        return True

    async def _request(
        self, method: str, path: str, *, json: Any = None, authenticated: bool = False,
        timeout: httpx.Timeout | None = None,
    ) -> Any:
        """Send to the best server; on a connection failure (never reached it) to the next.

        Raises TurnInDoubt when a server got the request but gave no answer: whether
        to send it again is the caller's decision (only `converse` knows how to check).
        """
        urls = self.servers.order()
        attempts = max(len(urls), CONNECT_RETRIES + 1)
        for attempt in range(attempts):
            url = urls[attempt % len(urls)]
            if attempt and attempt % len(urls) == 0:  # every server refused: give them a moment
                await asyncio.sleep(RETRY_DELAY_SECONDS * (attempt // len(urls)))
            try:
                return await self._send(url, method, path, json=json, authenticated=authenticated,
                                        timeout=timeout)
            except _NotReached as error:
                if attempt == attempts - 1:
                    raise RasaUnavailable(f"cannot connect to Rasa: {error}") from error
        raise AssertionError("unreachable")

    async def _send(self, url: str, method: str, path: str, *, json: Any, authenticated: bool,
                    timeout: httpx.Timeout | None) -> Any:
        params = {"token": self._token} if authenticated else None
        extra = {"timeout": timeout} if timeout is not None else {}
        try:
            response = await self._http.request(method, url + path, json=json, params=params, **extra)
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            self.servers.failed(url)
            raise _NotReached(f"{url}: {error!r}") from error
        except httpx.TimeoutException as error:
            # Rasa may still be working on the message.
            self.servers.failed(url)
            raise TurnInDoubt(f"Rasa request failed: {error!r}", url, timed_out=True) from error
        except httpx.HTTPError as error:
            # The connection broke after the request went out (e.g. the server was killed).
            self.servers.failed(url)
            raise TurnInDoubt(f"Rasa request failed: {error!r}", url, timed_out=False) from error
        self.servers.succeeded(url)
        if response.status_code >= 400:
            # The body may echo the request; log only the status and path.
            raise RasaUnavailable(f"Rasa answered {response.status_code} to {method} {path}")
        try:
            return response.json()
        except ValueError as error:
            raise RasaUnavailable(f"Rasa answered invalid JSON to {method} {path}") from error


class _NotReached(RasaUnavailable):
    """A connection could not be made: the request never reached that server."""


def _tracker_path(sender_id: str) -> str:
    # Rasa (Sanic 21) does not percent-decode path parameters, so the id goes in
    # as it is; only ids that cannot change the path are allowed.
    if not SAFE_SENDER_ID.fullmatch(sender_id):
        raise ValueError(f"unsafe Rasa sender id: {sender_id!r}")
    return f"/conversations/{sender_id}/tracker"


@dataclass(frozen=True)
class RasaTurn:
    replies: list[BotReply]
    # Custom messages addressed to the gateway, never shown to the person: the
    # handoff instruction of the dialogue contract (common/dialogue.py).
    instructions: list[dict[str, Any]] = field(default_factory=list)


INSTRUCTION_KEYS = frozenset({HANDOFF_KEY})
# What of a `bot` event's data the REST channel puts into a message.
REST_MESSAGE_KEYS = ("buttons", "custom", "image", "attachment", "elements", "quick_replies")


def _webhook_turn(data: Any) -> RasaTurn:
    if not isinstance(data, list):
        raise RasaUnavailable("Rasa's webhook answered something other than a list")
    return _turn(data)


def turn_from_events(events: list[Any], message_id: str) -> RasaTurn | None:
    """The turn of the user message carrying `message_id`, rebuilt from tracker events.

    The replies are the `bot` events after that user event, up to the next user
    event: what the REST channel answered (handoff payloads included). None if
    the tracker has no such user event (the turn never completed).
    """
    start = next((i for i, event in enumerate(events)
                  if isinstance(event, dict) and event.get("event") == "user"
                  and isinstance(event.get("metadata"), dict)
                  and event["metadata"].get(MESSAGE_ID_KEY) == message_id), None)
    if start is None:
        return None
    items: list[dict[str, Any]] = []
    for event in events[start + 1:]:
        if not isinstance(event, dict):
            continue
        if event.get("event") == "user":
            break
        if event.get("event") == "bot":
            data = event.get("data") if isinstance(event.get("data"), dict) else {}
            item: dict[str, Any] = {"text": event["text"]} if event.get("text") else {}
            item.update({key: data[key] for key in REST_MESSAGE_KEYS if data.get(key)})
            items.append(item)
    return _turn(items)


def _turn(items: list[Any]) -> RasaTurn:
    replies: list[BotReply] = []
    instructions: list[dict[str, Any]] = []
    for item in items:
        custom = item.get("custom") if isinstance(item, dict) else None
        if is_handoff_instruction(custom):
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
