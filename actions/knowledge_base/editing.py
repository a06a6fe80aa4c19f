"""Editing cards in the console: drafts, four eyes, publication, history, restore.

Functions take a Session of the knowledge-base database and never commit: the caller
chooses the unit of work (`KnowledgeBaseDatabase.session()`). The console
(`bot/console/knowledge.py`) is their user; the loader calls `plan_yaml_reconciliation`.

The life of a change:
  save     `save_draft`: validated exactly like `python -m actions.knowledge_base validate`
           (validation.py with provenance.py) against the content the bot serves with this
           card in place; an error refuses the save. A draft is only a row of
           `kb_card_versions`: the served tables never see it, so no child does.
  approve  `approve`: a second editor, not the draft's author. The card is validated again,
           written into the served tables, the serving version is raised; the action server
           rebuilds its index at its next check (`service.default_knowledge_base`,
           KB_RELOAD_SECONDS), without a restart.
  reject   `reject`: the draft is kept, marked rejected (withdrawn when its author drops it).
  restore  `restore`: any earlier version becomes a new draft, approved like any other.
Every version is kept with its author, reviewer and times; `diff` shows what changed.

How console edits relate to the YAML in `content/`:
- The YAML is the seed and the developers' channel; the database holds what is served.
  The first load records every YAML card as its first published version (author "yaml").
- A card whose published version came from the YAML follows the YAML: a changed YAML card
  is recorded as a new published version (the change was reviewed in git).
- A card whose published version came from the console keeps being served as the editors
  published it: a loader run never overwrites it. If the YAML of that card changed since
  the console edit, the YAML's card becomes a draft (author "yaml") that an editor approves
  or rejects in the console: nothing is lost and nothing is silent.
- `python -m actions.knowledge_base export` writes the served content, console versions
  included, back to YAML; once a developer commits it, YAML and console agree again.
- Which cards exist, their topics, the documents and resources: the YAML only. A card
  removed from the YAML is no longer served; its versions stay.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import lru_cache

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from actions.knowledge_base.content import Card, Content, Problem, card_data, card_from_data
from actions.knowledge_base.models import CardVersion, ContentState, ServingVersion
from actions.knowledge_base.settings import REPO_ROOT
from actions.knowledge_base.validation import validate

DRAFT, PUBLISHED, SUPERSEDED, REJECTED, WITHDRAWN = "draft", "published", "superseded", "rejected", "withdrawn"
YAML, CONSOLE, RESTORE = "yaml", "console", "restore"
YAML_AUTHOR = "yaml"
COMMENT_MAX_CHARS = 500


class EditError(Exception):
    """An edit that cannot be done; `message` is shown to the editor (Vietnamese)."""

    def __init__(self, code: str, message: str, problems: Iterable[Problem] = ()) -> None:
        super().__init__(message)
        self.code = code  # not_found | unchanged | invalid | four_eyes | stale | wrong_state
        self.message = message
        self.problems = list(problems)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


# ---------------------------------------------------------------- the serving version


def serving_version(session: Session) -> int:
    """The number the action server compares to know whether to rebuild (0: never loaded)."""
    row = session.get(ServingVersion, 1)
    return row.version if row else 0


def raise_serving_version(session: Session) -> int:
    row = session.get(ServingVersion, 1)
    if row is None:
        row = ServingVersion(id=1, version=0, changed_at=utc_now())
        session.add(row)
    row.version += 1
    row.changed_at = utc_now()
    return row.version


# ---------------------------------------------------------------- the YAML and the console


@dataclass
class Reconciliation:
    """What a load serves (the YAML with published console versions in place) and the
    versions it records (`apply`, only when the load goes ahead)."""

    content: Content
    new_versions: list[CardVersion] = field(default_factory=list)
    superseded: list[CardVersion] = field(default_factory=list)
    yaml_drafts: list[str] = field(default_factory=list)  # cards whose YAML change waits for an editor

    def apply(self, session: Session, skip: Iterable[str] = ()) -> None:
        """Record the versions (not for `skip`: cards left out of the load as broken)."""
        skipped = set(skip)
        for version in self.superseded:
            if version.card_id not in skipped:
                version.status = SUPERSEDED
        for version in self.new_versions:
            if version.card_id not in skipped:
                session.add(version)


def plan_yaml_reconciliation(session: Session, yaml_content: Content) -> Reconciliation:
    published = {v.card_id: v for v in session.scalars(select(CardVersion).where(CardVersion.status == PUBLISHED))}
    last_yaml_id = dict(session.execute(
        select(CardVersion.card_id, func.max(CardVersion.id)).where(CardVersion.origin == YAML)
        .group_by(CardVersion.card_id)).all())
    now = utc_now()
    plan = Reconciliation(content=yaml_content)
    cards: list[Card] = []
    for card in yaml_content.cards:
        data = card_data(card)
        current = published.get(card.id)
        if current is None or current.origin == YAML:
            if current is None or current.data != data:
                plan.new_versions.append(CardVersion(
                    card_id=card.id, status=PUBLISHED, origin=YAML, data=data, author=YAML_AUTHOR,
                    based_on_id=current.id if current else None, created_at=now, published_at=now, comment=""))
                if current is not None:
                    plan.superseded.append(current)
            cards.append(card)
            continue
        # Published from the console: it stays served.
        seen_id = last_yaml_id.get(card.id)
        seen = session.get(CardVersion, seen_id) if seen_id else None
        if data != current.data and (seen is None or seen.data != data):
            plan.new_versions.append(CardVersion(
                card_id=card.id, status=DRAFT, origin=YAML, data=data, author=YAML_AUTHOR,
                based_on_id=current.id, created_at=now,
                comment="Tệp YAML của thẻ đã đổi sau lần sửa trên bảng điều khiển."))
            plan.yaml_drafts.append(card.id)
        served, _ = card_from_data(current.data, card.topic, card.source_file)
        cards.append(served or card)
    plan.content = replace(yaml_content, cards=cards)
    return plan


# ---------------------------------------------------------------- reading


def published_version(session: Session, card_id: str) -> CardVersion | None:
    return session.scalars(select(CardVersion).where(CardVersion.card_id == card_id,
                                                     CardVersion.status == PUBLISHED)).one_or_none()


def open_drafts(session: Session, card_id: str | None = None) -> list[CardVersion]:
    query = select(CardVersion).where(CardVersion.status == DRAFT).order_by(CardVersion.id)
    if card_id is not None:
        query = query.where(CardVersion.card_id == card_id)
    return list(session.scalars(query))


def history(session: Session, card_id: str) -> list[CardVersion]:
    """Every version of the card, newest first."""
    return list(session.scalars(select(CardVersion).where(CardVersion.card_id == card_id)
                                .order_by(CardVersion.id.desc())))


def version(session: Session, version_id: int, card_id: str | None = None) -> CardVersion:
    row = session.get(CardVersion, version_id)
    if row is None or (card_id is not None and row.card_id != card_id):
        raise EditError("not_found", "Không tìm thấy phiên bản này.")
    return row


def version_card(row: CardVersion, served: Content) -> Card:
    """The card a version holds, in the topic and file the served card has."""
    current = served.card(row.card_id)
    if current is None:
        raise EditError("not_found", "Thẻ này không còn trong nội dung (đã bỏ khỏi tệp YAML).")
    card, _ = card_from_data(row.data, current.topic, current.source_file)
    if card is None:
        raise EditError("invalid", "Phiên bản này không đọc được.")
    return card


def diff(before: dict | None, after: dict) -> list[str]:
    """What changed, line by line, in the YAML form writers know ("-" removed, "+" added)."""
    old = _as_yaml(before).splitlines() if before else []
    new = _as_yaml(after).splitlines()
    return [line for line in difflib.unified_diff(old, new, "trước", "sau", lineterm="", n=1)
            if not line.startswith(("---", "+++"))]


def _as_yaml(data: dict) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=10**6)  # a message: one line


# ---------------------------------------------------------------- checking


@lru_cache(maxsize=1)
def known_intents() -> frozenset[str] | None:
    """The intents of domain.yml, as `validate` checks them (None when there is no domain.yml)."""
    path = REPO_ROOT / "domain.yml"
    if not path.is_file():
        return None
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return frozenset(next(iter(i)) if isinstance(i, dict) else str(i) for i in data.get("intents") or [])


def with_card(content: Content, card: Card) -> Content:
    return replace(content, cards=[card if c.id == card.id else c for c in content.cards])


def check_card(served: Content, card: Card, today: dt.date | None = None) -> list[Problem]:
    """The validator's problems about `card`, in the served content with `card` in its place:
    the same rules, with the same messages, as `python -m actions.knowledge_base validate`."""
    intents = known_intents()
    problems = validate(with_card(served, card), today=today, known_intents=set(intents) if intents else None)
    return [p for p in problems if p.card == card.id or f"'{card.id}'" in p.message]


def _refuse_errors(problems: list[Problem]) -> None:
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise EditError("invalid", f"Thẻ còn {len(errors)} lỗi, chưa lưu được.", problems)


# ---------------------------------------------------------------- changing


def save_draft(session: Session, served: Content, card: Card, author: str, comment: str = "") -> CardVersion:
    """A new draft of `card` (validated). It replaces the card's other open drafts."""
    current = published_version(session, card.id)
    if current is None or served.card(card.id) is None:
        raise EditError("not_found", "Không tìm thấy thẻ này.")
    _refuse_errors(check_card(served, card))
    data = card_data(card)
    if data == current.data:
        raise EditError("unchanged", "Không có gì thay đổi so với bản đang dùng.")
    return _new_draft(session, card.id, data, CONSOLE, current, author, comment)


def restore(session: Session, served: Content, version_id: int, author: str, comment: str = "") -> CardVersion:
    """An earlier version as a new draft (approved by a second editor like any other)."""
    row = version(session, version_id)
    current = published_version(session, row.card_id)
    if current is None:
        raise EditError("not_found", "Không tìm thấy thẻ này.")
    if row.data == current.data:
        raise EditError("unchanged", "Phiên bản này chính là bản đang dùng.")
    _refuse_errors(check_card(served, version_card(row, served)))
    draft = _new_draft(session, row.card_id, row.data, RESTORE, current, author,
                       comment or f"Khôi phục phiên bản #{row.id}.")
    draft.restored_from_id = row.id
    return draft


def _new_draft(session: Session, card_id: str, data: dict, origin: str, current: CardVersion, author: str,
               comment: str) -> CardVersion:
    for other in open_drafts(session, card_id):
        other.status = WITHDRAWN
    draft = CardVersion(card_id=card_id, status=DRAFT, origin=origin, data=data, based_on_id=current.id,
                        author=author, created_at=utc_now(), comment=comment.strip()[:COMMENT_MAX_CHARS])
    session.add(draft)
    session.flush()
    return draft


def approve(session: Session, served: Content, version_id: int, approver: str) -> CardVersion:
    """Publish a draft: a second editor's decision. The served tables change in this
    transaction; the serving version is raised so every action server reloads."""
    from actions.knowledge_base.loader import load_content  # the loader imports this module

    draft = version(session, version_id)
    if draft.status != DRAFT:
        raise EditError("wrong_state", "Bản nháp này đã được xử lý.")
    if draft.author == approver:
        raise EditError("four_eyes", "Người viết bản nháp không tự duyệt được: cần một biên tập viên khác.")
    current = published_version(session, draft.card_id)
    if current is None or draft.based_on_id != current.id:
        raise EditError("stale", "Thẻ đã thay đổi từ khi bản nháp này được viết: hãy mở thẻ, sửa lại và lưu "
                                 "thành bản nháp mới.")
    card = version_card(draft, served)
    _refuse_errors(check_card(served, card))
    now = utc_now()
    current.status = SUPERSEDED
    draft.status, draft.reviewer, draft.reviewed_at, draft.published_at = PUBLISHED, approver, now, now
    for other in open_drafts(session, draft.card_id):
        if other.id != draft.id:
            other.status = WITHDRAWN
    state = session.get(ContentState, 1)
    load_content(session, with_card(served, card), state.content_hash if state else "")
    raise_serving_version(session)
    return draft


def reject(session: Session, version_id: int, reviewer: str) -> CardVersion:
    """Turn a draft down (its author dropping it: withdrawn). It stays in the history."""
    draft = version(session, version_id)
    if draft.status != DRAFT:
        raise EditError("wrong_state", "Bản nháp này đã được xử lý.")
    draft.status = WITHDRAWN if draft.author == reviewer else REJECTED
    draft.reviewer, draft.reviewed_at = reviewer, utc_now()
    return draft
