"""The web chat channel: the JSON API that the chat page (and integrators) use.

    POST /api/webchat/{conversation_id}/messages   {"text": "..."} or {"payload": "..."}
    GET  /api/webchat/{conversation_id}/messages?after=<id>

The browser chooses the conversation id (random, 16-64 URL-safe characters)
and keeps it for the tab; knowing it is what gives access to the
conversation, so it must be unguessable. In Rasa the conversation is
`web:<conversation_id>`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.api_errors import ErrorBody, error_response
from bot.messages import Inbound, StoredMessage
from bot.models import PAYLOAD_MAX_CHARS
from bot.coordination.rate_limits import ChannelLimits
from bot.relay import Relay

CHANNEL = "web"
CONVERSATION_ID_PATTERN = r"^[A-Za-z0-9_-]{16,64}$"
# One poll returns at most this many messages; the client asks again with the last id.
POLL_LIMIT = 100
# Largest id a database integer column holds; larger `after` values are client bugs.
MAX_MESSAGE_ID = 2**63 - 1
# Polling has its own budget (a poll is not a message): the page asks every 4 s, 15 times a
# minute; a conversation may poll 8 times that, one address 10 times more (ChannelLimits).
POLL_BURST = 30
POLL_PER_MINUTE = 120

ConversationId = Annotated[
    str,
    Path(
        pattern=CONVERSATION_ID_PATTERN,
        description="Chosen by the client: 16-64 random characters from A-Z, a-z, 0-9, `_`, `-`.",
        examples=["k3V9x_Qm2LrT8wZp4NcY0aBd"],
    ),
]


class ButtonOut(BaseModel):
    title: str = Field(description="What the button says.")
    payload: str = Field(description="Send this back as `payload` when the button is pressed.")


class MessageOut(BaseModel):
    id: int = Field(description="Grows with every message; use it as `after=` when polling.")
    sender: Literal["bot", "counsellor", "system"] = Field(
        description="`bot`: the assistant; `counsellor`: a person of hotline 111; "
        "`system`: the gateway itself (e.g. when the assistant is unavailable)."
    )
    text: str
    buttons: list[ButtonOut] = Field(default_factory=list)


class MessagesOut(BaseModel):
    messages: list[MessageOut]


class MessageIn(BaseModel):
    """Exactly one of `text` (typed by the person) or `payload` (a button they pressed)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"text": "Xin chào"}, {"payload": "/affirm"}]},
    )

    text: str | None = Field(
        default=None,
        description="Free text. Must not be blank. Over the length limit the reply asks "
        "for shorter messages and nothing is passed to the assistant. A leading `/` is ignored.",
    )
    payload: str | None = Field(
        default=None,
        min_length=1,
        max_length=PAYLOAD_MAX_CHARS,
        description="The `payload` of a button the bot offered in this conversation.",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> MessageIn:
        if (self.text is None) == (self.payload is None):
            raise ValueError("send exactly one of 'text' or 'payload'")
        if self.text is not None and not self.text.strip():
            raise ValueError("'text' must not be blank")
        return self


router = APIRouter(prefix="/api/webchat", tags=["web chat"])

ERRORS = {
    400: {"model": ErrorBody, "description": "Invalid JSON, or a payload the bot did not offer."},
    413: {"model": ErrorBody, "description": "Request body too large."},
    422: {"model": ErrorBody, "description": "Invalid conversation id or request fields."},
    429: {"model": ErrorBody, "description": "Too many messages or polls: wait `Retry-After` seconds."},
}


@router.post(
    "/{conversation_id}/messages",
    response_model=MessagesOut,
    responses=ERRORS,  # type: ignore[arg-type]
    summary="Send a message",
    description=(
        "Stores the message and returns the assistant's replies to it, in order. "
        "If the assistant is unavailable the reply is a `system` message pointing to "
        "hotline 111 (status 200, so every client shows it)."
    ),
)
async def post_message(
    conversation_id: ConversationId, body: MessageIn, request: Request
) -> MessagesOut | JSONResponse:
    limited = _rate_limited(_send_limits(request), request, conversation_id,
                            "Too many messages; wait a little before sending more.")
    if limited is not None:
        return limited
    inbound = Inbound(channel=CHANNEL, external_id=conversation_id, text=body.text, payload=body.payload)
    return _render(await _relay(request).handle(inbound))


@router.get(
    "/{conversation_id}/messages",
    response_model=MessagesOut,
    responses=ERRORS,  # type: ignore[arg-type]
    summary="Poll for new messages",
    description=(
        f"Messages from the bot, a counsellor or the system with id > `after`, oldest first, "
        f"at most {POLL_LIMIT}. The person's own messages are not included. An unknown "
        "conversation has no messages. Polling faster than "
        f"{POLL_PER_MINUTE} times a minute (bursts of {POLL_BURST}) gets 429 with `Retry-After`."
    ),
)
async def get_messages(
    conversation_id: ConversationId,
    request: Request,
    after: Annotated[int, Query(ge=0, le=MAX_MESSAGE_ID, description="Last id already shown.")] = 0,
) -> MessagesOut | JSONResponse:
    limited = _rate_limited(_poll_limits(request), request, conversation_id,
                            "Too many requests; wait a little before asking again.")
    if limited is not None:
        return limited
    return _render(await _relay(request).speaker.replies_after(CHANNEL, conversation_id, after, POLL_LIMIT))


def _send_limits(request: Request) -> ChannelLimits | None:
    """The channels' per-person limits (bot/coordination/rate_limits.py); None = rate limiting is off."""
    return getattr(request.app.state, "rate_limits", None)


def _poll_limits(request: Request) -> ChannelLimits | None:
    """The polling limits: `app.state.poll_limits` if the app set them (e.g. shared through
    Redis), else in-process ones made on first use. Off when rate limiting is off."""
    state = request.app.state
    if _send_limits(request) is None:
        return None
    limits: ChannelLimits | None = getattr(state, "poll_limits", None)
    if limits is None:
        limits = state.poll_limits = ChannelLimits(POLL_BURST, POLL_PER_MINUTE)
    return limits


def _rate_limited(limits: ChannelLimits | None, request: Request, conversation_id: str,
                  message: str) -> JSONResponse | None:
    """429 when this conversation (or this client address) goes faster than `limits` allow."""
    if limits is None:
        return None
    wait = limits.per_person.retry_after(f"{CHANNEL}:{conversation_id}")
    if not wait and request.client is not None:
        wait = limits.per_address.retry_after(request.client.host)
    if not wait:
        return None
    response = error_response(429, "rate_limited", message)
    response.headers["Retry-After"] = str(wait)
    return response


def _relay(request: Request) -> Relay:
    return request.app.state.relay  # type: ignore[no-any-return]


def _render(messages: list[StoredMessage]) -> MessagesOut:
    return MessagesOut(
        messages=[
            MessageOut(
                id=m.id,
                sender=m.sender.value,  # type: ignore[arg-type]
                text=m.text,
                buttons=[ButtonOut(title=b.title, payload=b.payload) for b in m.buttons],
            )
            for m in messages
        ]
    )
