"""What is left of a case after its retention period: an anonymous count."""

from __future__ import annotations

from sqlalchemy import Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.models import CHANNEL_MAX_CHARS, Base


class CaseCount(Base):
    """How many cases of one kind were opened in one month. No ids, no dates finer than a month."""

    __tablename__ = "case_counts"
    __table_args__ = (
        UniqueConstraint("month", "channel", "risk", "category", "consent", "status", "outcome"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[str] = mapped_column(String(7))  # "2026-11", of the case's creation
    channel: Mapped[str] = mapped_column(String(CHANNEL_MAX_CHARS))
    risk: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(64))
    consent: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))  # closed | declined
    outcome: Mapped[str] = mapped_column(String(32))  # "" when none was recorded
    count: Mapped[int] = mapped_column(Integer, default=0)
