"""Questions nobody answered: what the bot could not answer confidently, kept for editors.

    record_unanswered(database, text, audience, closest_card, confidence, retention_days)  # the action
    group_unanswered(session, now, retention_days)                                          # the console

What is kept: the question with names, phone numbers, e-mails, ID numbers and addresses
replaced (`redact`: common/redaction.py, plus capitalised words inside a sentence, which in
a child's message are mostly names: "cô Hằng", "mình là Lan"), the register it was asked in,
the card it came closest to and that card's score. No sender, no conversation, no time finer
than the day it was asked matters to anyone, so nothing else. Kept RETENTION_CONVERSATION_DAYS
like the conversations it came from: each write and each reading deletes what is older, and
so does a schedule in the action server (`start_purge_schedule`, every RETENTION_CHECK_SECONDS),
whether or not anyone writes or reads.

Limits, said plainly: a name written in lower case without accents ("co hang") or as the
first word of a sentence is not recognised as a name; editors read these questions in the
console only, and the page says so.

Grouping: questions whose words mostly agree (cosine of canonical syllables and syllable
pairs, `SIMILAR`) form one group, so ten phrasings of one missing answer read as one line.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
import threading
from collections.abc import Callable
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from actions.knowledge_base.database import KnowledgeBaseDatabase
from actions.knowledge_base.models import UnansweredQuestion
from actions.knowledge_base.text import canonical
from common.redaction import PLACEHOLDER, redact

logger = logging.getLogger(__name__)
TEXT_MAX_CHARS = 500
SIMILAR = 0.5
NAME = PLACEHOLDER["name"]
# Capitalised inside a sentence without being a name: the law's and the institutions' words.
_NOT_NAMES = {
    "Luật", "Bộ", "Điều", "Khoản", "Nghị", "Định", "Thông", "Tư", "Quyết", "Hiến", "Pháp", "Việt", "Nam",
    "Tổng", "Đài", "Công", "Ủy", "Uỷ", "Ban", "Nhân", "Dân", "Nhà", "Nước", "Trường", "Sở", "Phòng",
    "Tòa", "Toà", "Án", "Viện", "Kiểm", "Sát", "Mây", "Zalo", "Facebook", "TikTok", "Messenger", "Google",
    "YouTube", "Instagram", "Hội", "Liên", "Hiệp", "Phụ", "Nữ", "Đoàn", "Thanh", "Niên", "Đội", "Hình", "Sự",
    # Words of the laws' names: "Luật Trẻ em", "Luật Phòng, chống bạo lực gia đình", "Bộ luật Lao động".
    "Trẻ", "Em", "Gia", "Đình", "Lao", "Động", "Giáo", "Dục", "Xã", "Bảo", "Vệ", "Chăm", "Sóc", "Hôn", "Nhân",
    "Dữ", "Liệu", "Cá", "Ninh", "Mạng", "Chống", "Bạo", "Lực", "Xử", "Lý", "Vi", "Phạm", "Hành", "Chính",
}
_WORD = re.compile(r"(?<![\w\[])[^\W\d_]\w*", re.UNICODE)  # a word; only capitalised ones are looked at
_SENTENCE_START = re.compile(r"(?:^|[.!?…:\n]\s*)$")


def redact_question(text: str) -> str:
    """The question with what may identify someone replaced, as kept for editors."""
    text = redact(" ".join((text or "").split()))[:TEXT_MAX_CHARS]

    def name(match: re.Match[str]) -> str:
        word = match.group(0)
        if not word[0].isupper() or word in _NOT_NAMES or word.isupper() or _SENTENCE_START.search(text[: match.start()]):
            return word
        return NAME

    redacted = _WORD.sub(name, text)
    return re.sub(rf"(?:{re.escape(NAME)}\s+)+{re.escape(NAME)}", NAME, redacted)  # "Nguyễn Văn A" is one name


def record_unanswered(database: KnowledgeBaseDatabase, text: str, audience: str | None, closest_card: str | None,
                      confidence: float, retention_days: int, now: dt.datetime | None = None) -> None:
    now = now or dt.datetime.now(dt.timezone.utc)
    kept = redact_question(text)
    if not kept.strip():
        return
    with database.session() as session:
        purge_unanswered(session, now, retention_days)
        session.add(UnansweredQuestion(text=kept, audience=audience, closest_card=closest_card,
                                       confidence=round(float(confidence), 3), created_at=now))


def purge_unanswered(session: Session, now: dt.datetime, retention_days: int) -> int:
    """Delete what is older than the retention period; how many rows went."""
    cutoff = now - dt.timedelta(days=retention_days)
    return session.execute(delete(UnansweredQuestion).where(UnansweredQuestion.created_at < cutoff)).rowcount or 0


@dataclass
class PurgeSchedule:
    thread: threading.Thread
    stopping: threading.Event

    def stop(self, timeout: float | None = 10.0) -> None:
        self.stopping.set()
        self.thread.join(timeout)


def start_purge_schedule(database: Callable[[], KnowledgeBaseDatabase], retention_days: Callable[[], int],
                         every_seconds: float) -> PurgeSchedule:
    """Delete what is past retention now and every `every_seconds`, in a daemon thread."""
    stopping = threading.Event()

    def loop() -> None:
        while not stopping.is_set():
            try:
                with database().session() as session:
                    gone = purge_unanswered(session, dt.datetime.now(dt.timezone.utc), retention_days())
                if gone:
                    logger.info("deleted %d unanswered questions past retention", gone)
            except Exception:  # noqa: BLE001 - tried again at the next turn of the schedule
                logger.exception("could not delete unanswered questions past retention")
            stopping.wait(every_seconds)

    thread = threading.Thread(target=loop, name="kb-unanswered-retention", daemon=True)
    thread.start()
    return PurgeSchedule(thread, stopping)


@dataclass
class QuestionGroup:
    questions: list[str] = field(default_factory=list)  # distinct texts, newest first
    count: int = 0
    closest_cards: Counter[str] = field(default_factory=Counter)
    audiences: Counter[str] = field(default_factory=Counter)
    last_asked: dt.datetime | None = None
    _vector: Counter[str] = field(default_factory=Counter, repr=False)

    @property
    def closest_card(self) -> str | None:
        return self.closest_cards.most_common(1)[0][0] if self.closest_cards else None


def group_unanswered(session: Session, now: dt.datetime, retention_days: int) -> list[QuestionGroup]:
    """Groups of similar questions, the largest first (deleting what is past retention first)."""
    purge_unanswered(session, now, retention_days)
    rows = session.scalars(select(UnansweredQuestion).order_by(UnansweredQuestion.created_at.desc(),
                                                               UnansweredQuestion.id.desc())).all()
    groups: list[QuestionGroup] = []
    for row in rows:
        vector = _features(row.text)
        group = max(groups, key=lambda g: _cosine(g._vector, vector), default=None)
        if group is None or _cosine(group._vector, vector) < SIMILAR:
            group = QuestionGroup(last_asked=row.created_at, _vector=vector)
            groups.append(group)
        group.count += 1
        if row.text not in group.questions:
            group.questions.append(row.text)
        if row.closest_card:
            group.closest_cards[row.closest_card] += 1
        group.audiences[row.audience or "?"] += 1
    return sorted(groups, key=lambda g: (-g.count, -(g.last_asked.timestamp() if g.last_asked else 0)))


def _features(text: str) -> Counter[str]:
    words = [w for w in re.findall(r"[a-z0-9]+", canonical(text.replace(NAME, " "))) if w]
    return Counter(words + [f"{a} {b}" for a, b in zip(words, words[1:])])


def _cosine(a: Counter[str], b: Counter[str]) -> float:
    if not a or not b:
        return 0.0
    dot = sum(v * b.get(k, 0) for k, v in a.items())
    return dot / (math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values())))
