"""Database tables of the legal knowledge base (SQLAlchemy 2 typed ORM).

Every table is prefixed `kb_` and the migrations keep their own version table,
so the knowledge base can share a PostgreSQL database with the gateway or Rasa's
tracker store without touching their tables. The content tables hold what the bot
serves: rewritten from the reviewed YAML on every load, with the cards editors published
in the console taking their place (`editing.py`). `kb_feedback`, `kb_card_versions`,
`kb_serving_version` and `kb_unanswered` hold data of their own.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Named constraints keep Alembic migrations portable between SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

DOCUMENT_KINDS = ("luat", "bo_luat", "nghi_dinh", "thong_tu", "quyet_dinh", "nghi_quyet", "chi_thi")
DOCUMENT_STATUSES = ("in_force", "amended", "replaced")
AUDIENCES = ("child", "parent", "both")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class LegalDocument(Base):
    __tablename__ = "kb_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)  # "102/2016/QH13", as the law writes it
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(300))
    short_name: Mapped[str] = mapped_column(String(200))
    issued: Mapped[dt.date | None] = mapped_column(Date)
    in_force: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    replaced_by: Mapped[str | None] = mapped_column(String(64))  # a number; the new text may not be in our list
    note: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)

    amendments: Mapped[list[DocumentAmendment]] = relationship(
        back_populates="document", cascade="all, delete-orphan", order_by="DocumentAmendment.position"
    )
    provisions: Mapped[list[Provision]] = relationship(
        back_populates="document", cascade="all, delete-orphan", order_by="Provision.position"
    )


class DocumentAmendment(Base):
    """One document that amended another (by number: it may not be in our list)."""

    __tablename__ = "kb_document_amendments"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("kb_documents.id", ondelete="CASCADE"), index=True)
    amended_by: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer, default=0)

    document: Mapped[LegalDocument] = relationship(back_populates="amendments")


class Provision(Base):
    __tablename__ = "kb_provisions"
    __table_args__ = (UniqueConstraint("document_id", "article", "clause", name="uq_kb_provisions_citation"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("kb_documents.id", ondelete="CASCADE"), index=True)
    article: Mapped[str] = mapped_column(String(16))  # plain digits, e.g. "25"
    clause: Mapped[str | None] = mapped_column(String(16))
    short_title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text)  # our own words, never the law's text
    position: Mapped[int] = mapped_column(Integer, default=0)

    document: Mapped[LegalDocument] = relationship(back_populates="provisions")


class Topic(Base):
    __tablename__ = "kb_topics"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)

    cards: Mapped[list[AnswerCard]] = relationship(back_populates="topic", order_by="AnswerCard.position")


class AnswerCard(Base):
    __tablename__ = "kb_cards"

    id: Mapped[str] = mapped_column(String(120), primary_key=True)  # the slug writers give it
    topic_id: Mapped[int] = mapped_column(ForeignKey("kb_topics.id", ondelete="CASCADE"), index=True)
    title: Mapped[str | None] = mapped_column(String(200))  # optional short label for buttons
    audience: Mapped[str] = mapped_column(String(8))
    child_answer: Mapped[list[str]] = mapped_column(JSON, default=list)
    parent_answer: Mapped[list[str]] = mapped_column(JSON, default=list)
    note: Mapped[str] = mapped_column(Text, default="")
    checked_on: Mapped[dt.date] = mapped_column(Date)  # facts last checked against the text
    quotes: Mapped[dict | None] = mapped_column(JSON)  # {document, text, as_of}: an older version quoted
    sources: Mapped[list[dict]] = mapped_column(JSON, default=list)  # where its numbers come from
    reviewed_on: Mapped[dt.date] = mapped_column(Date)
    source_file: Mapped[str] = mapped_column(String(200))  # so staff tools can name the file
    position: Mapped[int] = mapped_column(Integer, default=0)

    topic: Mapped[Topic] = relationship(back_populates="cards")
    intents: Mapped[list[CardIntent]] = relationship(
        cascade="all, delete-orphan", order_by="CardIntent.position"
    )
    questions: Mapped[list[CardQuestion]] = relationship(
        cascade="all, delete-orphan", order_by="CardQuestion.position"
    )
    citations: Mapped[list[CardCitation]] = relationship(
        cascade="all, delete-orphan", order_by="CardCitation.position"
    )
    follow_ups: Mapped[list[CardFollowUp]] = relationship(
        cascade="all, delete-orphan", order_by="CardFollowUp.position", foreign_keys="CardFollowUp.card_id"
    )


class CardIntent(Base):
    __tablename__ = "kb_card_intents"
    __table_args__ = (UniqueConstraint("card_id", "intent", name="uq_kb_card_intents_card_intent"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[str] = mapped_column(ForeignKey("kb_cards.id", ondelete="CASCADE"), index=True)
    intent: Mapped[str] = mapped_column(String(64), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class CardQuestion(Base):
    """An example question, as people type it: what free-text retrieval matches against."""

    __tablename__ = "kb_card_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[str] = mapped_column(ForeignKey("kb_cards.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer, default=0)


class CardCitation(Base):
    """What a card cites: a document, usually one of its articles (and clause).

    Kept as written (article and clause may be empty: some texts are cited as a
    whole while their article numbers are unverified), with a link to the
    provision it resolved to when `documents.yml` lists one.
    """

    __tablename__ = "kb_card_citations"

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[str] = mapped_column(ForeignKey("kb_cards.id", ondelete="CASCADE"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("kb_documents.id", ondelete="CASCADE"), index=True)
    article: Mapped[str | None] = mapped_column(String(16))
    clause: Mapped[str | None] = mapped_column(String(16))
    provision_id: Mapped[int | None] = mapped_column(ForeignKey("kb_provisions.id", ondelete="SET NULL"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    document: Mapped[LegalDocument] = relationship()
    provision: Mapped[Provision | None] = relationship()


class CardFollowUp(Base):
    __tablename__ = "kb_card_follow_ups"

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[str] = mapped_column(ForeignKey("kb_cards.id", ondelete="CASCADE"), index=True)
    follow_up_id: Mapped[str] = mapped_column(ForeignKey("kb_cards.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=0)


class Resource(Base):
    """A hotline or service people can turn to."""

    __tablename__ = "kb_resources"

    slug: Mapped[str] = mapped_column(String(80), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    number: Mapped[str] = mapped_column(String(40), default="")
    hours: Mapped[str] = mapped_column(String(100), default="")
    cost: Mapped[str] = mapped_column(String(100), default="")
    scope: Mapped[str] = mapped_column(String(16), default="national")
    description: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(500), default="")  # the official page giving the number
    checked: Mapped[dt.date | None] = mapped_column(Date)
    position: Mapped[int] = mapped_column(Integer, default=0)


class AnswerCount(Base):
    """How many questions the bot answered with a card, answered with choices (`clarify`), answered
    with the list of topics (`topics`) or had to ask who is asking (`ask_audience`), per day and
    register: the reports page's knowledge-base counts. Counts only, nothing of the question."""

    __tablename__ = "kb_answer_counts"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    audience: Mapped[str] = mapped_column(String(8), primary_key=True)  # "" when not known
    count: Mapped[int] = mapped_column(Integer, default=0)


class Feedback(Base):
    """A "was this helpful?" answer. No sender id or message text: only what improving a card needs.

    `card_id` is deliberately not a foreign key: feedback must outlive content
    reloads, and a card removed from the YAML keeps its history.
    """

    __tablename__ = "kb_feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[str] = mapped_column(String(120), index=True)
    helpful: Mapped[bool] = mapped_column(Boolean)
    audience: Mapped[str | None] = mapped_column(String(8))  # the register the answer was given in
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class ContentState(Base):
    """Which content the database holds: `ensure_loaded()` reloads when the hash changes."""

    __tablename__ = "kb_content_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    loaded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    card_count: Mapped[int] = mapped_column(Integer)


class CardVersion(Base):
    """One version of one card: what a console edit, a restore or the YAML made of it.

    `data` is the card in the YAML's own shape (`content.card_data`), dates as ISO text.
    Life cycle (`editing.py`): a `draft` waits for a second editor; approving it makes it
    `published` (the one the bot serves; the one before becomes `superseded`); a draft can be
    `rejected`, or `withdrawn` when a newer draft of the same card replaces it. Rows are
    never deleted: they are the card's history.
    """

    __tablename__ = "kb_card_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[str] = mapped_column(String(120), index=True)  # no FK: history outlives the card
    status: Mapped[str] = mapped_column(String(16), index=True)
    origin: Mapped[str] = mapped_column(String(16))  # yaml | console | restore
    data: Mapped[dict] = mapped_column(JSON)
    based_on_id: Mapped[int | None] = mapped_column(Integer)  # the published version it was edited from
    restored_from_id: Mapped[int | None] = mapped_column(Integer)
    author: Mapped[str] = mapped_column(String(64))  # console username, or "yaml"
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    reviewer: Mapped[str | None] = mapped_column(String(64))  # who approved or rejected it
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    published_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    comment: Mapped[str] = mapped_column(Text, default="")  # the author's "what changed and why"


class ServingVersion(Base):
    """A number raised each time what the bot serves changes (a load, a publication).

    The action server compares it with the one it indexed, at most every
    `KB_RELOAD_SECONDS`, and rebuilds its index when it moved (`service.default_knowledge_base`).
    """

    __tablename__ = "kb_serving_version"

    id: Mapped[int] = mapped_column(primary_key=True)  # always 1
    version: Mapped[int] = mapped_column(Integer)
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class UnansweredQuestion(Base):
    """A question the bot could not answer confidently, kept for editors (`unanswered.py`).

    Only the redacted text (names, phone numbers, e-mails, ids, addresses replaced),
    the register, and the closest card: no sender, no conversation. Deleted after
    RETENTION_CONVERSATION_DAYS, like the conversations it came from.
    """

    __tablename__ = "kb_unanswered"

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    audience: Mapped[str | None] = mapped_column(String(8))
    closest_card: Mapped[str | None] = mapped_column(String(120))
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
