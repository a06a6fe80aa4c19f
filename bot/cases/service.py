"""Case records and their life cycle: open, take, transfer, close, notes, transcript.

Functions take an open Session (the caller chooses the unit of work) and
never commit. Who may do what is decided here, so the console and the tests
share one set of rules:

- supervisors and admins see and act on every case;
- editors (the knowledge base's, `Role.EDITOR`) see no case and take none;
- a counsellor sees the queue (waiting cases) and the cases assigned to them,
  and the notes of another counsellor's closed case stay hidden from them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from bot.cases.crypto import Keyring
from bot.cases.models import (
    OPEN_STATUSES,
    Case,
    CaseEntry,
    CaseEvent,
    CaseNote,
    CaseStatus,
    Consent,
    Risk,
    Role,
    StaffUser,
)
from bot.cases.wording import OUTCOMES
from bot.models import Conversation, Message, as_utc, utc_now
from common.dialogue import HandoffInstruction

# Messages before the disclosure copied into the case, so the counsellor has context.
PRECEDING_MESSAGES = 30
NOTE_MAX_CHARS = 4000
_CATEGORY = re.compile(r"[a-z_]{1,64}")


class CaseError(Exception):
    """An action that cannot be done; `message` is shown to the counsellor (Vietnamese)."""

    code = "case_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotAllowed(CaseError):
    code = "not_allowed"


class CapacityExceeded(CaseError):
    code = "capacity"


class WrongState(CaseError):
    code = "wrong_state"


class NotFound(CaseError):
    code = "not_found"


@dataclass(frozen=True)
class HandoffRequest:
    """The action server's instruction (common.dialogue.HandoffInstruction), validated."""

    risk: Risk
    category: str
    consent: Consent

    @classmethod
    def from_custom(cls, custom: Mapping[str, Any]) -> HandoffRequest | None:
        instruction = HandoffInstruction.from_custom(custom)
        if instruction is None:
            return None
        try:
            risk = Risk(instruction.risk or Risk.CONCERN)
        except ValueError:
            risk = Risk.HIGH  # unknown level: err on the side of the child
        try:
            consent = Consent(instruction.consent or Consent.GIVEN)
        except ValueError:
            return None
        category = instruction.category
        return cls(risk, category if _CATEGORY.fullmatch(category) else "", consent)


@dataclass(frozen=True)
class Opened:
    case: Case
    outcome: str  # created | raised | unchanged | declined | ignored


@dataclass(frozen=True)
class EntryView:
    id: int
    sender: str
    text: str
    created_at: datetime


# ---- opening a case -------------------------------------------------------------------


def open_case_of(session: Session, conversation_id: int) -> Case | None:
    return session.scalars(
        select(Case).where(Case.conversation_id == conversation_id, Case.status.in_(OPEN_STATUSES))
    ).one_or_none()


def open_case(session: Session, conversation: Conversation, request: HandoffRequest, user_ref: str,
              *, out_of_hours: bool, now: datetime | None = None) -> Opened:
    """Create the case the dialogue asked for, or raise the risk of the open one."""
    now = now or utc_now()
    existing = open_case_of(session, conversation.id)
    if existing is not None:
        if request.consent == Consent.DECLINED:
            return Opened(existing, "ignored")  # a stale "information only" button
        if request.risk.priority > existing.risk.priority:
            _event(session, existing, "risk_raised", None, now, before=existing.risk.value,
                   after=request.risk.value)
            existing.risk, existing.priority, existing.updated_at = request.risk, request.risk.priority, now
            return Opened(existing, "raised")
        return Opened(existing, "unchanged")

    declined = request.consent == Consent.DECLINED
    case = Case(
        conversation_id=conversation.id,
        channel=conversation.channel,
        user_ref=user_ref,
        risk=request.risk,
        priority=request.risk.priority,
        category=request.category,
        consent=request.consent,
        status=CaseStatus.DECLINED if declined else CaseStatus.WAITING,
        out_of_hours=out_of_hours,
        created_at=now,
        updated_at=now,
        waiting_since=None if declined else now,
        declined_at=now if declined else None,
        transcript_until_id=0 if declined else _context_start(session, conversation.id),
    )
    try:
        with session.begin_nested():  # the partial unique index settles a concurrent race
            session.add(case)
    except IntegrityError:
        winner = open_case_of(session, conversation.id)
        if winner is None:
            raise
        return Opened(winner, "unchanged")
    _event(session, case, "declined" if declined else "created", None, now,
           risk=request.risk.value, consent=request.consent.value)
    return Opened(case, "declined" if declined else "created")


def _context_start(session: Session, conversation_id: int) -> int:
    """The id just before the last PRECEDING_MESSAGES messages of the conversation."""
    ids = session.scalars(
        select(Message.id).where(Message.conversation_id == conversation_id)
        .order_by(Message.id.desc()).limit(PRECEDING_MESSAGES)
    ).all()
    return (min(ids) - 1) if ids else 0


# ---- the encrypted transcript ---------------------------------------------------------


def sync_transcript(session: Session, case: Case, keyring: Keyring) -> int:
    """Copy the conversation's new messages into the case, encrypted. Idempotent."""
    new = session.scalars(
        select(Message).where(Message.conversation_id == case.conversation_id,
                              Message.id > case.transcript_until_id).order_by(Message.id)
    ).all()
    for message in new:
        session.add(CaseEntry(case_id=case.id, message_id=message.id, sender=message.sender.value,
                              body=keyring.encrypt(message.text), created_at=message.created_at))
    if new:
        case.transcript_until_id = new[-1].id
    return len(new)


def transcript(session: Session, case: Case, keyring: Keyring, after: int = 0) -> list[EntryView]:
    entries = session.scalars(
        select(CaseEntry).where(CaseEntry.case_id == case.id, CaseEntry.id > after).order_by(CaseEntry.id)
    ).all()
    return [EntryView(e.id, e.sender, keyring.decrypt(e.body), e.created_at) for e in entries]


# ---- what a counsellor may see ----------------------------------------------------------


def can_view(staff: StaffUser, case: Case) -> bool:
    if not staff.has_role(Role.COUNSELLOR):
        return False  # an editor (knowledge base only) sees no case
    if staff.has_role(Role.SUPERVISOR):
        return True
    if case.status == CaseStatus.WAITING:
        return True  # to decide whether to take it
    return case.assigned_to_id == staff.id and case.status != CaseStatus.DECLINED


def can_view_notes(staff: StaffUser, case: Case) -> bool:
    if staff.has_role(Role.SUPERVISOR):
        return True
    if case.status == CaseStatus.CLOSED:
        return case.assigned_to_id == staff.id
    return can_view(staff, case)


def load(session: Session, case_id: int) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound("Không tìm thấy ca này.")
    return case


def load_visible(session: Session, case_id: int, staff: StaffUser) -> Case:
    case = load(session, case_id)
    if not can_view(staff, case):
        raise NotAllowed("Bạn không có quyền xem ca này.")
    return case


# ---- the life cycle -----------------------------------------------------------------------


def active_count(session: Session, staff_id: int) -> int:
    return session.scalar(
        select(func.count()).select_from(Case)
        .where(Case.assigned_to_id == staff_id, Case.status == CaseStatus.ACTIVE)
    ) or 0


def _check_capacity(session: Session, staff: StaffUser) -> None:
    if active_count(session, staff.id) >= staff.capacity:
        raise CapacityExceeded(
            f"Bạn đang có {staff.capacity} ca, là số ca tối đa cùng lúc. "
            "Hãy đóng hoặc chuyển một ca trước khi nhận thêm."
        )


def take(session: Session, case_id: int, staff: StaffUser, now: datetime | None = None) -> Case:
    now = now or utc_now()
    case = load(session, case_id)
    if not staff.has_role(Role.COUNSELLOR):
        raise NotAllowed("Tài khoản biên tập nội dung không nhận ca tư vấn.")
    if case.status != CaseStatus.WAITING:
        raise WrongState("Ca này không còn trong hàng chờ (có thể đã có người nhận).")
    _check_capacity(session, staff)
    # Compare-and-set: two counsellors pressing "Nhận" at once, exactly one wins.
    taken = session.execute(
        update(Case).where(Case.id == case.id, Case.status == CaseStatus.WAITING)
        .values(status=CaseStatus.ACTIVE, assigned_to_id=staff.id, taken_at=now, updated_at=now)
    ).rowcount
    if taken != 1:
        raise WrongState("Ca này vừa được người khác nhận.")
    session.refresh(case)
    _event(session, case, "taken", staff, now)
    return case


def transfer(session: Session, case_id: int, actor: StaffUser, to_user_id: int,
             now: datetime | None = None) -> tuple[Case, StaffUser]:
    now = now or utc_now()
    case = load(session, case_id)
    if case.status != CaseStatus.ACTIVE:
        raise WrongState("Chỉ chuyển được ca đang tư vấn.")
    if case.assigned_to_id != actor.id and not actor.has_role(Role.SUPERVISOR):
        raise NotAllowed("Chỉ người đang phụ trách ca hoặc giám sát mới chuyển được ca.")
    target = session.get(StaffUser, to_user_id)
    if target is None or not target.active or not target.has_role(Role.COUNSELLOR):
        raise NotFound("Không tìm thấy tư vấn viên nhận ca.")
    if target.id == case.assigned_to_id:
        raise WrongState("Ca này đã do người đó phụ trách.")
    _check_capacity(session, target)
    before = case.assigned_to_id
    case.assigned_to_id, case.updated_at = target.id, now
    _event(session, case, "transferred", actor, now, before=before, after=target.id)
    return case, target


def close(session: Session, case_id: int, actor: StaffUser, outcome: str,
          now: datetime | None = None) -> Case:
    now = now or utc_now()
    case = load(session, case_id)
    if outcome not in OUTCOMES:
        raise CaseError("Hãy chọn kết quả của ca.")
    if case.status == CaseStatus.WAITING and actor.has_role(Role.SUPERVISOR):
        pass  # a supervisor may close a waiting case (e.g. the child left before anyone was free)
    elif case.status != CaseStatus.ACTIVE:
        raise WrongState("Ca này không đang mở.")
    elif case.assigned_to_id != actor.id and not actor.has_role(Role.SUPERVISOR):
        raise NotAllowed("Chỉ người đang phụ trách ca hoặc giám sát mới đóng được ca.")
    case.status, case.closed_at, case.outcome, case.updated_at = CaseStatus.CLOSED, now, outcome, now
    if case.assigned_to_id is None:
        case.assigned_to_id = actor.id
    # The child's pending "forget me" is carried out shortly after (bot.privacy.forget.apply_pending).
    _event(session, case, "closed", actor, now, outcome=outcome,
           **({"forget_pending": True} if forget_requested(session, case) else {}))
    return case


# ---- "xóa dữ liệu của em" during an open case (bot/privacy/forget.py) ---------------------
# The request waits on the open case as an event; once no case of the conversation is open
# any more, bot.privacy.forget.apply_pending carries it out and records FORGET_APPLIED.

FORGET_REQUESTED = "forget_requested"
FORGET_APPLIED = "forget_applied"


def request_forget(session: Session, case: Case, now: datetime | None = None) -> None:
    """Remember that the child asked to be forgotten while this case is open (once per case)."""
    if not _has_event(session, case.id, FORGET_REQUESTED):
        _event(session, case, FORGET_REQUESTED, None, now or utc_now())


def forget_requested(session: Session, case: Case) -> bool:
    return _has_event(session, case.id, FORGET_REQUESTED)


def due_forgets(session: Session, closed_before: datetime) -> list[Case]:
    """Cases, no longer open, whose child asked to be forgotten and was not yet.

    Only those closed (or declined) before `closed_before`, so the goodbye said at the
    close has been delivered first, and only when no other case of the same
    conversation has been opened since.
    """
    requested = select(CaseEvent.case_id).where(CaseEvent.kind == FORGET_REQUESTED)
    applied = select(CaseEvent.case_id).where(CaseEvent.kind == FORGET_APPLIED)
    still_open = select(Case.conversation_id).where(Case.status.in_(OPEN_STATUSES))
    candidates = session.scalars(
        select(Case).where(Case.id.in_(requested), Case.id.not_in(applied),
                           Case.status.not_in(OPEN_STATUSES), Case.conversation_id.not_in(still_open))
        .order_by(Case.id)
        # Several gateway workers run this job: one takes a case, the others skip it (PostgreSQL).
        .with_for_update(skip_locked=True, of=Case)
    ).all()
    return [c for c in candidates if as_utc(c.closed_at or c.declined_at or c.updated_at) < as_utc(closed_before)]


def mark_forget_applied(session: Session, case: Case, now: datetime | None = None) -> None:
    _event(session, case, FORGET_APPLIED, None, now or utc_now())


def _has_event(session: Session, case_id: int, kind: str) -> bool:
    return session.scalar(select(CaseEvent.id).where(CaseEvent.case_id == case_id, CaseEvent.kind == kind)
                          .limit(1)) is not None


def add_note(session: Session, case: Case, author: StaffUser, text: str, keyring: Keyring) -> CaseNote:
    text = text.strip()
    if not text:
        raise CaseError("Ghi chú đang trống.")
    if len(text) > NOTE_MAX_CHARS:
        raise CaseError(f"Ghi chú dài quá {NOTE_MAX_CHARS} ký tự.")
    if not can_view_notes(author, case):
        raise NotAllowed("Bạn không có quyền ghi chú vào ca này.")
    note = CaseNote(case_id=case.id, author_id=author.id, body=keyring.encrypt(text))
    session.add(note)
    _event(session, case, "note_added", author, utc_now())
    return note


def notes(session: Session, case: Case, keyring: Keyring) -> list[tuple[CaseNote, str]]:
    # The author is loaded now: pages render after the session has closed.
    found = session.scalars(select(CaseNote).options(selectinload(CaseNote.author))
                            .where(CaseNote.case_id == case.id).order_by(CaseNote.id)).all()
    return [(n, keyring.decrypt(n.body)) for n in found]


def events(session: Session, case: Case) -> Sequence[CaseEvent]:
    return session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)).all()


# ---- lists -------------------------------------------------------------------------------


def queue(session: Session) -> Sequence[Case]:
    """Waiting cases: highest risk first, then whoever has waited longest."""
    return session.scalars(
        select(Case).where(Case.status == CaseStatus.WAITING)
        .order_by(Case.priority.desc(), Case.waiting_since.asc(), Case.id.asc())
    ).all()


def active_cases(session: Session, staff: StaffUser | None = None) -> Sequence[Case]:
    query = select(Case).where(Case.status == CaseStatus.ACTIVE).order_by(Case.priority.desc(), Case.taken_at)
    if staff is not None:
        query = query.where(Case.assigned_to_id == staff.id)
    return session.scalars(query).all()


def previous_cases(session: Session, case: Case) -> Sequence[Case]:
    return session.scalars(
        select(Case).where(Case.user_ref == case.user_ref, Case.id != case.id, Case.created_at <= case.created_at)
        .order_by(Case.created_at.desc()).limit(20)
    ).all()


def ahead_in_queue(session: Session, case: Case) -> int:
    return sum(1 for c in queue(session) if c.id != case.id and _before(c, case))


def _before(a: Case, b: Case) -> bool:
    def key(c: Case) -> tuple[int, datetime, int]:
        return -c.priority, as_utc(c.waiting_since or c.created_at), c.id

    return key(a) < key(b)


def overdue(session: Session, limits: Mapping[Risk, int], now: datetime | None = None) -> list[Case]:
    """Waiting cases past their limit since they started waiting or were last alerted."""
    now = now or utc_now()
    late = []
    for case in queue(session):
        since = as_utc(case.last_alert_at or case.waiting_since or case.created_at)
        if now - since >= timedelta(seconds=limits[case.risk]):
            late.append(case)
    return late


def mark_alerted(session: Session, case: Case, now: datetime) -> None:
    case.alerts_sent += 1
    case.last_alert_at = now
    _event(session, case, "wait_alert", None, now, waited_seconds=int(waited_seconds(case, now)))


def waited_seconds(case: Case, now: datetime | None = None) -> float:
    start = case.waiting_since or case.created_at
    end = case.taken_at or case.closed_at or now or utc_now()
    return max(0.0, (as_utc(end) - as_utc(start)).total_seconds())


def _event(session: Session, case: Case, kind: str, actor: StaffUser | None, now: datetime,
           **detail: Any) -> None:
    session.flush()  # the case needs its id
    session.add(CaseEvent(case_id=case.id, at=now, kind=kind, actor_id=actor.id if actor else None,
                          detail=detail))
