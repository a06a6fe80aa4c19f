"""The structured case record a counsellor fills in: what happened, who, where, what was done.

One record per case (`case_records`), written from the console's case page. It keeps the
bot's view beside the counsellor's, so their agreement measures the triage:

- categories: the bot's (from the triage category of the case, mapped onto the taxonomy
  below) and the counsellor's, confirmed or corrected;
- risk: the bot's is the case's own (`cases.risk`); the counsellor's judgement at close is here.

Stored like the rest of the case: the commune or ward, the only free text, is encrypted with
the case keys; the record is deleted with its case (retention, bot/privacy). Location is
never a condition of help: every field may stay "chưa rõ".

Functions take an open Session and never commit (the caller owns the unit of work).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Index, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.cases import provinces
from bot.cases.service import NotAllowed
from bot.cases.crypto import Keyring
from bot.cases.models import Case, CaseEntry, CaseStatus, Role, StaffUser
from bot.models import Base, Conversation, utc_now

# ---- the taxonomy -------------------------------------------------------------------------
# The forms of harm of the Law on Children (Luật Trẻ em 2016, Điều 4 and 6) as the hotline
# counts them. Keys are stored; labels are what counsellors read.

CATEGORIES: dict[str, str] = {
    "sexual_abuse": "Xâm hại tình dục",
    "violence": "Bạo lực, bạo lực gia đình",
    "school_violence": "Bạo lực học đường, bắt nạt",
    "exploitation": "Bóc lột (lao động, tình dục)",
    "neglect": "Bỏ rơi, bỏ mặc",
    "trafficking": "Mua bán, bắt cóc",
    "online_abuse": "Xâm hại trên mạng (tống tiền bằng ảnh, dụ dỗ, lừa đảo)",
    "self_harm": "Tự hại, ý nghĩ tự tử",
    "mental_health": "Sức khỏe tâm thần",
    "child_labour": "Lao động trẻ em",
    "child_marriage": "Tảo hôn",
    "special_circumstances": "Trẻ em có hoàn cảnh đặc biệt",
    "information": "Hỏi thông tin, khác",
}

# The triage's category of a case (actions/safety.py, nlu/lexicon) -> the taxonomy. Categories
# that say nothing about the harm ("request", "report_other", "abuse", "imminent_danger") give none:
# the counsellor chooses.
TRIAGE_TO_CATEGORY: dict[str, str] = {
    "physical_violence": "violence",
    "sexual_abuse": "sexual_abuse",
    "grooming": "online_abuse",
    "sextortion": "online_abuse",
    "neglect": "neglect",
    "trafficking": "trafficking",
    "exploitation": "exploitation",
    "forced_marriage": "child_marriage",
    "suicide_plan": "self_harm",
    "suicide_ideation": "self_harm",
    "suicide_means": "self_harm",
    "self_harm": "self_harm",
    "overdose": "self_harm",
    "emotional_distress": "mental_health",
    "mental_health": "mental_health",
    "bullying": "school_violence",
}

AGE_BANDS: dict[str, str] = {
    "under_6": "Dưới 6 tuổi",
    "6_10": "6–10 tuổi",
    "11_14": "11–14 tuổi",
    "15_17": "15–17 tuổi",
    "adult": "Người lớn (từ 18 tuổi)",
}
# Optional: the form's empty choice is "Không rõ".
GENDERS: dict[str, str] = {"female": "Nữ", "male": "Nam", "other": "Khác"}
CONTACTS: dict[str, str] = {
    "child": "Chính trẻ",
    "parent": "Cha mẹ, người chăm sóc",
    "other_adult": "Người lớn khác",
    "other_child": "Trẻ em khác (bạn bè, anh chị em)",
}
REFERRALS: dict[str, str] = {
    "police": "Công an / 113",
    "commune": "UBND cấp xã",
    "social_work": "Trung tâm công tác xã hội",
    "health": "Cơ sở y tế",
    "school": "Nhà trường",
    "other": "Khác",
}
# The counsellor's judgement of the risk at close: the dialogue's levels, "none" included.
RISKS: dict[str, str] = {"none": "Không có nguy cơ", "concern": "Theo dõi", "high": "Cao", "imminent": "Khẩn cấp"}
RISK_ORDER = {"none": 0, "concern": 1, "high": 2, "imminent": 3}
UNKNOWN = ""
UNKNOWN_LABEL = "Chưa rõ"
COMMUNE_MAX_CHARS = 120


def label(choices: Mapping[str, str], key: str | None) -> str:
    return choices.get(key or "", UNKNOWN_LABEL if not key else key)


# ---- the table -----------------------------------------------------------------------------


class CaseRecord(Base):
    """The counsellor's structured record of one case (the bot's view kept beside it)."""

    __tablename__ = "case_records"
    __table_args__ = (Index("ix_case_records_follow_up_on", "follow_up_on"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    # Taxonomy keys: what the triage suggested, and what the counsellor confirmed or corrected.
    bot_categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    age_band: Mapped[str] = mapped_column(String(16), default=UNKNOWN)
    gender: Mapped[str] = mapped_column(String(16), default=UNKNOWN)
    contact: Mapped[str] = mapped_column(String(16), default=UNKNOWN)
    province: Mapped[str] = mapped_column(String(8), default=UNKNOWN)  # provinces.Province.code
    commune: Mapped[str | None] = mapped_column(Text, default=None)  # Fernet token (case keys)
    referrals: Mapped[list[str]] = mapped_column(JSON, default=list)
    follow_up_on: Mapped[date | None] = mapped_column(Date, default=None)
    follow_up_done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    counsellor_risk: Mapped[str] = mapped_column(String(16), default=UNKNOWN)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


# The reports (bot/cases/reports.py) select cases and conversations by the day they began:
# indexes on the existing tables, declared here so the shared model modules stay as they are.
Index("ix_cases_created_at", Case.created_at)
Index("ix_conversations_created_at", Conversation.created_at)
# When a counsellor first wrote in a case (the reports' "time to the first counsellor message").
Index("ix_case_entries_first_reply", CaseEntry.case_id, CaseEntry.sender, CaseEntry.created_at)


# ---- reading and writing ---------------------------------------------------------------------


class RecordError(ValueError):
    """A value the form cannot take; `message` is shown to the counsellor (Vietnamese)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class RecordView:
    """What the case page shows and pre-fills (nothing stored yet: the triage's suggestion)."""

    saved: bool
    bot_categories: tuple[str, ...]
    categories: tuple[str, ...]
    age_band: str
    gender: str
    contact: str
    province: str
    commune: str
    referrals: tuple[str, ...]
    follow_up_on: date | None
    follow_up_done: bool
    counsellor_risk: str
    bot_risk: str


@dataclass(frozen=True)
class RecordInput:
    """The form as sent; `save` checks every value against the lists above."""

    categories: Sequence[str] = ()
    age_band: str = UNKNOWN
    gender: str = UNKNOWN
    contact: str = UNKNOWN
    province: str = UNKNOWN
    commune: str = ""
    referrals: Sequence[str] = ()
    follow_up_on: date | None = None
    follow_up_done: bool = False
    counsellor_risk: str = UNKNOWN


def suggested_categories(triage_category: str | None) -> list[str]:
    mapped = TRIAGE_TO_CATEGORY.get(triage_category or "")
    return [mapped] if mapped else []


def find(session: Session, case_id: int) -> CaseRecord | None:
    return session.scalars(select(CaseRecord).where(CaseRecord.case_id == case_id)).one_or_none()


def view(session: Session, case: Case, keyring: Keyring) -> RecordView:
    row = find(session, case.id)
    suggested = tuple(suggested_categories(case.category))
    if row is None:
        return RecordView(False, suggested, suggested, UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN, "", (), None, False,
                          UNKNOWN, case.risk.value)
    return RecordView(
        True, tuple(row.bot_categories or ()), tuple(row.categories or ()), row.age_band, row.gender,
        row.contact, row.province, keyring.decrypt(row.commune) if row.commune else "",
        tuple(row.referrals or ()), row.follow_up_on, row.follow_up_done_at is not None,
        row.counsellor_risk, case.risk.value,
    )


def can_edit(staff: StaffUser, case: Case) -> bool:
    """The counsellor who has (or had) the case, or a supervisor; never a declined case."""
    if case.status in (CaseStatus.DECLINED, CaseStatus.WAITING):
        return staff.has_role(Role.SUPERVISOR) and case.status != CaseStatus.DECLINED
    return case.assigned_to_id == staff.id or staff.has_role(Role.SUPERVISOR)


def _one_of(choices: Mapping[str, str], value: str, what: str) -> str:
    value = (value or "").strip()
    if value and value not in choices:
        raise RecordError(f"Giá trị “{what}” không hợp lệ.")
    return value


def _some_of(choices: Mapping[str, str], values: Iterable[str], what: str) -> list[str]:
    chosen = []
    for value in values:
        value = value.strip()
        if not value:
            continue
        if value not in choices:
            raise RecordError(f"Giá trị “{what}” không hợp lệ.")
        if value not in chosen:
            chosen.append(value)
    return [key for key in choices if key in chosen]  # the taxonomy's order


def save(session: Session, case: Case, staff: StaffUser, form: RecordInput, keyring: Keyring,
         now: datetime | None = None) -> CaseRecord:
    """Create or update the record of `case` from the console's form."""
    now = now or utc_now()
    if not can_edit(staff, case):
        raise NotAllowed("Bạn không có quyền sửa hồ sơ của ca này.")
    province = (form.province or "").strip()
    if province and province not in provinces.BY_CODE:
        found = provinces.lookup(province)
        if found is None:
            raise RecordError("Không nhận ra tỉnh, thành phố này.")
        province = found.code
    commune = " ".join(form.commune.split())
    if len(commune) > COMMUNE_MAX_CHARS:
        raise RecordError(f"Tên xã, phường dài quá {COMMUNE_MAX_CHARS} ký tự.")
    row = find(session, case.id)
    if row is None:
        row = CaseRecord(case_id=case.id, bot_categories=suggested_categories(case.category), created_at=now)
        session.add(row)
    row.categories = _some_of(CATEGORIES, form.categories, "vấn đề")
    row.age_band = _one_of(AGE_BANDS, form.age_band, "độ tuổi")
    row.gender = _one_of(GENDERS, form.gender, "giới tính")
    row.contact = _one_of(CONTACTS, form.contact, "người liên hệ")
    row.province = province
    row.commune = keyring.encrypt(commune) if commune else None
    row.referrals = _some_of(REFERRALS, form.referrals, "chuyển tuyến")
    row.follow_up_on = form.follow_up_on
    if form.follow_up_on is None:
        row.follow_up_done_at = None
    elif form.follow_up_done and row.follow_up_done_at is None:
        row.follow_up_done_at = now
    elif not form.follow_up_done:
        row.follow_up_done_at = None
    row.counsellor_risk = _one_of(RISKS, form.counsellor_risk, "mức nguy cơ khi đóng ca")
    row.updated_by_id, row.updated_at = staff.id, now
    session.flush()
    return row


def mark_follow_up_done(session: Session, case: Case, staff: StaffUser, now: datetime | None = None) -> None:
    if not can_edit(staff, case):
        raise NotAllowed("Bạn không có quyền sửa hồ sơ của ca này.")
    row = find(session, case.id)
    if row is None or row.follow_up_on is None:
        raise RecordError("Ca này không có lịch theo dõi.")
    row.follow_up_done_at = now or utc_now()
    row.updated_by_id = staff.id


def parse_form(values: Mapping[str, Any], lists: Mapping[str, list[str]]) -> RecordInput:
    """The console's form fields (single values and the multi-valued checkboxes) as a RecordInput."""
    raw_date = str(values.get("follow_up_on") or "").strip()
    try:
        follow_up = date.fromisoformat(raw_date) if raw_date else None
    except ValueError as error:
        raise RecordError("Ngày hẹn theo dõi không hợp lệ.") from error
    return RecordInput(
        categories=lists.get("categories", []),
        age_band=str(values.get("age_band") or ""),
        gender=str(values.get("gender") or ""),
        contact=str(values.get("contact") or ""),
        province=str(values.get("province") or ""),
        commune=str(values.get("commune") or ""),
        referrals=lists.get("referrals", []),
        follow_up_on=follow_up,
        follow_up_done=str(values.get("follow_up_done") or "") in ("1", "on", "true"),
        counsellor_risk=str(values.get("counsellor_risk") or ""),
    )


# ---- follow-ups ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FollowUp:
    case_id: int
    due: date
    risk: str
    referrals: tuple[str, ...]
    assignee: str | None
    overdue: bool


def follow_ups_due(session: Session, staff: StaffUser, today: date) -> list[FollowUp]:
    """Follow-ups not yet done and due today or earlier: a counsellor's own cases, every case
    for a supervisor. Oldest first."""
    query = (select(CaseRecord, Case).join(Case, Case.id == CaseRecord.case_id)
             .where(CaseRecord.follow_up_on.is_not(None), CaseRecord.follow_up_on <= today,
                    CaseRecord.follow_up_done_at.is_(None))
             .order_by(CaseRecord.follow_up_on, Case.id))
    if not staff.has_role(Role.SUPERVISOR):
        query = query.where(Case.assigned_to_id == staff.id)
    rows = session.execute(query).all()
    names = {u.id: u.display_name for u in session.scalars(select(StaffUser)).all()}
    return [FollowUp(case.id, record.follow_up_on, case.risk.value, tuple(record.referrals or ()),
                     names.get(case.assigned_to_id or 0), record.follow_up_on < today)
            for record, case in rows]
