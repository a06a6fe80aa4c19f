"""How many questions the knowledge base answered, and how: one count per day, kind of reply and register.

    count_answer(database, kind, audience)        # the action, after each reply
    answer_counts(session, since, until)          # kind -> count, for the reports page

Kinds are `KnowledgeBase.respond`'s: `answer` (a card), `clarify` (choices between cards),
`topics` (the list of topics: nothing was close enough), `ask_audience` (who is asking, first).
Counts only: nothing of the question, nobody's id, no time finer than the day.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from actions.knowledge_base.database import KnowledgeBaseDatabase
from actions.knowledge_base.models import AnswerCount

KINDS = ("answer", "clarify", "topics", "ask_audience")
VIETNAM = dt.timezone(dt.timedelta(hours=7))  # the day is the service's day, as on the reports page


def count_answer(database: KnowledgeBaseDatabase, kind: str, audience: str | None,
                 day: dt.date | None = None) -> None:
    """Add one to the day's count (two action servers at once: the second insert retries as an update)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind of reply: {kind!r}")
    day = day or dt.datetime.now(VIETNAM).date()
    key = (AnswerCount.day == day, AnswerCount.kind == kind, AnswerCount.audience == (audience or ""))
    for _attempt in range(3):
        try:
            with database.session() as session:
                added = session.execute(update(AnswerCount).where(*key).values(count=AnswerCount.count + 1))
                if added.rowcount == 0:  # type: ignore[attr-defined]
                    session.add(AnswerCount(day=day, kind=kind, audience=audience or "", count=1))
            return
        except IntegrityError:
            continue  # another process inserted the day's row first: update it
    raise RuntimeError("could not count an answer")


def answer_counts(session: Session, since: dt.date, until: dt.date) -> dict[str, int]:
    """kind -> how many, for the days from `since` up to (not including) `until`."""
    rows = session.execute(
        select(AnswerCount.kind, func.sum(AnswerCount.count))
        .where(AnswerCount.day >= since, AnswerCount.day < until).group_by(AnswerCount.kind)).all()
    found = {kind: int(total or 0) for kind, total in rows}
    return {kind: found.get(kind, 0) for kind in KINDS}
