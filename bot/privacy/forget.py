""""Xóa dữ liệu của em": a person asks the bot to forget them.

Detected in the gateway, before anything is stored or sent to Rasa: the
button offered in the introduction (`FORGET_PAYLOAD`, utter_introduce_help in
domain.yml) or a short message that is only the request ("xóa dữ liệu của em",
"quên em đi", "xoá hết tin nhắn của em nhé"), compared accent-insensitively on
`nlu.vietnamese_text.canonical`. A longer message that merely contains the words
("nó dọa xóa dữ liệu của em") is NOT a request and goes to Rasa as usual, so a
disclosure is never swallowed.

- No open case: the conversation is deleted at once from the app database and
  Rasa's tracker; the request itself is never stored. If a closed case exists,
  its record (and encrypted transcript) stays for RETENTION_CASE_DAYS, but the
  conversation no longer carries the channel's id of the person.
- An open case (waiting, or a counsellor has it): nothing is deleted yet; the child
  is told why. The request is recorded on the case (bot.cases.service.request_forget)
  and carried out automatically once the case is closed (`apply_pending`, run by the
  retention job every few seconds, bot/privacy/retention.py): the conversation is
  deleted from the app database and Rasa's tracker as above; the closed case's record
  stays for RETENTION_CASE_DAYS like any closed case.
"""

from __future__ import annotations

import enum
import logging
import re
from datetime import datetime, timedelta

from sqlalchemy import select

from bot import transcript
from bot.cases import service
from bot.cases.models import Case
from bot.db import Database
from bot.messages import Inbound
from bot.models import Conversation, conversation_key, utc_now
from bot.privacy import stores
from nlu.vietnamese_text import canonical

logger = logging.getLogger(__name__)

# A closed case's pending request waits this long, so that what is said at the close
# (the counsellor's goodbye, Mây's check-in) reaches the child before everything goes.
CLOSE_GRACE = timedelta(seconds=60)

# Payload of the introduction's button. Not an intent: it never reaches Rasa.
FORGET_PAYLOAD = "gateway_forget_me"

# Canonical (accent-free) requests. The message may add polite words around them, nothing else.
_VERB = r"(?:xoa(?: het| sach| di| bo)?|quen)"
_OBJECT = r"(?:(?:het |tat ca |toan bo )?(?:du lieu|tin nhan|thong tin|cuoc tro chuyen|lich su(?: chat| tro chuyen)?|chat)(?: cua)? )?"
_ME = r"(?:em|minh|toi|to|tui|con|chau|tao)"
_REQUEST = re.compile(
    rf"(?:{_VERB} {_OBJECT}{_ME}(?: di)?|{_VERB} (?:het |tat ca |toan bo )?(?:du lieu|tin nhan|thong tin|cuoc tro chuyen|lich su chat)(?: cua {_ME})?(?: di)?)"
)
_FILLER = frozenset(
    "a ah oi bot ban ad admin minh hay giup giup voi nhe nha nhe di lam on vui long cho please "
    "duoc khong ko cai nay nay het tat ca ngay bay gio luon vay the thi".split()
)
# At most this many filler words besides the request itself.
_MAX_EXTRA_WORDS = 5


def is_forget_phrase(text: str) -> bool:
    words = re.sub(r"[^a-z0-9 ]", " ", canonical(text)).split()
    joined = " ".join(words)
    match = _REQUEST.search(joined)
    if match is None:
        return False
    rest = (joined[: match.start()] + " " + joined[match.end():]).split()
    return len(rest) <= _MAX_EXTRA_WORDS and all(word in _FILLER for word in rest)


class Outcome(enum.Enum):
    FORGOTTEN = "forgotten"
    FORGOTTEN_CASE_RECORD_KEPT = "forgotten_case_record_kept"  # a closed case stays for its retention period
    KEPT_OPEN_CASE = "kept_open_case"


CONFIRMED = (
    "Mình đã xóa cuộc trò chuyện của em rồi: các tin nhắn em gửi và mình trả lời đều không còn "
    "trong hệ thống nữa. Khi nào cần, em cứ nhắn lại cho mình nhé. Nếu có chuyện gấp, em gọi "
    "Tổng đài 111 (miễn phí, 24/7)."
)
CONFIRMED_CASE_RECORD_KEPT = (
    "Mình đã xóa cuộc trò chuyện của em rồi. Riêng hồ sơ của lần người tư vấn giúp em trước đây vẫn "
    "được giữ kín thêm một thời gian (tối đa 1 năm) để bảo vệ em, rồi cũng tự xóa. Khi nào cần, em cứ "
    "nhắn lại cho mình nhé. Nếu có chuyện gấp, em gọi Tổng đài 111 (miễn phí, 24/7)."
)
KEPT = (
    "Mình hiểu em muốn xóa cuộc trò chuyện. Nhưng lúc này em đang được người tư vấn giúp đỡ, nên "
    "mình cần giữ lại tin nhắn để họ hiểu chuyện của em và giúp em cho đúng. Khi cuộc hỗ trợ kết "
    "thúc, mình sẽ tự xóa cuộc trò chuyện này, em không cần nhắn lại. Riêng hồ sơ của lần tư vấn "
    "được giữ kín thêm một thời gian (tối đa 1 năm) để bảo vệ em, rồi cũng tự xóa. Những gì em kể "
    "chỉ đội tư vấn được xem thôi."
)


class Forgetting:
    """Decides whether an inbound message is a request to forget, and carries it out."""

    def __init__(self, database: Database, tracker: stores.TrackerStore) -> None:
        self._database = database
        self._tracker = tracker

    def is_request(self, inbound: Inbound) -> bool:
        if inbound.payload is not None:
            return inbound.payload == FORGET_PAYLOAD and not inbound.opens_conversation
        return inbound.text is not None and is_forget_phrase(inbound.text)

    def forget(self, inbound: Inbound) -> Outcome | None:
        """Blocking (run it in a thread). None: a forged button (not offered), handle as usual."""
        sender_id = conversation_key(inbound.channel, inbound.external_id)
        with self._database.session() as session:
            conversation = transcript.find_conversation(session, inbound.channel, inbound.external_id)
            if inbound.payload is not None and (
                conversation is None or transcript.offered_button(session, conversation, inbound.payload) is None
            ):
                return None
            if conversation is None:
                outcome = Outcome.FORGOTTEN  # nothing in the app database; the tracker may hold some
            elif (open_case := service.open_case_of(session, conversation.id)) is not None:
                service.request_forget(session, open_case)  # carried out when it closes
                return Outcome.KEPT_OPEN_CASE
            else:
                has_case = session.scalar(select(Case.id).where(Case.conversation_id == conversation.id).limit(1))
                if has_case is None:
                    stores.delete_conversation(session, conversation)
                    outcome = Outcome.FORGOTTEN
                else:
                    stores.unlink_person(session, conversation)
                    outcome = Outcome.FORGOTTEN_CASE_RECORD_KEPT
        self._tracker.delete([sender_id])
        return outcome


def apply_pending(database: Database, tracker: stores.TrackerStore, now: datetime | None = None,
                  grace: timedelta | None = None) -> int:
    """Carry out the requests made during a case that has closed since. Returns how many.

    Blocking (run it in a thread). Rasa's tracker goes first: if the app database then
    fails, the request is still pending and the next round repeats it (both are idempotent).
    """
    now = now or utc_now()
    grace = CLOSE_GRACE if grace is None else grace
    with database.session() as session:
        due = service.due_forgets(session, closed_before=now - grace)
        if not due:
            return 0
        people = [c for c in {session.get(Conversation, case.conversation_id) for case in due}
                  if c is not None and not c.external_id.startswith(stores.FORGOTTEN_PREFIX)]
        tracker.delete([c.rasa_sender_id for c in people])
        for conversation in people:
            stores.unlink_person(session, conversation)  # the case record stays (RETENTION_CASE_DAYS)
        for case in due:
            service.mark_forget_applied(session, case, now)
    logger.info("forget: carried out %d request(s) made during a case", len(due))
    return len(due)
