"""The child's feedback after a counsellor closes a case: one optional question, three choices.

    "Cuộc trò chuyện hôm nay có giúp được em không?"   Có / Bình thường / Chưa

Asked (bot/handoff.py) when a counsellor closes a case they talked in, except after an
emergency referral. The choices are buttons on the web and Telegram and numbered choices on
Zalo: the channels render any message's buttons that way. A press comes back to the relay as
the payload of a button offered in this conversation; it never reaches Rasa.

Stored without identifiers: an answer (`child_feedback`) holds the day, the channel, the
counsellor (for supervisors' per-counsellor view) and the choice; no case, conversation or
person. The link between the question and the conversation is a one-use random token
(`feedback_prompts`), deleted when answered. A child who answers may add a short comment: the
next message within COMMENT_MINUTES is copied into the answer, identifiers redacted
(common.redaction) and encrypted with the case keys, and goes on to the bot as usual (a
comment may be a new disclosure: the safety path is never skipped). Until then the answer row
remembers the conversation's id; it is cleared when the comment arrives or the time is up.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta

from sqlalchemy import Date, DateTime, Index, Integer, String, Text, delete, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.cases.crypto import Keyring
from bot.cases.hours import VIETNAM
from bot.messages import BotReply, Button
from bot.models import CHANNEL_MAX_CHARS, Base, Conversation, as_utc, utc_now
from common.redaction import redact

QUESTION = "Cuộc trò chuyện hôm nay có giúp được em không?"
ANSWERS: dict[str, str] = {"yes": "Có", "neutral": "Bình thường", "no": "Chưa"}
THANKS = (
    "Cảm ơn em đã trả lời. Nếu muốn, em có thể nhắn thêm vài chữ góp ý ngay sau đây. "
    "Khi nào cần, em cứ nhắn cho Mây hoặc gọi 111 (miễn phí, 24/7)."
)
ALREADY_ANSWERED = "Mây đã nhận câu trả lời của em rồi. Cảm ơn em nhé!"
PREFIX = "feedback:"
COMMENT_MINUTES = 10
COMMENT_MAX_CHARS = 500
PROMPT_DAYS = 7  # an unanswered question's token is dropped after this long
# Outcomes after which the child is not asked (bot/cases/wording.OUTCOMES).
NOT_ASKED_AFTER = frozenset({"emergency"})


class FeedbackPrompt(Base):
    """A question asked and not yet answered: the token its buttons carry."""

    __tablename__ = "feedback_prompts"

    token: Mapped[str] = mapped_column(String(32), primary_key=True)
    counsellor_id: Mapped[int | None] = mapped_column(Integer, default=None)  # no FK: outlives accounts
    channel: Mapped[str] = mapped_column(String(CHANNEL_MAX_CHARS))
    asked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class ChildFeedback(Base):
    """One child's answer. No case, conversation or person: the day, the channel, the counsellor."""

    __tablename__ = "child_feedback"
    __table_args__ = (
        Index("ix_child_feedback_answered_on", "answered_on"),
        Index("ix_child_feedback_comment_from", "comment_from"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    answered_on: Mapped[date] = mapped_column(Date)  # the day, in Viet Nam
    channel: Mapped[str] = mapped_column(String(CHANNEL_MAX_CHARS))
    counsellor_id: Mapped[int | None] = mapped_column(Integer, default=None)
    answer: Mapped[str] = mapped_column(String(16))  # yes | neutral | no
    comment: Mapped[str | None] = mapped_column(Text, default=None)  # Fernet token, identifiers redacted
    # Only while a comment may still come (COMMENT_MINUTES): the conversation it would come from.
    comment_from: Mapped[int | None] = mapped_column(Integer, default=None)
    comment_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


def should_ask(outcome: str) -> bool:
    return outcome not in NOT_ASKED_AFTER


def question(session: Session, counsellor_id: int | None, channel: str, now: datetime | None = None) -> BotReply:
    """The question with its three choices; remembers its token until answered."""
    now = now or utc_now()
    session.execute(delete(FeedbackPrompt).where(FeedbackPrompt.asked_at < now - timedelta(days=PROMPT_DAYS)))
    token = secrets.token_urlsafe(12)
    session.add(FeedbackPrompt(token=token, counsellor_id=counsellor_id, channel=channel, asked_at=now))
    return BotReply(QUESTION, tuple(Button(title, f"{PREFIX}{token}:{key}") for key, title in ANSWERS.items()))


def is_answer(payload: str | None) -> bool:
    return bool(payload) and str(payload).startswith(PREFIX)


def record_answer(session: Session, payload: str, conversation_id: int, now: datetime | None = None) -> str:
    """Store the answer a pressed button carries; what to say to the child."""
    now = now or utc_now()
    token, _, answer = payload.removeprefix(PREFIX).partition(":")
    prompt = session.get(FeedbackPrompt, token)
    if prompt is None or answer not in ANSWERS:
        return ALREADY_ANSWERED
    _forget_expired_links(session, now)
    session.add(ChildFeedback(answered_on=as_utc(now).astimezone(VIETNAM).date(), channel=prompt.channel,
                              counsellor_id=prompt.counsellor_id, answer=answer, comment_from=conversation_id,
                              comment_until=now + timedelta(minutes=COMMENT_MINUTES)))
    session.delete(prompt)
    return THANKS


def take_comment(session: Session, conversation: Conversation, text: str, keyring: Keyring,
                 now: datetime | None = None) -> bool:
    """If this conversation's child has just answered, keep `text` as their comment (once)."""
    now = now or utc_now()
    row = session.scalars(
        select(ChildFeedback).where(ChildFeedback.comment_from == conversation.id).order_by(ChildFeedback.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return False
    answered_at = as_utc(row.comment_until) - timedelta(minutes=COMMENT_MINUTES) if row.comment_until else None
    # A conversation begun after the answer is another one that got the same id (SQLite may
    # reuse the id of a conversation deleted by "forget me" in between): never its words.
    if answered_at is None or as_utc(row.comment_until) < now or as_utc(conversation.created_at) > answered_at:
        row.comment_from, row.comment_until = None, None
        return False
    comment = redact(" ".join(text.split()))[:COMMENT_MAX_CHARS]
    row.comment = keyring.encrypt(comment) if comment else None
    row.comment_from, row.comment_until = None, None
    return True


def _forget_expired_links(session: Session, now: datetime) -> None:
    session.execute(update(ChildFeedback).where(ChildFeedback.comment_until < now)
                    .values(comment_from=None, comment_until=None))


def forget_expired_links(session: Session, now: datetime | None = None) -> None:
    """Clear every answer's link to a conversation whose comment time is up (reports call it)."""
    _forget_expired_links(session, now or utc_now())


def purge_comments(session: Session, answered_before: date) -> int:
    """Clear the comments of answers given before `answered_before` (the retention job, with
    RETENTION_CASE_DAYS): the counts stay, the child's words go. Returns how many."""
    result = session.execute(update(ChildFeedback).where(ChildFeedback.comment.is_not(None),
                                                          ChildFeedback.answered_on < answered_before)
                             .values(comment=None))
    return int(getattr(result, "rowcount", 0) or 0)
