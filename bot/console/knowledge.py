"""The legal knowledge base in the console, under /console/knowledge (issue #16).

Who: editors (`Role.EDITOR`, `python -m bot.users create NAME --role editor`) edit;
supervisors and admins read; counsellors are refused (403).

What: every card with its topic, check dates, "not helpful" count and review flag; a card's
form (title, answers for children and for parents, example questions, citations picked
from the documents table, sources and check dates) with a Preview that renders what a
child and a parent would read with the bot's own code (`replies.compose_answer`); Save
runs the command line's validator (`editing.check_card`: validation.py and provenance.py)
and shows its problems in the form, with everything typed kept. A save is a draft; a
second editor approves it (four eyes) and it is published (`editing.approve`); every
version has its diff, author, reviewer and time, and any version can be restored as a new
draft. Questions nobody answered (`unanswered.py`) are listed for editors, grouped by
similarity and redacted. Every change, and every reading of those questions, is in the
audit log (app database); the versions themselves are in the knowledge-base database.

Architecture: the gateway uses `actions.knowledge_base` as a library here and nowhere else
(docs/architecture.md): the same app environment and image, no Rasa or rasa-sdk import
(`actions/__init__.py` only installs log redaction). Its functions are synchronous and
run in a worker thread (`_kb`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import anyio.to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from actions.knowledge_base import editing
from actions.knowledge_base import models as kb_models
from actions.knowledge_base.content import Card, Content, Problem, card_from_data
from actions.knowledge_base.database import KnowledgeBaseDatabase
from actions.knowledge_base.loader import ensure_loaded, read_content_from_database
from actions.knowledge_base.replies import button_title, compose_answer
from actions.knowledge_base.review import due_for_review
from actions.knowledge_base.settings import kb_content_dir
from actions.knowledge_base.unanswered import group_unanswered
from bot.cases import audit, service
from bot.cases.models import Role, StaffUser
from bot.console import auth
from bot.console.pages import MESSAGES, ActingStaff, Ctx, StaffDep, page

T = TypeVar("T")
router = APIRouter(prefix="/console/knowledge", include_in_schema=False)

MESSAGES.update({
    "kb_draft_saved": "Đã lưu bản nháp. Bản nháp chỉ được dùng sau khi một biên tập viên khác duyệt.",
    "kb_published": "Đã duyệt và xuất bản. Mây sẽ trả lời bằng nội dung mới trong vòng một phút.",
    "kb_rejected": "Đã từ chối bản nháp.",
    "kb_withdrawn": "Đã rút bản nháp.",
    "kb_restored": "Đã tạo bản nháp khôi phục phiên bản cũ. Cần một biên tập viên khác duyệt.",
})
STATUS_LABELS = {"draft": "Bản nháp chờ duyệt", "published": "Đang dùng", "superseded": "Bản cũ",
                 "rejected": "Bị từ chối", "withdrawn": "Đã rút"}
ORIGIN_LABELS = {"yaml": "Tệp nội dung (YAML)", "console": "Sửa trên bảng điều khiển", "restore": "Khôi phục"}
AUDIENCE_LABELS = {"child": "Trẻ em", "parent": "Người lớn", "both": "Cả hai"}
FIELD_MAX_CHARS = 20_000


class KnowledgeRefused(service.NotAllowed):
    """Rendered by the console's CaseError handler: a 403 page (or JSON)."""


def reader(staff: auth.Staff) -> None:
    if staff.role != Role.EDITOR and not staff.is_supervisor:
        raise KnowledgeRefused("Trang nội dung pháp lý dành cho biên tập viên (giám sát viên được xem).")


def editor(staff: auth.Staff) -> None:
    if staff.role != Role.EDITOR:
        raise KnowledgeRefused("Chỉ biên tập viên mới sửa được nội dung pháp lý.")


# ---- the knowledge-base database, from the gateway ------------------------------------------------


@dataclass
class KnowledgeStore:
    database: KnowledgeBaseDatabase
    ready: bool = False


def _store(request: Request) -> KnowledgeStore:
    store = getattr(request.app.state, "knowledge_store", None)
    if store is None:
        store = KnowledgeStore(KnowledgeBaseDatabase(request.app.state.settings.kb_database_url))
        request.app.state.knowledge_store = store
    return store  # type: ignore[no-any-return]


Store = Annotated[KnowledgeStore, Depends(_store)]


async def _kb(store: KnowledgeStore, work: Callable[[Session], T]) -> T:
    """`work(session)` as one unit of work of the knowledge-base database, off the event loop.
    The first time, the schema is migrated and the YAML loaded if the database has none yet
    (the action server does the same at its start; both are idempotent, one at a time)."""

    def unit_of_work() -> T:
        if not store.ready:
            ensure_loaded(store.database, kb_content_dir())
            store.ready = True
        with store.database.session() as session:
            return work(session)

    return await anyio.to_thread.run_sync(unit_of_work)


async def _audit(ctx: Any, staff: auth.Staff, action: str, **detail: Any) -> None:
    await ctx.database.run(lambda s: audit.record(s, s.get(StaffUser, staff.id), action, **detail))


# ---- the list ----------------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
async def knowledge_list(request: Request, store: Store, staff: StaffDep) -> HTMLResponse:
    reader(staff)

    def work(session: Session) -> dict[str, Any]:
        served = read_content_from_database(session)
        topics = {t.slug: t.title for t in served.topics}
        due = {d.card.id: d.reasons for d in due_for_review(served, dt.date.today())}
        not_helpful = dict(session.execute(
            select(kb_models.Feedback.card_id, func.sum(case((kb_models.Feedback.helpful.is_(False), 1), else_=0)))
            .group_by(kb_models.Feedback.card_id)).all())
        drafts = editing.open_drafts(session)
        waiting = {d.card_id for d in drafts}
        rows = [{"card": c, "title": button_title(c), "topic": topics.get(c.topic, c.topic),
                 "not_helpful": int(not_helpful.get(c.id) or 0), "due": due.get(c.id, ()),
                 "draft": c.id in waiting} for c in served.cards]
        return {"rows": rows, "drafts": drafts, "titles": {c.id: button_title(c) for c in served.cards},
                "due_count": len(due)}

    return page(request, "knowledge_list.html", staff, **await _kb(store, work),
                can_edit=staff.role == Role.EDITOR, STATUS_LABELS=STATUS_LABELS)


# ---- questions nobody answered ---------------------------------------------------------------------


@router.get("/unanswered", response_class=HTMLResponse)
async def unanswered_page(request: Request, store: Store, ctx: Ctx, staff: StaffDep) -> HTMLResponse:
    """What the bot could not answer confidently, grouped, redacted; past retention, deleted."""
    reader(staff)
    days = ctx.settings.retention_conversation_days

    def work(session: Session) -> dict[str, Any]:
        served = read_content_from_database(session)
        groups = group_unanswered(session, dt.datetime.now(dt.timezone.utc), days)
        return {"groups": groups, "titles": {c.id: button_title(c) for c in served.cards}}

    context = await _kb(store, work)
    await _audit(ctx, staff, "kb_unanswered_viewed", groups=len(context["groups"]))
    return page(request, "knowledge_unanswered.html", staff, **context, retention_days=days,
                AUDIENCE_LABELS=AUDIENCE_LABELS)


# ---- one card: the form, Preview and Save ----------------------------------------------------------


@router.get("/{card_id}", response_class=HTMLResponse)
async def card_page(request: Request, store: Store, staff: StaffDep, card_id: str) -> HTMLResponse:
    reader(staff)

    def work(session: Session) -> dict[str, Any]:
        served = read_content_from_database(session)
        card = _served_card(served, card_id)
        drafts = editing.open_drafts(session, card_id)
        start = card
        if drafts:  # the form goes on from the waiting draft, so nobody's pending change is lost
            try:
                start = editing.version_card(drafts[-1], served)
            except editing.EditError:
                pass  # an unreadable draft: start from the card served (the draft stays listed)
        return {"values": form_values(start), "draft": drafts[-1] if drafts else None,
                **_card_context(session, served, card)}

    return page(request, "knowledge_card.html", staff, **await _kb(store, work),
                **_labels(staff))


@router.post("/{card_id}", response_class=HTMLResponse)
async def card_submit(request: Request, store: Store, ctx: Ctx, staff: ActingStaff, card_id: str) -> Response:
    """Preview (`action=preview`) or Save (`action=save`) what the form holds."""
    reader(staff)
    form = await request.form()
    action = str(form.get("action") or "preview")
    if action == "save":
        editor(staff)
    values = values_from_form(form)

    def work(session: Session) -> dict[str, Any]:
        served = read_content_from_database(session)
        current = _served_card(served, card_id)
        card, problems = card_from_values(values, current)
        if card is not None:
            problems += editing.check_card(served, card)
        result: dict[str, Any] = {"values": values, "problems": problems, "draft": None,
                                  **_card_context(session, served, current)}
        if action == "preview" and card is not None:
            result["preview"] = preview(card, served)
        if action == "save" and card is not None and not any(p.severity == "error" for p in problems):
            try:
                draft = editing.save_draft(session, served, card, staff.username, values["comment"])
            except editing.EditError as error:
                result["error"] = error.message
                result["problems"] = error.problems or problems
            else:
                result["saved"] = draft.id
        elif action == "save":
            result["error"] = "Thẻ còn lỗi, chưa lưu được. Sửa các lỗi dưới đây rồi lưu lại."
        return result

    result = await _kb(store, work)
    if "saved" in result:
        await _audit(ctx, staff, "kb_draft_saved", card_id=card_id, version=result["saved"])
        return RedirectResponse(f"/console/knowledge/{card_id}/versions/{result['saved']}?msg=kb_draft_saved",
                                status_code=303)
    status = 422 if action == "save" else 200
    response = page(request, "knowledge_card.html", staff, **result, **_labels(staff))
    response.status_code = status
    return response


def _served_card(served: Content, card_id: str) -> Card:
    card = served.card(card_id)
    if card is None:
        raise service.NotFound("Không tìm thấy thẻ này.")
    return card


def _card_context(session: Session, served: Content, card: Card) -> dict[str, Any]:
    topic = served.topic(card.topic)
    return {"card": card, "topic": topic.title if topic else card.topic, "documents": served.documents,
            "versions": editing.history(session, card.id)}


def _labels(staff: auth.Staff) -> dict[str, Any]:
    return {"can_edit": staff.role == Role.EDITOR, "STATUS_LABELS": STATUS_LABELS, "ORIGIN_LABELS": ORIGIN_LABELS,
            "AUDIENCE_LABELS": AUDIENCE_LABELS}


def preview(card: Card, served: Content) -> dict[str, Any]:
    """What a child and a parent would read: the bot's own composition of the answer
    (the same call `KnowledgeBase._answer` makes), buttons included."""
    documents = {d.number: d for d in served.documents}
    cards = {c.id: c for c in served.cards} | {card.id: card}
    readers = {}
    for audience in ("child", "parent"):
        composed = compose_answer(card, audience, documents, cards)
        readers[audience] = {"register": composed.register, "messages": composed.messages}
    return readers


# ---- the form's values -----------------------------------------------------------------------------


def _messages_text(messages: tuple[str, ...]) -> str:
    return "\n\n".join(messages)


def _split_messages(text: str) -> list[str]:
    """One chat message per paragraph: messages are separated by an empty line."""
    return [m.strip() for m in re.split(r"\n\s*\n", text.replace("\r\n", "\n")) if m.strip()]


def form_values(card: Card) -> dict[str, Any]:
    """The form's fields for a card, as text (what is shown and sent back)."""
    quote = card.quotes
    return {
        "title": card.title or "", "audience": card.audience,
        "child_answer": _messages_text(card.child_answer), "parent_answer": _messages_text(card.parent_answer),
        "questions": "\n".join(card.questions), "note": card.note,
        "checked_on": card.checked_on.isoformat() if card.checked_on else "",
        "reviewed_on": card.reviewed_on.isoformat() if card.reviewed_on else "",
        "citations": [{"document": c.document, "article": c.article or "", "clause": c.clause or ""}
                      for c in card.citations],
        "sources": [{"numbers": "; ".join(s.numbers), "document": s.document or "", "article": s.article or "",
                     "clause": s.clause or "", "page": s.page or "",
                     "checked": s.checked.isoformat() if s.checked else "", "note": s.note} for s in card.sources],
        "quote_document": quote.document if quote else "", "quote_text": quote.text if quote else "",
        "quote_as_of": quote.as_of.isoformat() if quote and quote.as_of else "",
        "comment": "",
    }


def values_from_form(form: Any) -> dict[str, Any]:
    """Exactly what was typed (trimmed of surrounding spaces), to redisplay it whatever its problems."""

    def one(name: str) -> str:
        value = form.get(name)
        return str(value).strip()[:FIELD_MAX_CHARS] if isinstance(value, str) else ""

    def rows(prefix: str, keys: tuple[str, ...]) -> list[dict[str, str]]:
        columns = [[str(v).strip()[:FIELD_MAX_CHARS] for v in form.getlist(f"{prefix}_{k}")] for k in keys]
        count = max((len(c) for c in columns), default=0)
        found = [{k: (col[i] if i < len(col) else "") for k, col in zip(keys, columns)} for i in range(count)]
        return [r for r in found if any(r.values())]

    return {
        **{k: one(k) for k in ("title", "audience", "child_answer", "parent_answer", "questions", "note",
                               "checked_on", "reviewed_on", "quote_document", "quote_text", "quote_as_of",
                               "comment")},
        "citations": rows("citation", ("document", "article", "clause")),
        "sources": rows("source", ("numbers", "document", "article", "clause", "page", "checked", "note")),
    }


def card_from_values(values: dict[str, Any], current: Card) -> tuple[Card | None, list[Problem]]:
    """The card the form describes, read by the content reader itself (so a date typed wrong
    is the same problem `validate` reports). Intents and follow-ups stay the card's own."""

    def optional(value: str) -> str | None:
        return value or None

    data: dict[str, Any] = {
        "id": current.id, "intents": list(current.intents), "audience": values["audience"],
        "questions": [q.strip() for q in values["questions"].splitlines() if q.strip()],
        "child_answer": _split_messages(values["child_answer"]),
        "parent_answer": _split_messages(values["parent_answer"]),
        "citations": [{"document": c["document"], "article": optional(c["article"]),
                       "clause": optional(c["clause"])} for c in values["citations"]],
        "checked_on": optional(values["checked_on"]), "reviewed_on": optional(values["reviewed_on"]),
        "follow_ups": list(current.follow_ups), "note": values["note"],
    }
    if values["title"]:
        data["title"] = values["title"]
    if values["quote_document"] or values["quote_text"] or values["quote_as_of"]:
        data["quotes"] = {"document": values["quote_document"], "text": values["quote_text"],
                          "as_of": optional(values["quote_as_of"])}
    if values["sources"]:
        data["sources"] = [{"numbers": [n.strip() for n in s["numbers"].split(";") if n.strip()],
                            **{k: s[k] for k in ("document", "article", "clause", "page", "checked", "note") if s[k]}}
                           for s in values["sources"]]
    return card_from_data(data, current.topic, current.source_file)


# ---- versions: diff, approve, reject, restore --------------------------------------------------------


@router.get("/{card_id}/versions/{version_id}", response_class=HTMLResponse)
async def version_page(request: Request, store: Store, staff: StaffDep, card_id: str, version_id: int,
                       error: str | None = None) -> HTMLResponse:
    reader(staff)
    return page(request, "knowledge_version.html", staff, **await _kb(store, _version_context(card_id, version_id)),
                error=error, **_labels(staff))


def _version_context(card_id: str, version_id: int) -> Callable[[Session], dict[str, Any]]:
    def work(session: Session) -> dict[str, Any]:
        served = read_content_from_database(session)
        card = _served_card(served, card_id)
        row = _version(session, card_id, version_id)
        before = session.get(kb_models.CardVersion, row.based_on_id) if row.based_on_id else None
        shown = editing.version_card(row, served)
        published = editing.published_version(session, card_id)
        return {"card": card, "version": row, "diff": editing.diff(before.data if before else None, row.data),
                "before": before, "preview": preview(shown, served),
                "problems": editing.check_card(served, shown) if row.status == editing.DRAFT else [],
                "is_published": published is not None and published.id == row.id,
                "same_as_published": published is not None and published.data == row.data}

    return work


def _version(session: Session, card_id: str, version_id: int) -> kb_models.CardVersion:
    try:
        return editing.version(session, version_id, card_id)
    except editing.EditError as error:
        raise service.NotFound(error.message) from error


async def _decide(request: Request, store: KnowledgeStore, ctx: Any, staff: auth.Staff, card_id: str,
                  version_id: int, action: str) -> Response:
    editor(staff)
    comment = str((await request.form()).get("comment") or "")[:editing.COMMENT_MAX_CHARS]

    def work(session: Session) -> tuple[str, int]:
        served = read_content_from_database(session)
        _version(session, card_id, version_id)
        if action == "approve":
            return "kb_published", editing.approve(session, served, version_id, staff.username).id
        if action == "reject":
            row = editing.reject(session, version_id, staff.username)
            return ("kb_withdrawn" if row.status == editing.WITHDRAWN else "kb_rejected"), row.id
        return "kb_restored", editing.restore(session, served, version_id, staff.username, comment).id

    try:
        message, result_id = await _kb(store, work)
    except editing.EditError as error:
        context = await _kb(store, _version_context(card_id, version_id))
        if error.problems:
            context["problems"] = error.problems
        response = page(request, "knowledge_version.html", staff, **context, error=error.message, **_labels(staff))
        response.status_code = 403 if error.code == "four_eyes" else 409
        return response
    await _audit(ctx, staff, {"kb_published": "kb_approved", "kb_rejected": "kb_rejected",
                              "kb_withdrawn": "kb_withdrawn", "kb_restored": "kb_restored"}[message],
                 card_id=card_id, version=result_id, **({"from_version": version_id} if action == "restore" else {}))
    return RedirectResponse(f"/console/knowledge/{card_id}/versions/{result_id}?msg={message}", status_code=303)


@router.post("/{card_id}/versions/{version_id}/approve")
async def approve(request: Request, store: Store, ctx: Ctx, staff: ActingStaff, card_id: str,
                  version_id: int) -> Response:
    return await _decide(request, store, ctx, staff, card_id, version_id, "approve")


@router.post("/{card_id}/versions/{version_id}/reject")
async def reject(request: Request, store: Store, ctx: Ctx, staff: ActingStaff, card_id: str,
                 version_id: int) -> Response:
    return await _decide(request, store, ctx, staff, card_id, version_id, "reject")


@router.post("/{card_id}/versions/{version_id}/restore")
async def restore(request: Request, store: Store, ctx: Ctx, staff: ActingStaff, card_id: str,
                  version_id: int) -> Response:
    return await _decide(request, store, ctx, staff, card_id, version_id, "restore")
