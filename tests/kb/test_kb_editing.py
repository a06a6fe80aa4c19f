"""Card versions and publication (editing.py), the action server following what editors
publish without a restart (service.default_knowledge_base), and the questions nobody
answered (unanswered.py). On SQLite and on PostgreSQL (the `database` fixture)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from actions.answer_question import ActionAnswerQuestion
from actions.knowledge_base import editing, service
from actions.knowledge_base.answer_counts import VIETNAM, answer_counts, count_answer
from actions.knowledge_base.cli import main
from actions.knowledge_base.content import Card, Content, read_content
from actions.knowledge_base.database import KnowledgeBaseDatabase
from actions.knowledge_base.loader import ensure_loaded, read_content_from_database
from actions.knowledge_base.models import CardVersion, UnansweredQuestion
from actions.knowledge_base.service import ConversationState, KnowledgeBase, UserMessage
from actions.knowledge_base.unanswered import (
    group_unanswered,
    record_unanswered,
    redact_question,
    start_purge_schedule,
)
from bot.settings import get_settings
from devtools.waiting import wait_for
from tests.kb.kb_paths import FIXTURE_CONTENT
from tests.kb.test_kb_actions import run, tracker

NEW_TEXT = "Em có quyền được an toàn. Mây đã được cập nhật câu trả lời này."


def served(database: KnowledgeBaseDatabase) -> Content:
    with database.session() as session:
        return read_content_from_database(session)


def a_child_card(content: Content) -> Card:
    return next(c for c in content.cards if c.child_answer)


def child_reads(knowledge_base: KnowledgeBase, card_id: str) -> str:
    reply = knowledge_base.respond(UserMessage("", entities={"kb_card": card_id}), ConversationState(audience="child"))
    return "\n".join(m.text for m in reply.messages)


def publish(database: KnowledgeBaseDatabase, card: Card, author: str = "an", approver: str = "binh") -> int:
    with database.session() as session:
        draft = editing.save_draft(session, read_content_from_database(session), card, author)
    with database.session() as session:
        editing.approve(session, read_content_from_database(session), draft.id, approver)
    return draft.id


def test_the_first_load_records_every_yaml_card_as_its_published_version(loaded_database: KnowledgeBaseDatabase) -> None:
    content = served(loaded_database)
    with loaded_database.session() as session:
        versions = {v.card_id: v for v in session.query(CardVersion).all()}
        assert editing.serving_version(session) >= 1
    assert set(versions) == {c.id for c in content.cards}
    assert {(v.status, v.origin, v.author) for v in versions.values()} == {("published", "yaml", "yaml")}


def test_a_draft_is_not_served_and_an_approved_one_is(loaded_database: KnowledgeBaseDatabase) -> None:
    card = a_child_card(served(loaded_database))
    changed = replace(card, child_answer=(NEW_TEXT, *card.child_answer[1:]))
    with loaded_database.session() as session:
        version_before = editing.serving_version(session)
        draft = editing.save_draft(session, read_content_from_database(session), changed, "an")

    assert NEW_TEXT not in child_reads(KnowledgeBase(served(loaded_database)), card.id)
    with loaded_database.session() as session, pytest.raises(editing.EditError, match="khác"):
        editing.approve(session, read_content_from_database(session), draft.id, "an")
    with loaded_database.session() as session:
        editing.approve(session, read_content_from_database(session), draft.id, "binh")
        assert editing.serving_version(session) == version_before + 1
    assert NEW_TEXT in child_reads(KnowledgeBase(served(loaded_database)), card.id)


def test_a_change_that_breaks_the_rules_is_refused_with_the_validators_problems(
        loaded_database: KnowledgeBaseDatabase) -> None:
    card = a_child_card(served(loaded_database))
    broken = replace(card, child_answer=(NEW_TEXT + " Mỗi tháng 777.000 đồng.",), citations=())
    with loaded_database.session() as session, pytest.raises(editing.EditError) as refused:
        editing.save_draft(session, read_content_from_database(session), broken, "an")
    messages = [p.message for p in refused.value.problems]
    assert "has no citations: every answer needs its legal basis" in messages
    assert any(m.startswith("the number 777.000 in child_answer message 1 has no source") for m in messages)


# ---- the action server follows what is published ---------------------------------------------------------


@pytest.fixture
def action_server_settings(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> Iterator[None]:
    """The process-wide knowledge base of an action server, on this test's database."""
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("KB_DATABASE_URL", database_url)
    monkeypatch.setenv("KB_CONTENT_DIR", str(FIXTURE_CONTENT))
    monkeypatch.setenv("KB_RELOAD_SECONDS", "1")
    get_settings.cache_clear()
    for name in ("_database", "_knowledge_base", "_serving", "_rebuilding"):
        monkeypatch.setattr(service, name, None)
    yield
    service.wait_for_rebuild(30)
    if service._database is not None:
        service._database.dispose()
    get_settings.cache_clear()


def test_the_action_server_answers_with_a_published_card_after_its_next_check_without_a_restart(
        action_server_settings: None) -> None:
    started = service.default_knowledge_base()
    card = a_child_card(started.content)
    publish(service.default_database(), replace(card, child_answer=(NEW_TEXT, *card.child_answer[1:])))

    assert NEW_TEXT not in child_reads(service.default_knowledge_base(), card.id)  # checked at most every second
    time.sleep(1.1)
    service.default_knowledge_base()  # the check: the serving version moved, the index is rebuilt aside
    service.wait_for_rebuild(30)

    now = service.default_knowledge_base()
    assert now is not started
    assert NEW_TEXT in child_reads(now, card.id)


# ---- questions nobody answered ----------------------------------------------------------------------------


def test_names_and_phone_numbers_are_redacted_from_a_kept_question() -> None:
    kept = redact_question("cô Hằng chủ nhiệm hay mắng em, em tên là Nguyễn Văn An, số em 0912 345 678, Luật Trẻ em "
                           "có cấm không")
    assert "Hằng" not in kept and "Nguyễn" not in kept and "0912" not in kept
    assert kept.startswith("cô [name] chủ nhiệm") and "[phone]" in kept and "Luật Trẻ em" in kept


def test_a_question_the_bot_could_not_answer_is_kept_redacted_for_editors(fixture_kb: KnowledgeBase,
                                                                           loaded_database: KnowledgeBaseDatabase) -> None:
    action = ActionAnswerQuestion(fixture_kb, unanswered_database=loaded_database)
    messages, _ = run(action, tracker("mình là Lan, cách làm bánh flan ngon thế nào", intent="nlu_fallback"))
    run(action, tracker("em lớp 7, em có quyền gì để không bị xâm hại tình dục?"))  # answered: not kept

    with loaded_database.session() as session:
        rows = session.query(UnansweredQuestion).all()
    assert messages and [r.text for r in rows] == ["mình là [name], cách làm bánh flan ngon thế nào"]
    assert rows[0].closest_card in {c.id for c in fixture_kb.content.cards}


def test_similar_questions_are_grouped_and_old_ones_deleted_on_the_retention_schedule(
        loaded_database: KnowledgeBaseDatabase) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    for days_ago, text in ((1, "cách làm bánh flan ngon"), (2, "cách làm bánh flan thế nào"),
                           (3, "học bơi ở đâu cho trẻ em"), (40, "cách làm bánh flan ngon nhất")):
        record_unanswered(loaded_database, text, "child", None, 0.1, 365, now=now - dt.timedelta(days=days_ago))

    with loaded_database.session() as session:
        groups = group_unanswered(session, now, retention_days=30)
        left = session.query(UnansweredQuestion).count()

    assert [(g.count, g.questions) for g in groups] == [
        (2, ["cách làm bánh flan ngon", "cách làm bánh flan thế nào"]), (1, ["học bơi ở đâu cho trẻ em"])]
    assert left == 3


def test_questions_past_retention_are_deleted_on_a_schedule_without_any_write_or_reading(
        loaded_database: KnowledgeBaseDatabase) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    record_unanswered(loaded_database, "cách làm bánh flan ngon", None, None, 0.1, 365, now=now - dt.timedelta(days=40))
    record_unanswered(loaded_database, "học bơi ở đâu", None, None, 0.1, 365, now=now - dt.timedelta(days=1))

    schedule = start_purge_schedule(lambda: loaded_database, lambda: 30, every_seconds=0.2)

    def texts() -> list[str]:
        with loaded_database.session() as session:
            return [q.text for q in session.query(UnansweredQuestion).all()]

    try:
        wait_for(lambda: texts() == ["học bơi ở đâu"], "the schedule's deletion", timeout=10)
    finally:
        schedule.stop()
    assert not schedule.thread.is_alive()


def test_export_writes_a_published_console_version_and_a_load_of_it_leaves_nothing_waiting(
        loaded_database: KnowledgeBaseDatabase, database_url: str, tmp_path: Path) -> None:
    card = a_child_card(served(loaded_database))
    publish(loaded_database, replace(card, child_answer=(NEW_TEXT, *card.child_answer[1:])))

    assert main(["--database", database_url, "export", "--out", str(tmp_path / "exported")]) == 0
    exported = read_content(tmp_path / "exported").content.card(card.id)
    assert exported is not None and exported.child_answer[0] == NEW_TEXT

    result = ensure_loaded(loaded_database, tmp_path / "exported")
    assert result.loaded
    with loaded_database.session() as session:
        assert editing.open_drafts(session) == []
        assert editing.published_version(session, card.id).origin == "console"  # type: ignore[union-attr]
    assert NEW_TEXT in child_reads(KnowledgeBase(served(loaded_database)), card.id)


# ---- how many questions were answered, for the reports page -------------------------------------------------


def test_every_reply_is_counted_by_its_kind_for_the_reports_page(fixture_kb: KnowledgeBase,
                                                                loaded_database: KnowledgeBaseDatabase) -> None:
    action = ActionAnswerQuestion(fixture_kb, unanswered_database=loaded_database)
    run(action, tracker("em lớp 7, em có quyền gì để không bị xâm hại tình dục?"))
    run(action, tracker("em lớp 7, em có quyền gì để không bị xâm hại tình dục?"))
    run(action, tracker("mình là Lan, cách làm bánh flan ngon thế nào", intent="nlu_fallback"))

    today = dt.datetime.now(VIETNAM).date()
    with loaded_database.session() as session:
        counts = answer_counts(session, today, today + dt.timedelta(days=1))
        before = answer_counts(session, today - dt.timedelta(days=7), today)
    assert counts["answer"] == 2 and counts["clarify"] + counts["topics"] == 1
    assert sum(before.values()) == 0


def test_two_counts_of_one_day_add_up_and_an_unknown_kind_is_refused(loaded_database: KnowledgeBaseDatabase) -> None:
    day = dt.date(2026, 12, 1)
    count_answer(loaded_database, "topics", "parent", day)
    count_answer(loaded_database, "topics", "parent", day)
    count_answer(loaded_database, "topics", None, day)
    with pytest.raises(ValueError):
        count_answer(loaded_database, "guess", "child", day)
    with loaded_database.session() as session:
        assert answer_counts(session, day, day + dt.timedelta(days=1))["topics"] == 3
