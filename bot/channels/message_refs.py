"""Which platform message ids belong to a chat, so a quick exit can delete them.

Telegram lets a bot delete its own messages and the messages a person sent it
in a private chat for 48 hours; older references are useless and purged.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.models import MessageRef, utc_now

DELETABLE_FOR = timedelta(hours=48)



def remember(session: Session, channel: str, external_id: str, platform_message_id: str,
             at: datetime | None = None) -> None:
    session.add(MessageRef(channel=channel, external_id=external_id,
                           platform_message_id=platform_message_id, created_at=at or utc_now()))


def deletable(session: Session, channel: str, external_id: str, now: datetime | None = None) -> list[MessageRef]:
    """Newest first: if deleting is cut short, the most recent lines are gone."""
    cutoff = (now or utc_now()) - DELETABLE_FOR
    return list(session.scalars(
        select(MessageRef).where(MessageRef.channel == channel, MessageRef.external_id == external_id,
                                 MessageRef.created_at > cutoff)
        .order_by(MessageRef.id.desc())
    ).all())


def forget(session: Session, ref_ids: list[int]) -> None:
    if ref_ids:
        session.execute(delete(MessageRef).where(MessageRef.id.in_(ref_ids)))


def purge_old(session: Session, now: datetime | None = None) -> None:
    session.execute(delete(MessageRef).where(MessageRef.created_at <= (now or utc_now()) - DELETABLE_FOR))
