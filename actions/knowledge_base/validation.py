"""Checks the content before it can reach a child: every problem names its file and card.

Errors block loading; warnings are printed by `validate` but do not. Among them, the
provenance rules of `provenance.py`: a number in an answer without a source is an error;
a source amended after the day it was checked against is a warning.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Callable, Iterable

from actions.knowledge_base.content import Card, Content, Document, Problem, DOCUMENTS_FILE, RESOURCES_FILE
from actions.knowledge_base.models import AUDIENCES, DOCUMENT_KINDS, DOCUMENT_STATUSES
from actions.knowledge_base.provenance import amended_after_check, stale_numbers, unsourced_numbers
from actions.knowledge_base.text import canonical

CHILD_MESSAGE_LIMIT = 350
PARENT_MESSAGE_LIMIT = 700
QUESTIONS_MIN, QUESTIONS_MAX = 3, 14  # more example phrasings make retrieval robust
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
DIGITS = re.compile(r"^\d+$")
INTENT = re.compile(r"^[a-z][a-z0-9_]*$")
# "102/2016/QH13", "56/2017/NĐ-CP", "09/2020/TT-BLĐTBXH", "1591/QĐ-TTg", "28-CT/TW"
DOCUMENT_NUMBER = re.compile(r"^\d+[/-][0-9A-Za-zĐđ/-]+$")
# Written the law's way: Đ, never a plain D, in NĐ, QĐ, BLĐTBXH ...
UNACCENTED_D = re.compile(r"(?:^|[/-])(?:ND|QD|[A-Z]*LDTBXH|BGDDT)(?:$|[/-])")


def errors_only(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]


def validate(content: Content, reading_problems: Iterable[Problem] = (), *, today: dt.date | None = None,
             known_intents: set[str] | None = None) -> list[Problem]:
    """All problems: those found while reading, then the content rules below."""
    problems = list(reading_problems)
    today = today or dt.date.today()
    problems += _check_documents(content.documents)
    problems += _check_resources(content)
    problems += _check_topics(content)
    problems += _check_cards(content, today, known_intents)
    return problems


def _reporter(problems: list[Problem], file: str, where: str,
              card: str | None = None) -> Callable[..., None]:
    """`add(message, severity="error")` for one document or card."""

    def add(message: str, severity: str = "error") -> None:
        problems.append(Problem(file, where, message, severity, card=card))

    return add


def _check_documents(documents: list[Document]) -> list[Problem]:
    problems = []
    seen: set[str] = set()
    for document in documents:
        error = _reporter(problems, DOCUMENTS_FILE, f"document '{document.number}'")

        if not document.number:
            error("has no number")
            continue
        if document.number in seen:
            error("is listed twice")
        seen.add(document.number)
        if not DOCUMENT_NUMBER.match(document.number):
            error("number should look like 102/2016/QH13 or 56/2017/NĐ-CP")
        if UNACCENTED_D.search(document.number):
            error("write the number as the law does, with Đ (e.g. 56/2017/NĐ-CP, not ND-CP)")
        if document.kind not in DOCUMENT_KINDS:
            error(f"kind '{document.kind}' is not one of {', '.join(DOCUMENT_KINDS)}")
        for key in ("short_name", "title"):
            if not getattr(document, key):
                error(f"has no {key}")
        if document.status not in DOCUMENT_STATUSES:
            error(f"status '{document.status}' is not one of {', '.join(DOCUMENT_STATUSES)}")
        if document.status == "replaced" and not document.replaced_by:
            error("status is replaced but replaced_by is empty: say which text replaced it")
        if document.replaced_by and document.status != "replaced":
            error(f"has replaced_by '{document.replaced_by}' but status '{document.status}' (should be replaced)")
        if document.status == "amended" and not document.amended_by:
            error("status is amended but amended_by is empty: list the amending texts")
        for number in (*document.amended_by, *([document.replaced_by] if document.replaced_by else [])):
            if UNACCENTED_D.search(number):
                error(f"'{number}': write the number with Đ, as the law does")
        if document.issued and document.in_force and document.in_force < document.issued:
            error("in_force is before issued")
        seen_provisions: set[tuple[str, str | None]] = set()
        for provision in document.provisions:
            label = f"Điều {provision.article}" + (f" khoản {provision.clause}" if provision.clause else "")
            if not DIGITS.match(provision.article):
                error(f"provision article '{provision.article}' must be plain digits, e.g. \"25\"")
            if provision.clause is not None and not DIGITS.match(provision.clause):
                error(f"provision {label}: clause '{provision.clause}' must be plain digits or null")
            if (provision.article, provision.clause) in seen_provisions:
                error(f"provision {label} is listed twice")
            seen_provisions.add((provision.article, provision.clause))
            if not provision.short_title:
                error(f"provision {label} has no short_title")
            if not provision.summary:
                error(f"provision {label} has no summary")
    return problems


def _check_resources(content: Content) -> list[Problem]:
    problems = []
    seen: set[str] = set()
    for resource in content.resources:
        where = f"resource '{resource.slug}'"
        if not resource.slug or not SLUG.match(resource.slug):
            problems.append(Problem(RESOURCES_FILE, where, "slug must be lower-case words joined by '-'"))
        if resource.slug in seen:
            problems.append(Problem(RESOURCES_FILE, where, "is listed twice"))
        seen.add(resource.slug)
        if not resource.name:
            problems.append(Problem(RESOURCES_FILE, where, "has no name"))
        if resource.number and not (resource.source.startswith(("https://", "http://")) and resource.checked):
            problems.append(Problem(RESOURCES_FILE, where, f"number {resource.number} needs its source: "
                                    "the official page (source: https://...) and the day it was checked (checked)"))
    return problems


def _check_topics(content: Content) -> list[Problem]:
    problems = []
    seen: dict[str, str] = {}
    for topic in content.topics:
        where = f"topic '{topic.slug}'"
        stem = topic.source_file.rsplit(".", 1)[0]
        if topic.slug != stem:
            problems.append(Problem(topic.source_file, where, f"slug should match the file name ('{stem}')"))
        if topic.slug in seen:
            problems.append(Problem(topic.source_file, where, f"slug also used by {seen[topic.slug]}"))
        seen[topic.slug] = topic.source_file
        if not topic.title:
            problems.append(Problem(topic.source_file, where, "has no title"))
    return problems


def _check_cards(content: Content, today: dt.date, known_intents: set[str] | None) -> list[Problem]:
    problems: list[Problem] = []
    documents = {d.number: d for d in content.documents}
    card_ids: dict[str, str] = {}
    for card in content.cards:
        if card.id in card_ids:
            problems.append(Problem(card.source_file, f"card '{card.id}'",
                                    f"id is already used in {card_ids[card.id]}: ids must be unique across files",
                                    card=card.id))
        card_ids.setdefault(card.id, card.source_file)

    for card in content.cards:
        add = _reporter(problems, card.source_file, f"card '{card.id}'" if card.id else "card without id",
                        card.id or None)

        if not card.id:
            add("has no id")
        elif not SLUG.match(card.id):
            add("id must be lower-case words joined by '-', e.g. rights-overview")
        if not card.intents:
            add("has no intents: list the NLU intents this card answers")
        for intent in card.intents:
            if not INTENT.match(intent):
                add(f"intent '{intent}' is not an intent name")
            elif known_intents is not None and intent not in known_intents:
                add(f"intent '{intent}' is not in domain.yml", "warning")
        if card.audience not in AUDIENCES:
            add(f"audience '{card.audience}' is not one of {', '.join(AUDIENCES)}")
        _check_questions(card, add)
        _check_answers(card, add)
        _check_citations(card, documents, add)
        if card.checked_on is None:
            add("has no checked_on date (the day its facts were last checked against the text)")
        elif card.checked_on > today:
            add(f"checked_on {card.checked_on} is in the future", "warning")
        _check_quote(card, documents, add)
        _check_sources(card, documents, today, add)
        for where, number in unsourced_numbers(card, content.resources):
            add(f"the number {number} in {where} has no source: list it under `sources` with the document and "
                "article it comes from (or the official page, for a phone number)")
        for number in stale_numbers(card):
            add(f"sources list {number}, which no answer says any more", "warning")
        for line in amended_after_check(card, documents):
            add(line, "warning")
        if card.reviewed_on is None:
            add("has no reviewed_on date")
        elif card.reviewed_on > today:
            add(f"reviewed_on {card.reviewed_on} is in the future", "warning")
        for follow_up in card.follow_ups:
            if follow_up == card.id:
                add("lists itself as a follow-up")
            elif follow_up not in card_ids:
                add(f"follow-up '{follow_up}' is not a card id")

    problems += _duplicate_questions(content.cards)
    return problems


def _check_questions(card: Card, add: Callable[..., None]) -> None:
    if not card.questions:
        add("has no example questions")
    elif not QUESTIONS_MIN <= len(card.questions) <= QUESTIONS_MAX:
        add(f"has {len(card.questions)} example questions ({QUESTIONS_MIN}-{QUESTIONS_MAX} recommended)", "warning")
    for question in card.questions:
        if not question:
            add("has an empty example question")


def _check_answers(card: Card, add: Callable[..., None]) -> None:
    if card.audience in ("child", "both") and not card.child_answer:
        add(f"audience is {card.audience} but child_answer is empty")
    if card.audience in ("parent", "both") and not card.parent_answer:
        add(f"audience is {card.audience} but parent_answer is empty")
    for key, messages, limit in (("child_answer", card.child_answer, CHILD_MESSAGE_LIMIT),
                                 ("parent_answer", card.parent_answer, PARENT_MESSAGE_LIMIT)):
        for number, message in enumerate(messages, start=1):
            if not message:
                add(f"{key} message {number} is empty")
            elif len(message) > limit:
                add(f"{key} message {number} is {len(message)} characters (limit {limit}): split it")
            if message.lstrip().startswith("Căn cứ"):
                add(f"{key} message {number} repeats the basis line; the bot adds it itself")


def _check_citations(card: Card, documents: dict[str, Document], add: Callable[..., None]) -> None:
    if not card.citations:
        add("has no citations: every answer needs its legal basis")
    answer_text = canonical(" ".join([*card.child_answer, *card.parent_answer, card.note]))
    for citation in card.citations:
        label = citation.document + (f" Điều {citation.article}" if citation.article else "") + (
            f" khoản {citation.clause}" if citation.clause else "")
        document = documents.get(citation.document)
        if document is None:
            add(f"cites {label}, but document '{citation.document}' is not in documents.yml")
            continue
        if citation.article is None:
            if citation.clause is not None:
                add(f"cites {label}: a clause needs its article")
        elif not DIGITS.match(citation.article):
            add(f"cites {label}: article must be plain digits, e.g. \"25\"")
            continue
        elif citation.clause is not None and not DIGITS.match(citation.clause):
            add(f"cites {label}: clause must be plain digits or null")
        elif document.resolve(citation.article, citation.clause) is None:
            add(f"cites {label}, but Điều {citation.article}"
                + (f" khoản {citation.clause}" if citation.clause else "")
                + f" is not listed under {citation.document} in documents.yml")
        if document.status == "replaced" and not _mentions_replacement(answer_text, document):
            add(f"cites {citation.document}, which was replaced by {document.replaced_by or 'a newer text'}; "
                "say so in the answer or in the card's note")


def _check_quote(card: Card, documents: dict[str, Document], add: Callable[..., None]) -> None:
    quote = card.quotes
    if quote is None:
        return
    if quote.document not in {c.document for c in card.citations}:
        add(f"quotes names {quote.document or 'no document'}, which the card does not cite")
    elif quote.document not in documents:
        add(f"quotes names {quote.document}, which is not in documents.yml")
    if not quote.text:
        add("quotes has no text: say which version is quoted, e.g. \"Bộ luật Hình sự 2015, sửa đổi, bổ sung năm 2017\"")
    if quote.as_of is None:
        add("quotes has no as_of: the date of the version quoted")


def _check_sources(card: Card, documents: dict[str, Document], today: dt.date,
                   add: Callable[..., None]) -> None:
    for index, source in enumerate(card.sources, start=1):
        label = f"source #{index}" + (f" ({', '.join(source.numbers)})" if source.numbers else "")
        if not source.numbers:
            add(f"{label} lists no numbers")
        if not source.document and not source.page:
            add(f"{label} names neither a document nor a page")
        if source.document and source.document not in documents:
            add(f"{label}: document '{source.document}' is not in documents.yml")
        if source.article is not None and not DIGITS.match(source.article):
            add(f"{label}: article '{source.article}' must be plain digits")
        if source.clause is not None and (source.article is None or not DIGITS.match(source.clause)):
            add(f"{label}: clause '{source.clause}' needs an article and must be plain digits")
        if source.page and not source.page.startswith(("https://", "http://")):
            add(f"{label}: page must be a web address")
        if source.checked and source.checked > today:
            add(f"{label}: checked {source.checked} is in the future", "warning")


def _mentions_replacement(answer_text: str, document: Document) -> bool:
    if "thay the" in answer_text:
        return True
    return bool(document.replaced_by) and canonical(document.replaced_by) in answer_text


def _duplicate_questions(cards: list[Card]) -> list[Problem]:
    """The same example question on two cards makes retrieval a coin toss."""
    problems = []
    owners: dict[str, list[Card]] = defaultdict(list)
    for card in cards:
        for form in dict.fromkeys(_question_key(q) for q in card.questions):
            if form:
                owners[form].append(card)
        seen: set[str] = set()
        for question in card.questions:
            key = _question_key(question)
            if key in seen:
                problems.append(Problem(card.source_file, f"card '{card.id}'",
                                        f"example question repeated within the card: {question!r}", card=card.id))
            seen.add(key)
    for form, same in owners.items():
        if len(same) > 1:
            first = same[0]
            others = ", ".join(f"'{c.id}' ({c.source_file})" for c in same[1:])
            question = next(q for q in first.questions if _question_key(q) == form)
            problems.append(Problem(first.source_file, f"card '{first.id}'",
                                    f"example question {question!r} is also on card {others}", card=first.id))
    return problems


def _question_key(question: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", canonical(question)))
