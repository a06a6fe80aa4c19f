"""Measure: in-memory index vs SQLite FTS5 vs PostgreSQL full-text, on the paraphrase sets.

    python tests/kb/compare_retrieval.py [--postgres postgresql+psycopg://postgres@127.0.0.1/postgres]

Not a test (pytest does not collect it): the measurement behind the choice
written in actions/knowledge_base/retrieval.py. Every engine gets the same
canonical text (accent-free, teencode expanded) so only the ranking differs.
Each database ranks one document per card (example questions, titles and
answers), queried with the question's words OR-ed together.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from actions.knowledge_base.content import read_content  # noqa: E402
from actions.knowledge_base.evaluation import read_paraphrases  # noqa: E402
from actions.knowledge_base.retrieval import RetrievalIndex, canonical_form  # noqa: E402


def card_documents(content) -> dict[str, str]:  # type: ignore[no-untyped-def]
    titles = {t.slug: t.title for t in content.topics}
    return {c.id: canonical_form(" ".join([titles.get(c.topic, ""), c.title or "", *c.questions,
                                           *c.child_answer, *c.parent_answer])) for c in content.cards}


def score(name: str, rank, questions: list[dict]) -> None:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    right = sum(rank(q["q"]) == q["expect_card"] for q in questions)
    elapsed = (time.perf_counter() - started) * 1000 / len(questions)
    print(f"{name:<28} top-1 {right / len(questions):6.1%}   {elapsed:6.2f} ms/question")


def fts5(documents: dict[str, str]):  # type: ignore[no-untyped-def]
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE cards USING fts5(card_id UNINDEXED, body)")
    db.executemany("INSERT INTO cards VALUES (?, ?)", documents.items())

    def rank(text: str) -> str | None:
        words = sorted(set(canonical_form(text).split()))
        if not words:
            return None
        row = db.execute("SELECT card_id FROM cards WHERE cards MATCH ? ORDER BY bm25(cards) LIMIT 1",
                         (" OR ".join(f'"{w}"' for w in words),)).fetchone()
        return row[0] if row else None

    return rank


def postgres(documents: dict[str, str], admin_url: str):  # type: ignore[no-untyped-def]
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"kb_compare_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(make_url(admin_url).set(database=name))
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE cards (card_id text, body tsvector)"))
        for card_id, body in documents.items():
            connection.execute(text("INSERT INTO cards VALUES (:id, to_tsvector('simple', :body))"),
                               {"id": card_id, "body": body})
    connection = engine.connect()

    def rank(question: str) -> str | None:
        words = sorted(set(canonical_form(question).split()))
        if not words:
            return None
        query = " | ".join(words)
        return connection.execute(text(
            "SELECT card_id FROM cards WHERE body @@ to_tsquery('simple', :q) "
            "ORDER BY ts_rank(body, to_tsquery('simple', :q)) DESC LIMIT 1"), {"q": query}).scalar()

    def close() -> None:
        connection.close()
        engine.dispose()
        with admin.connect() as admin_connection:
            admin_connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    rank.close = close  # type: ignore[attr-defined]
    return rank


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()

    content = read_content(ROOT / "actions" / "knowledge_base" / "content").content
    questions = [q for q in read_paraphrases(sorted((ROOT / "tests" / "kb").glob("paraphrases_part*.yml")))
                 if q.get("expect_card")]
    documents = card_documents(content)
    print(f"{len(questions)} paraphrases, {len(documents)} cards")

    started = time.perf_counter()
    index = RetrievalIndex(content.cards, {t.slug: t.title for t in content.topics})
    print(f"in-memory index built in {time.perf_counter() - started:.2f} s")
    score("in-memory (ours)", lambda q: index.rank(q, limit=1)[0].card_id, questions)
    score("SQLite FTS5 bm25", fts5(documents), questions)
    try:
        rank = postgres(documents, args.postgres)
    except Exception as error:  # noqa: BLE001
        print(f"PostgreSQL skipped: {error}")
        return 0
    score("PostgreSQL ts_rank", rank, questions)
    rank.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
