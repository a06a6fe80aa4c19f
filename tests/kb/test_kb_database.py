"""Schema, migrations and loading, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select

from actions.knowledge_base import models
from actions.knowledge_base.content import dump_content, read_content
from actions.knowledge_base.database import VERSION_TABLE, KnowledgeBaseDatabase, alembic_config
from actions.knowledge_base.feedback import feedback_summary, record_feedback
from actions.knowledge_base.loader import ContentError, ensure_loaded, read_content_from_database
from tests.kb.kb_paths import FIXTURE_CONTENT


def test_migration_creates_exactly_the_models_tables(database: KnowledgeBaseDatabase) -> None:
    database.migrate()
    assert database.is_migrated()
    with database.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}),
                                models.Base.metadata)
        tables = set(inspect(connection).get_table_names())
    assert [d for d in diff if not (d[0] == "remove_table" and d[1].name == VERSION_TABLE)] == []
    # Only our own prefixed tables: nothing that could collide with Rasa's tracker store or the gateway.
    assert all(t.startswith("kb_") for t in tables), tables


def test_migrations_go_down_and_up_again(database: KnowledgeBaseDatabase) -> None:
    database.migrate()
    with database.engine.begin() as connection:
        config = alembic_config(database.url)
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    with database.engine.connect() as connection:
        assert not [t for t in inspect(connection).get_table_names() if t != VERSION_TABLE]
    database.migrate()
    assert database.is_migrated()


def test_ensure_loaded_is_idempotent(database: KnowledgeBaseDatabase) -> None:
    first = ensure_loaded(database, FIXTURE_CONTENT)
    second = ensure_loaded(database, FIXTURE_CONTENT)
    assert first.loaded and first.card_count == 7
    assert not second.loaded and second.content_hash == first.content_hash
    with database.session() as session:
        assert session.scalar(select(models.ContentState.card_count)) == 7


def test_database_round_trip_keeps_the_content(loaded_database: KnowledgeBaseDatabase) -> None:
    expected = read_content(FIXTURE_CONTENT).content
    with loaded_database.session() as session:
        served = read_content_from_database(session)
    assert served.documents == expected.documents
    assert served.resources == expected.resources
    assert served.cards == expected.cards
    assert [t.slug for t in served.topics] == [t.slug for t in expected.topics]


def test_export_then_import_gives_the_same_content(loaded_database: KnowledgeBaseDatabase, tmp_path: Path) -> None:
    with loaded_database.session() as session:
        served = read_content_from_database(session)
    dump_content(served, tmp_path / "exported")
    again = read_content(tmp_path / "exported")
    assert again.problems == []
    assert again.content.cards == served.cards
    assert again.content.documents == served.documents


def test_changed_content_is_reloaded_and_feedback_survives(database: KnowledgeBaseDatabase, tmp_path: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(FIXTURE_CONTENT, content)
    ensure_loaded(database, content)
    database.migrate()
    record_feedback(database, "rights-child-age", True, "child")

    (content / "rights.yml").write_text(
        (content / "rights.yml").read_text(encoding="utf-8").replace(
            "trẻ em là người dưới 16 tuổi.", "trẻ em là người dưới 16 tuổi (chưa tròn 16)."), encoding="utf-8")
    result = ensure_loaded(database, content)
    assert result.loaded
    with database.session() as session:
        served = read_content_from_database(session)
    assert "chưa tròn 16" in served.card("rights-child-age").child_answer[0]
    assert [(s.card_id, s.helpful) for s in feedback_summary(database)] == [("rights-child-age", 1)]


def test_a_card_with_errors_is_left_out_and_the_rest_loads(database: KnowledgeBaseDatabase, tmp_path: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(FIXTURE_CONTENT, content)
    rights = content / "rights.yml"
    rights.write_text(rights.read_text(encoding="utf-8").replace('article: "25"', 'article: "99"'), encoding="utf-8")

    result = ensure_loaded(database, content)
    assert result.loaded and result.skipped_cards == ("rights-protection-sexual-abuse",)
    assert any("Điều 99" in p.message for p in result.problems)
    with database.session() as session:
        served = read_content_from_database(session)
    assert served.card("rights-protection-sexual-abuse") is None
    assert served.card("rights-child-age") is not None
    # the follow-up that pointed at the left-out card is gone too
    assert "rights-protection-sexual-abuse" not in served.card("reporting-how-to-report").follow_ups


def test_a_follow_up_to_a_missing_card_is_dropped_not_fatal(database: KnowledgeBaseDatabase, tmp_path: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(FIXTURE_CONTENT, content)
    rights = content / "rights.yml"
    rights.write_text(rights.read_text(encoding="utf-8").replace(
        "follow_ups: [reporting-how-to-report, penalty-sexual-abuse]",
        "follow_ups: [reporting-how-to-report, not-written-yet]"), encoding="utf-8")
    result = ensure_loaded(database, content)
    assert result.loaded and result.skipped_cards == ()
    with database.session() as session:
        card = read_content_from_database(session).card("rights-protection-sexual-abuse")
    assert card.follow_ups == ("reporting-how-to-report",)


def test_an_error_outside_the_cards_keeps_the_previous_content(database: KnowledgeBaseDatabase,
                                                               tmp_path: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(FIXTURE_CONTENT, content)
    ensure_loaded(database, content)
    documents = content / "documents.yml"
    documents.write_text(documents.read_text(encoding="utf-8").replace("kind: nghi_dinh", "kind: decree"),
                         encoding="utf-8")
    result = ensure_loaded(database, content)
    assert not result.loaded
    assert any("kind 'decree'" in p.message for p in result.problems)
    with database.session() as session:
        assert read_content_from_database(session).document("56/2017/NĐ-CP").kind == "nghi_dinh"


def test_invalid_content_in_an_empty_database_raises(database: KnowledgeBaseDatabase, tmp_path: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(FIXTURE_CONTENT, content)
    (content / "documents.yml").unlink()
    with pytest.raises(ContentError, match="documents.yml is missing"):
        ensure_loaded(database, content)


def test_feedback_keeps_no_user_identifier() -> None:
    columns = set(models.Feedback.__table__.columns.keys())
    assert columns == {"id", "card_id", "helpful", "audience", "created_at"}


def test_processes_starting_together_load_once(database_url: str) -> None:
    """Several action-server workers may start at once: migrate-and-load is serialised."""
    databases = [KnowledgeBaseDatabase(database_url) for _ in range(3)]
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda db: ensure_loaded(db, FIXTURE_CONTENT), databases))
    assert sorted(r.loaded for r in results) == [False, False, True]
    for db in databases:
        db.dispose()
