"""Moves content between the YAML files and the database.

`ensure_loaded()` is what the action server calls at start: migrate, then load
the YAML if the database is empty or the content hash changed; cards editors
published in the console keep their console version (`editing.py`). What is wrong
never reaches a child: a card with errors is left out (the rest still loads, so
one typo does not take every answer offline), a follow-up to a card that does
not exist (yet) is dropped, and an error outside the cards (documents.yml, a
topic header, unreadable YAML) blocks the whole load: the previous content
stays in service, or an empty database raises. `validate` (and the tests)
still fail on all of these, so broken content is fixed before it ships.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, selectinload

from actions.knowledge_base import models
from actions.knowledge_base.content import (
    Card,
    Citation,
    Content,
    Document,
    Problem,
    Provision,
    Quote,
    Resource,
    Source,
    Topic,
    content_hash,
    quote_dict,
    read_content,
    source_dict,
)
from actions.knowledge_base.database import KnowledgeBaseDatabase
from actions.knowledge_base.editing import plan_yaml_reconciliation, raise_serving_version
from actions.knowledge_base.validation import errors_only, validate

logger = logging.getLogger(__name__)


class ContentError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        listed = "\n".join(f"  {p}" for p in problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"the knowledge-base content has {len(problems)} error(s):\n{listed}{more}")


@dataclass(frozen=True)
class LoadResult:
    loaded: bool  # False when the database already held this content, or it could not be loaded
    content_hash: str
    card_count: int
    problems: tuple[Problem, ...] = ()
    skipped_cards: tuple[str, ...] = ()


def ensure_loaded(database: KnowledgeBaseDatabase, content_dir: Path, *, force: bool = False) -> LoadResult:
    """Idempotent: migrate, then (re)load only when the content changed. One process at a time."""
    with database.exclusive():
        return _ensure_loaded(database, content_dir, force)


def _ensure_loaded(database: KnowledgeBaseDatabase, content_dir: Path, force: bool) -> LoadResult:
    database.migrate()
    current_hash = content_hash(content_dir)
    with database.session() as session:
        state = session.get(models.ContentState, 1)
        if state is not None and state.content_hash == current_hash and not force:
            return LoadResult(False, current_hash, state.card_count)
        has_content = state is not None

    reading = read_content(content_dir)
    with database.session() as session:
        # Cards editors published in the console stay served (editing.py); the plan's
        # versions are recorded only if this load goes ahead.
        reconciliation = plan_yaml_reconciliation(session, reading.content)
        content, dropped = without_missing_follow_ups(reconciliation.content)
        if dropped:
            logger.warning("follow-ups to cards that do not exist, left out: %s", ", ".join(dropped))
        if reconciliation.yaml_drafts:
            logger.warning("YAML changes to cards edited in the console wait for an editor's approval: %s",
                           ", ".join(reconciliation.yaml_drafts))
        problems = validate(content, reading.problems)
        errors = errors_only(problems)
        blocking = [p for p in errors if p.card is None]
        if blocking:
            if has_content:
                logger.error("not loading the changed knowledge-base content; the previous content stays.\n%s",
                             ContentError(blocking))
                return LoadResult(False, current_hash, 0, tuple(problems))
            raise ContentError(blocking)

        broken = sorted({p.card for p in errors if p.card})
        if broken:
            logger.error("knowledge-base cards left out until fixed: %s\n%s", ", ".join(broken),
                         ContentError(errors))
            content, _ = without_missing_follow_ups(replace(content, cards=[c for c in content.cards
                                                                            if c.id not in broken]))
        reconciliation.apply(session, skip=broken)
        load_content(session, content, current_hash)
        raise_serving_version(session)
    logger.info("knowledge base loaded from %s: %d cards", content_dir, len(content.cards))
    return LoadResult(True, current_hash, len(content.cards), tuple(problems), tuple(broken))


def without_missing_follow_ups(content: Content) -> tuple[Content, list[str]]:
    """A follow-up button to a card that is not there (yet) is simply not shown."""
    ids = {card.id for card in content.cards}
    dropped = [f"{c.id} -> {f}" for c in content.cards for f in c.follow_ups if f not in ids]
    cards = [replace(c, follow_ups=tuple(f for f in c.follow_ups if f in ids)) for c in content.cards]
    return replace(content, cards=cards), dropped


def load_content(session: Session, content: Content, content_hash_value: str) -> None:
    """Replace every content table with `content` (feedback stays), in the caller's transaction."""
    for table in (models.CardFollowUp, models.CardCitation, models.CardQuestion, models.CardIntent,
                  models.AnswerCard, models.Topic, models.Provision, models.DocumentAmendment,
                  models.LegalDocument, models.Resource, models.ContentState):
        session.execute(delete(table))
    session.flush()

    document_rows: dict[str, models.LegalDocument] = {}
    provision_rows: dict[tuple[str, str, str | None], models.Provision] = {}
    for position, document in enumerate(content.documents):
        row = models.LegalDocument(
            number=document.number, kind=document.kind, title=document.title, short_name=document.short_name,
            issued=document.issued, in_force=document.in_force, status=document.status,
            replaced_by=document.replaced_by, note=document.note, position=position,
            amendments=[models.DocumentAmendment(amended_by=n, position=i) for i, n in enumerate(document.amended_by)],
        )
        for p_position, provision in enumerate(document.provisions):
            provision_row = models.Provision(article=provision.article, clause=provision.clause,
                                             short_title=provision.short_title, summary=provision.summary,
                                             position=p_position)
            row.provisions.append(provision_row)
            provision_rows[(document.number, provision.article, provision.clause)] = provision_row
        document_rows[document.number] = row
        session.add(row)

    for position, resource in enumerate(content.resources):
        session.add(models.Resource(slug=resource.slug, name=resource.name, number=resource.number,
                                    hours=resource.hours, cost=resource.cost, scope=resource.scope,
                                    description=resource.description, source=resource.source,
                                    checked=resource.checked, position=position))

    topics = {}
    for position, topic in enumerate(content.topics):
        topics[topic.slug] = models.Topic(slug=topic.slug, title=topic.title, position=position)
        session.add(topics[topic.slug])
    session.flush()

    for position, card in enumerate(content.cards):
        session.add(models.AnswerCard(
            id=card.id, topic_id=topics[card.topic].id, title=card.title, audience=card.audience,
            child_answer=list(card.child_answer), parent_answer=list(card.parent_answer), note=card.note,
            checked_on=card.checked_on, quotes=_quote_json(card.quotes), reviewed_on=card.reviewed_on,
            sources=[_json_dates(source_dict(s)) for s in card.sources],
            source_file=card.source_file,
            position=position,
            intents=[models.CardIntent(intent=intent, position=i) for i, intent in enumerate(card.intents)],
            questions=[models.CardQuestion(text=q, position=i) for i, q in enumerate(card.questions)],
            citations=[_citation_row(c, i, content, document_rows, provision_rows)
                       for i, c in enumerate(card.citations)],
        ))
    session.flush()  # follow-ups point at cards, so they go in after every card exists
    for card in content.cards:
        for i, follow_up in enumerate(card.follow_ups):
            session.add(models.CardFollowUp(card_id=card.id, follow_up_id=follow_up, position=i))

    session.add(models.ContentState(id=1, content_hash=content_hash_value, card_count=len(content.cards),
                                    loaded_at=dt.datetime.now(dt.timezone.utc)))


def _citation_row(citation: Citation, position: int, content: Content,
                  document_rows: dict[str, models.LegalDocument],
                  provision_rows: dict[tuple[str, str, str | None], models.Provision]) -> models.CardCitation:
    document = content.document(citation.document)
    provision = document.resolve(citation.article, citation.clause) if document else None
    return models.CardCitation(
        document=document_rows[citation.document], article=citation.article, clause=citation.clause,
        provision=provision_rows[(citation.document, provision.article, provision.clause)] if provision else None,
        position=position,
    )


def read_content_from_database(session: Session) -> Content:
    """The content as the bot serves it (also what `export` writes back to YAML)."""
    documents = session.scalars(
        select(models.LegalDocument).order_by(models.LegalDocument.position)
        .options(selectinload(models.LegalDocument.provisions), selectinload(models.LegalDocument.amendments))
    ).all()
    cards = session.scalars(
        select(models.AnswerCard).order_by(models.AnswerCard.position).options(
            selectinload(models.AnswerCard.topic), selectinload(models.AnswerCard.intents),
            selectinload(models.AnswerCard.questions), selectinload(models.AnswerCard.follow_ups),
            selectinload(models.AnswerCard.citations).selectinload(models.CardCitation.document),
        )
    ).all()
    topics = session.scalars(select(models.Topic).order_by(models.Topic.position)).all()
    resources = session.scalars(select(models.Resource).order_by(models.Resource.position)).all()
    first_file = {card.topic.slug: card.source_file for card in reversed(cards)}

    return Content(
        documents=[Document(
            number=d.number, kind=d.kind, short_name=d.short_name, title=d.title, issued=d.issued,
            in_force=d.in_force, status=d.status, amended_by=tuple(a.amended_by for a in d.amendments),
            replaced_by=d.replaced_by, note=d.note,
            provisions=tuple(Provision(p.article, p.clause, p.short_title, p.summary) for p in d.provisions),
        ) for d in documents],
        resources=[Resource(r.slug, r.name, r.number, r.hours, r.cost, r.scope, r.description, r.source, r.checked)
                   for r in resources],
        topics=[Topic(t.slug, t.title, first_file.get(t.slug, f"{t.slug}.yml")) for t in topics],
        cards=[Card(
            id=c.id, topic=c.topic.slug, intents=tuple(i.intent for i in c.intents), audience=c.audience,
            questions=tuple(q.text for q in c.questions), child_answer=tuple(c.child_answer),
            parent_answer=tuple(c.parent_answer),
            citations=tuple(Citation(x.document.number, x.article, x.clause) for x in c.citations),
            checked_on=c.checked_on, quotes=_quote_from_json(c.quotes), reviewed_on=c.reviewed_on,
            sources=tuple(_source_from_json(s) for s in c.sources or ()),
            follow_ups=tuple(f.follow_up_id for f in c.follow_ups), title=c.title, note=c.note,
            source_file=c.source_file,
        ) for c in cards],
    )


def _json_dates(data: dict) -> dict:
    """JSON columns hold dates as ISO text."""
    return {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in data.items()}


def _date_from_json(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def _quote_json(quote: Quote | None) -> dict | None:
    return _json_dates(quote_dict(quote)) if quote else None


def _quote_from_json(data: dict | None) -> Quote | None:
    if not data:
        return None
    return Quote(document=data["document"], text=data["text"], as_of=_date_from_json(data.get("as_of")))


def _source_from_json(data: dict) -> Source:
    return Source(numbers=tuple(data["numbers"]), document=data.get("document"), article=data.get("article"),
                  clause=data.get("clause"), page=data.get("page"), checked=_date_from_json(data.get("checked")),
                  note=data.get("note", ""))


def card_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(models.AnswerCard)) or 0
