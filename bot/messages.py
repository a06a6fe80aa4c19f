"""The gateway's internal message types, shared by every channel adapter.

Adapters translate their channel's updates into `Inbound` and render
`StoredMessage`s back; the core never sees Telegram, Zalo or HTTP objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.models import Sender


@dataclass(frozen=True)
class Button:
    title: str
    payload: str

    def as_dict(self) -> dict[str, str]:
        return {"title": self.title, "payload": self.payload}


@dataclass(frozen=True)
class BotReply:
    """One message the bot wants to send, before it is stored."""

    text: str
    buttons: tuple[Button, ...] = ()


# The one intent a channel may send without the bot having offered it: a
# person opening the conversation (Telegram /start) gets the introduction.
GREETING_PAYLOAD = "/greet"


@dataclass(frozen=True)
class Inbound:
    """What a person sent: free text, the payload of a button the bot offered,
    or only attachments (a photo, a sticker...), which the gateway never reads."""

    channel: str
    external_id: str  # the conversation on its channel
    text: str | None = None
    payload: str | None = None
    # Kinds of what was attached ("photo", "sticker", "voice", "file", ...): metadata only.
    attachments: tuple[str, ...] = ()
    # The channel's id of this message (Telegram update_id, Zalo msg_id) and of the person.
    external_message_id: str | None = None
    user_ref: str | None = None
    # Set by an adapter that translated "open the conversation" (Telegram /start)
    # into GREETING_PAYLOAD; the only payload accepted without having been offered.
    opens_conversation: bool = False

    def __post_init__(self) -> None:
        if self.text is not None and self.payload is not None:
            raise ValueError("an inbound message has either text or a payload")
        if self.text is None and self.payload is None and not self.attachments:
            raise ValueError("an inbound message has text, a payload or attachments")
        if self.opens_conversation and self.payload != GREETING_PAYLOAD:
            raise ValueError("only the greeting opens a conversation")


@dataclass(frozen=True)
class StoredMessage:
    """A message of the transcript, with the id clients use to poll."""

    id: int
    sender: Sender
    text: str
    buttons: tuple[Button, ...] = field(default=())
    created_at: datetime | None = None
