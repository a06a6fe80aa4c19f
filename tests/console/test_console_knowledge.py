"""Editing the legal knowledge base in the console (issue #16): the editor role, the list of
cards, the form with Preview and the validator, four eyes, publication, history and restore.

A real gateway (TestClient) over a fake Rasa, with a real knowledge-base database (SQLite
in the test's DATA_DIR) loaded from the reviewed YAML."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from actions.knowledge_base import editing
from actions.knowledge_base.citations import CHECKED_PREFIX, vn_date
from actions.knowledge_base.database import KnowledgeBaseDatabase
from actions.knowledge_base.loader import ensure_loaded, read_content_from_database
from actions.knowledge_base.models import CardVersion, Feedback, UnansweredQuestion
from actions.knowledge_base.service import ConversationState, KnowledgeBase, UserMessage
from actions.knowledge_base.settings import DEFAULT_CONTENT_DIR
from actions.knowledge_base.unanswered import record_unanswered
from bot.app import create_app
from bot.cases.models import AuditEntry, Role
from bot.db import Database
from bot.settings import Settings
from tests.console.console_support import PASSWORD, child_says, login, make_staff, new_conversation

CARD = "social-assistance-other-groups"
NEW_CHILD_TEXT = "Nếu nhà em là hộ nghèo hoặc cận nghèo và chỉ có bố hoặc mẹ nuôi em, bố mẹ em có thể được trợ cấp hằng tháng."


@pytest.fixture
def editors(settings: Settings) -> Settings:
    make_staff(settings, "an", Role.EDITOR, name="An")
    make_staff(settings, "binh", Role.EDITOR, name="Bình")
    make_staff(settings, "lan", Role.COUNSELLOR, name="Lan")
    make_staff(settings, "ha", Role.SUPERVISOR, name="Hà")
    return settings


@pytest.fixture
def kb(editors: Settings) -> Iterator[KnowledgeBaseDatabase]:
    database = KnowledgeBaseDatabase(editors.kb_database_url)
    yield database
    database.dispose()


def signed_in(settings: Settings, username: str) -> tuple[TestClient, str]:
    client = TestClient(create_app(settings))
    client.__enter__()
    return client, login(client, username)


@pytest.fixture
def an(editors: Settings) -> Iterator[tuple[TestClient, str]]:
    client, token = signed_in(editors, "an")
    yield client, token
    client.__exit__(None, None, None)


@pytest.fixture
def binh(editors: Settings, an: Any) -> Iterator[tuple[TestClient, str]]:
    client, token = signed_in(editors, "binh")
    yield client, token
    client.__exit__(None, None, None)


def form_of(client: TestClient, card_id: str) -> list[tuple[str, str]]:
    """The card's form as a browser would send it: every field, in order, with its value."""
    html = client.get(f"/console/knowledge/{card_id}").text
    form = html[html.index('id="card-form"'):html.index("</form>", html.index('id="card-form"'))]
    fields: list[tuple[str, str]] = []
    for match in re.finditer(r'<(input|textarea|select)\b([^>]*)>(.*?)(?=<(?:input|textarea|select|/form)\b|$)',
                             form, re.S):
        tag, attributes, rest = match.groups()
        name = re.search(r'name="([^"]+)"', attributes)
        if name is None or name.group(1) == "action":
            continue
        if tag == "input":
            value = re.search(r'value="([^"]*)"', attributes)
            fields.append((name.group(1), unescape(value.group(1)) if value else ""))
        elif tag == "textarea":
            fields.append((name.group(1), unescape(rest[:rest.index("</textarea>")])))
        else:
            chosen = re.search(r'<option value="([^"]*)" selected', rest[:rest.index("</select>")])
            fields.append((name.group(1), unescape(chosen.group(1)) if chosen else ""))
    return fields


def changed(fields: list[tuple[str, str]], **values: str) -> list[tuple[str, str]]:
    return [(name, values.get(name, value)) for name, value in fields]


def submit(client: TestClient, card_id: str, fields: list[tuple[str, str]], action: str) -> Any:
    """Press Preview or Save: the fields in order, repeated names (citation rows) as browsers send them."""
    token = dict(fields)["csrf_token"]
    body = [("csrf_token", token), ("action", action), *((k, v) for k, v in fields if k != "csrf_token")]
    return client.post(f"/console/knowledge/{card_id}", content=urlencode(body), follow_redirects=False,
                       headers={"content-type": "application/x-www-form-urlencoded"})


def child_answer_of(fields: list[tuple[str, str]]) -> str:
    return dict(fields)["child_answer"]


def served(kb: KnowledgeBaseDatabase) -> KnowledgeBase:
    with kb.session() as session:
        return KnowledgeBase(read_content_from_database(session))


def child_reads(knowledge_base: KnowledgeBase, card_id: str) -> str:
    reply = knowledge_base.respond(UserMessage("", entities={"kb_card": card_id}), ConversationState(audience="child"))
    return "\n".join(m.text for m in reply.messages)


def audit_actions(settings: Settings) -> list[tuple[str, str, dict[str, Any]]]:
    database = Database.from_settings(settings)
    try:
        with database.session() as session:
            return [(e.actor, e.action, e.detail) for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    finally:
        database.dispose()


def save_new_child_answer(client: TestClient, card_id: str = CARD, text: str = NEW_CHILD_TEXT) -> int:
    fields = form_of(client, card_id)
    response = submit(client, card_id, changed(fields, child_answer=text, comment="Thêm hộ cận nghèo"), "save")
    assert response.status_code == 303, response.text
    return int(re.search(r"/versions/(\d+)", response.headers["location"]).group(1))  # type: ignore[union-attr]


# ---- the role -------------------------------------------------------------------------------------


def test_an_editor_account_is_made_with_the_users_command(settings: Settings) -> None:
    env = {**os.environ, "DATA_DIR": str(settings.data_dir), "RASA_TOKEN": settings.rasa_token}
    made = subprocess.run([sys.executable, "-m", "bot.users", "create", "thu", "--name", "Thu", "--role", "editor",
                           "--password-stdin"], input=PASSWORD + "\n", text=True, capture_output=True, env=env)
    listed = subprocess.run([sys.executable, "-m", "bot.users", "list"], text=True, capture_output=True, env=env)

    assert made.returncode == 0, made.stderr
    assert re.search(r"thu\s+Thu\s+editor", listed.stdout), listed.stdout


def test_a_counsellor_is_refused_the_knowledge_pages(editors: Settings) -> None:
    client, token = signed_in(editors, "lan")
    try:
        assert client.get("/console/knowledge").status_code == 403
        assert client.get(f"/console/knowledge/{CARD}").status_code == 403
        refused = client.post(f"/console/knowledge/{CARD}", data={"csrf_token": token, "action": "save"})
        assert refused.status_code == 403
        assert "Nội dung pháp lý" not in client.get("/console/queue").text
    finally:
        client.__exit__(None, None, None)


def test_a_supervisor_reads_the_cards_but_cannot_save_or_approve(editors: Settings, an: Any) -> None:
    draft = save_new_child_answer(an[0])
    client, token = signed_in(editors, "ha")
    try:
        assert client.get("/console/knowledge").status_code == 200
        page = client.get(f"/console/knowledge/{CARD}").text
        assert 'id="preview"' in page and 'id="save"' not in page
        refused = submit(client, CARD, changed(form_of(client, CARD), child_answer="Khác"), "save")
        assert refused.status_code == 403
        approve = client.post(f"/console/knowledge/{CARD}/versions/{draft}/approve", data={"csrf_token": token})
        assert approve.status_code == 403
    finally:
        client.__exit__(None, None, None)


def test_an_editor_sees_no_case_and_cannot_take_one(editors: Settings, an: Any) -> None:
    client, token = an
    child_says(client, new_conversation(), "bo em danh em dau lam")
    case_id = 1

    assert client.get("/console/queue", follow_redirects=False).headers["location"] == "/console/knowledge"
    assert client.get("/console/api/queue").status_code == 403
    assert client.get(f"/console/cases/{case_id}").status_code == 403
    assert client.get(f"/console/api/cases/{case_id}/entries").status_code == 403
    assert client.post(f"/console/cases/{case_id}/take", data={"csrf_token": token}).status_code == 403
    counsellor, counsellor_token = signed_in(editors, "lan")
    try:
        assert counsellor.post(f"/console/cases/{case_id}/take", data={"csrf_token": counsellor_token},
                               follow_redirects=False).status_code == 303
        page = counsellor.get(f"/console/cases/{case_id}").text
        assert "An" not in re.findall(r"<option[^>]*>([^<]+)</option>", page)  # not offered for a transfer
    finally:
        counsellor.__exit__(None, None, None)


# ---- the list ---------------------------------------------------------------------------------------


def test_the_list_shows_every_card_with_topic_check_date_feedback_and_review_flag(an: Any,
                                                                                kb: KnowledgeBaseDatabase) -> None:
    client, _ = an
    client.get("/console/knowledge")  # loads the YAML into the fresh database
    now = dt.datetime.now(dt.timezone.utc)
    with kb.session() as session:
        session.add_all([Feedback(card_id=CARD, helpful=False, audience="parent", created_at=now) for _ in range(3)])
        session.add(Feedback(card_id=CARD, helpful=True, audience="child", created_at=now))
        content = read_content_from_database(session)

    page = client.get("/console/knowledge").text

    assert page.count("<tr data-card-id=") == len(content.cards)
    row = page[page.index(f'data-card-id="{CARD}"'):]
    row = row[:row.index("</tr>")]
    card = content.card(CARD)
    assert card is not None and card.checked_on is not None
    assert f'href="/console/knowledge/{CARD}"' in row
    assert content.topic(card.topic).title in unescape(row)  # type: ignore[union-attr]
    assert card.checked_on.strftime("%d/%m/%Y") in row
    assert re.search(r"<td>3</td>", row)
    due = [c.id for c in content.cards if "Cần rà soát" in page[page.index(f'data-card-id="{c.id}"'):].split("</tr>")[0]]
    assert due, "cards citing amended texts are flagged"


# ---- the form ------------------------------------------------------------------------------------------


def test_preview_shows_what_a_child_and_a_parent_would_read(an: Any, kb: KnowledgeBaseDatabase) -> None:
    client, _ = an
    fields = form_of(client, CARD)

    response = submit(client, CARD, changed(fields, child_answer=NEW_CHILD_TEXT), "preview")

    assert response.status_code == 200
    page = unescape(response.text)
    child = page[page.index('id="preview-child"'):page.index('id="preview-parent"')]
    parent = page[page.index('id="preview-parent"'):page.index('id="card-form"')]
    assert NEW_CHILD_TEXT in child and NEW_CHILD_TEXT not in parent
    card = served(kb).cards[CARD]
    assert card.parent_answer[0][:60] in parent
    assert f"{CHECKED_PREFIX} {vn_date(card.checked_on)}" in child  # the basis line the bot adds
    assert "Câu trả lời này có hữu ích không? Em bấm để mình biết nhé." in child  # as the bot asks a child
    assert child_reads(served(kb), CARD).count(NEW_CHILD_TEXT) == 0, "a preview changes nothing"


def test_a_validation_error_is_shown_in_the_form_and_nothing_typed_is_lost(an: Any, kb: KnowledgeBaseDatabase) -> None:
    client, _ = an
    typed = NEW_CHILD_TEXT + " Mỗi tháng được 999.000 đồng."
    fields = changed(form_of(client, CARD), child_answer=typed, checked_on="07/12/2026",
                     comment="một ghi chú của người sửa")

    response = submit(client, CARD, fields, "save")

    assert response.status_code == 422
    page = unescape(response.text)
    assert "the number 999.000 in child_answer message 1 has no source" in page  # provenance.py's own words
    assert "'checked_on' must be a date written YYYY-MM-DD" in page
    assert child_answer_of(form_of_page(page)) == typed
    assert dict(form_of_page(page))["checked_on"] == "07/12/2026"
    assert dict(form_of_page(page))["comment"] == "một ghi chú của người sửa"
    with kb.session() as session:
        assert editing.open_drafts(session, CARD) == []


def form_of_page(html: str) -> list[tuple[str, str]]:
    fields = []
    form = html[html.index('id="card-form"'):]
    for name, value in re.findall(r'<input name="([^"]+)" value="([^"]*)"', form):
        fields.append((name, value))
    for name, value in re.findall(r'<textarea name="([^"]+)"[^>]*>(.*?)</textarea>', form, re.S):
        fields.append((name, value))
    return fields


# ---- four eyes --------------------------------------------------------------------------------------------


def test_a_saved_change_is_a_draft_the_bot_does_not_serve(an: Any, kb: KnowledgeBaseDatabase) -> None:
    client, _ = an
    before = child_reads(served(kb), CARD) if _loaded(client) else ""

    draft = save_new_child_answer(client)

    with kb.session() as session:
        row = session.get(CardVersion, draft)
        assert row is not None and (row.status, row.author, row.origin) == ("draft", "an", "console")
    assert NEW_CHILD_TEXT not in child_reads(served(kb), CARD)
    assert child_reads(served(kb), CARD) == before


def _loaded(client: TestClient) -> bool:
    return client.get("/console/knowledge").status_code == 200


def test_the_author_cannot_approve_their_own_draft(an: Any, kb: KnowledgeBaseDatabase) -> None:
    client, token = an
    draft = save_new_child_answer(client)

    refused = client.post(f"/console/knowledge/{CARD}/versions/{draft}/approve", data={"csrf_token": token})

    assert refused.status_code == 403 and "biên tập viên khác" in refused.text
    assert NEW_CHILD_TEXT not in child_reads(served(kb), CARD)


def test_a_second_editor_approves_and_the_card_is_published_with_its_history(
        editors: Settings, an: Any, binh: Any, kb: KnowledgeBaseDatabase) -> None:
    draft = save_new_child_answer(an[0])
    with kb.session() as session:
        version_before = editing.serving_version(session)
        seed = editing.published_version(session, CARD)
        assert seed is not None and seed.origin == "yaml"

    approved = binh[0].post(f"/console/knowledge/{CARD}/versions/{draft}/approve",
                            data={"csrf_token": binh[1]}, follow_redirects=False)

    assert approved.status_code == 303
    assert NEW_CHILD_TEXT in child_reads(served(kb), CARD)
    with kb.session() as session:
        assert editing.serving_version(session) == version_before + 1
        row = session.get(CardVersion, draft)
        assert row is not None and (row.status, row.author, row.reviewer) == ("published", "an", "binh")
        assert row.published_at is not None
        assert session.get(CardVersion, seed.id).status == "superseded"  # type: ignore[union-attr]
    page = unescape(binh[0].get(f"/console/knowledge/{CARD}/versions/{draft}").text)
    assert f"+- {NEW_CHILD_TEXT}" in page and "Đang dùng" in page and "binh" in page
    actions = [(actor, action, detail.get("version")) for actor, action, detail in audit_actions(editors)]
    assert ("an", "kb_draft_saved", draft) in actions and ("binh", "kb_approved", draft) in actions


def test_an_old_version_is_restored_as_a_draft_and_published_after_approval(
        editors: Settings, an: Any, binh: Any, kb: KnowledgeBaseDatabase) -> None:
    draft = save_new_child_answer(an[0])
    binh[0].post(f"/console/knowledge/{CARD}/versions/{draft}/approve", data={"csrf_token": binh[1]})
    with kb.session() as session:
        seed = next(v for v in editing.history(session, CARD) if v.origin == "yaml")

    restored = an[0].post(f"/console/knowledge/{CARD}/versions/{seed.id}/restore", data={"csrf_token": an[1]},
                          follow_redirects=False)

    assert restored.status_code == 303
    restored_id = int(restored.headers["location"].split("/versions/")[1].split("?")[0])
    assert NEW_CHILD_TEXT in child_reads(served(kb), CARD), "a restore is a draft until approved"
    binh[0].post(f"/console/knowledge/{CARD}/versions/{restored_id}/approve", data={"csrf_token": binh[1]})
    assert NEW_CHILD_TEXT not in child_reads(served(kb), CARD)
    with kb.session() as session:
        row = session.get(CardVersion, restored_id)
        assert row is not None and (row.origin, row.restored_from_id, row.status) == ("restore", seed.id, "published")
        assert row.data == seed.data
    assert ("an", "kb_restored") in [(a, b) for a, b, _ in audit_actions(editors)]


def test_a_rejected_draft_is_kept_and_never_served(an: Any, binh: Any, kb: KnowledgeBaseDatabase) -> None:
    draft = save_new_child_answer(an[0])

    rejected = binh[0].post(f"/console/knowledge/{CARD}/versions/{draft}/reject", data={"csrf_token": binh[1]},
                            follow_redirects=False)

    assert rejected.status_code == 303
    with kb.session() as session:
        assert session.get(CardVersion, draft).status == "rejected"  # type: ignore[union-attr]
    assert NEW_CHILD_TEXT not in child_reads(served(kb), CARD)
    late = binh[0].post(f"/console/knowledge/{CARD}/versions/{draft}/approve", data={"csrf_token": binh[1]})
    assert late.status_code == 409


# ---- the YAML and the console ---------------------------------------------------------------------------


def test_a_loader_run_does_not_overwrite_a_card_published_in_the_console(
        an: Any, binh: Any, kb: KnowledgeBaseDatabase, tmp_path: Path) -> None:
    draft = save_new_child_answer(an[0])
    binh[0].post(f"/console/knowledge/{CARD}/versions/{draft}/approve", data={"csrf_token": binh[1]})

    ensure_loaded(kb, DEFAULT_CONTENT_DIR, force=True)
    assert NEW_CHILD_TEXT in child_reads(served(kb), CARD)

    # A developer changes the same card in the YAML: it waits as a draft for an editor.
    content = tmp_path / "content"
    content.mkdir()
    for path in DEFAULT_CONTENT_DIR.glob("*.yml"):
        (content / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    [file] = [p for p in content.glob("*.yml") if f"id: {CARD}" in p.read_text(encoding="utf-8")]
    text = file.read_text(encoding="utf-8")
    file.write_text(text.replace(f"id: {CARD}\n", f"id: {CARD}\n    note: sửa trong YAML\n", 1), encoding="utf-8")
    result = ensure_loaded(kb, content)

    assert result.loaded
    assert NEW_CHILD_TEXT in child_reads(served(kb), CARD)
    with kb.session() as session:
        [waiting] = editing.open_drafts(session, CARD)
        assert (waiting.origin, waiting.author, waiting.data.get("note")) == ("yaml", "yaml", "sửa trong YAML")


# ---- questions nobody answered ----------------------------------------------------------------------------


def test_editors_see_the_questions_nobody_answered_grouped_and_redacted(editors: Settings, an: Any,
                                                                         kb: KnowledgeBaseDatabase) -> None:
    client, _ = an
    client.get("/console/knowledge")  # loads the YAML into the fresh database
    now = dt.datetime.now(dt.timezone.utc)
    for days_ago, text in ((1, "mình là Lan, cách làm bánh flan ngon"), (2, "cách làm bánh flan thế nào"),
                           (3, "số của em 0912345678, học bơi ở đâu"), (45, "cách làm bánh flan ngon nhất")):
        record_unanswered(kb, text, "child", CARD, 0.1, 365, now=now - dt.timedelta(days=days_ago))

    page = unescape(client.get("/console/knowledge/unanswered").text)

    table = page[page.index('id="unanswered"'):]
    rows = table.split("<tr>")[2:]
    assert len(rows) == 2  # the two flan questions are one group; the one past 30 days is gone
    assert "mình là [name], cách làm bánh flan ngon" in rows[0] and "cách làm bánh flan thế nào" in rows[0]
    assert "<td>2</td>" in rows[0]
    assert "số của em [phone], học bơi ở đâu" in rows[1]
    assert "Lan" not in table and "0912345678" not in table and "ngon nhất" not in table
    with kb.session() as session:
        assert session.query(UnansweredQuestion).count() == 3
    assert ("an", "kb_unanswered_viewed") in [(a, b) for a, b, _ in audit_actions(editors)]
    counsellor, _ = signed_in(editors, "lan")
    try:
        assert counsellor.get("/console/knowledge/unanswered").status_code == 403
    finally:
        counsellor.__exit__(None, None, None)
