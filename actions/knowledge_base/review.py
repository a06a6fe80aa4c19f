"""Which cards a reviewer should look at again, and why."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from actions.knowledge_base.content import Card, Content

REVIEW_EVERY_DAYS = 365


@dataclass(frozen=True)
class DueCard:
    card: Card
    reasons: tuple[str, ...]


def due_for_review(content: Content, today: dt.date, max_age_days: int = REVIEW_EVERY_DAYS) -> list[DueCard]:
    """Cards reviewed more than `max_age_days` ago, or citing a text that was amended or replaced."""
    documents = {d.number: d for d in content.documents}
    due = []
    for card in content.cards:
        reasons = []
        if card.reviewed_on is None:
            reasons.append("never reviewed")
        elif (today - card.reviewed_on).days > max_age_days:
            reasons.append(f"last reviewed {card.reviewed_on.isoformat()} ({(today - card.reviewed_on).days} days ago)")
        for number in dict.fromkeys(c.document for c in card.citations):
            document = documents.get(number)
            if document is None:
                continue
            if document.status == "amended":
                reasons.append(f"cites {number}, amended by {', '.join(document.amended_by) or '?'}")
            elif document.status == "replaced":
                reasons.append(f"cites {number}, replaced by {document.replaced_by or '?'}")
        if reasons:
            due.append(DueCard(card, tuple(reasons)))
    return due
