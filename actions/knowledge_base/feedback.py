"""Stores "was this helpful?" answers against cards, and sums them up for staff."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import case, func, select

from actions.knowledge_base.database import KnowledgeBaseDatabase
from actions.knowledge_base.models import Feedback


@dataclass(frozen=True)
class FeedbackSummary:
    card_id: str
    helpful: int
    not_helpful: int


def record_feedback(database: KnowledgeBaseDatabase, card_id: str, helpful: bool, audience: str | None) -> None:
    with database.session() as session:
        session.add(Feedback(card_id=card_id, helpful=helpful, audience=audience,
                             created_at=dt.datetime.now(dt.timezone.utc)))


def feedback_summary(database: KnowledgeBaseDatabase) -> list[FeedbackSummary]:
    """Per card, least helpful first: what to rewrite next."""
    not_helpful = func.sum(case((Feedback.helpful.is_(False), 1), else_=0))
    helpful = func.sum(case((Feedback.helpful.is_(True), 1), else_=0))
    with database.session() as session:
        rows = session.execute(
            select(Feedback.card_id, helpful, not_helpful).group_by(Feedback.card_id)
            .order_by(not_helpful.desc(), Feedback.card_id)
        ).all()
    return [FeedbackSummary(card_id, int(yes or 0), int(no or 0)) for card_id, yes, no in rows]
