"""The reviewed YAML content (docs/kb-format.md) as plain Python objects.

Reading is lenient: a malformed entry becomes a `Problem` naming the file and
the card, and reading goes on, so staff see every mistake in one run.
`validation.py` judges the content; this module only reads and writes it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DOCUMENTS_FILE = "documents.yml"
RESOURCES_FILE = "resources.yml"
# Bumped when the meaning of the content changes in code (loading, schema), so
# `ensure_loaded()` reloads even if the YAML did not change.
CONTENT_FORMAT_VERSION = "3"  # 2: checked_on and quotes replace valid_as_of; 3: sources

CARD_KEYS = {"id", "intents", "audience", "questions", "child_answer", "parent_answer", "citations",
             "checked_on", "quotes", "sources", "reviewed_on", "follow_ups", "title", "note"}
DOCUMENT_KEYS = {"number", "kind", "short_name", "title", "issued", "in_force", "status", "amended_by",
                 "replaced_by", "note", "provisions"}
PROVISION_KEYS = {"article", "clause", "short_title", "summary"}
QUOTE_KEYS = {"document", "text", "as_of"}
SOURCE_KEYS = {"numbers", "document", "article", "clause", "page", "checked", "note"}
RESOURCE_KEYS = {"slug", "name", "number", "hours", "cost", "scope", "description", "source", "checked"}


@dataclass(frozen=True)
class Problem:
    file: str
    where: str  # "card 'rights-overview'", "document '102/2016/QH13'", ...
    message: str
    severity: str = "error"  # error | warning
    card: str | None = None  # set when only this card is wrong: loading can leave it out

    def __str__(self) -> str:
        place = f"{self.file}: {self.where}: " if self.where else f"{self.file}: "
        return f"{self.severity.upper()} {place}{self.message}"


@dataclass(frozen=True)
class Provision:
    article: str
    clause: str | None
    short_title: str
    summary: str


@dataclass(frozen=True)
class Document:
    number: str
    kind: str
    short_name: str
    title: str
    issued: dt.date | None
    in_force: dt.date | None
    status: str
    amended_by: tuple[str, ...] = ()
    replaced_by: str | None = None
    note: str = ""
    provisions: tuple[Provision, ...] = ()

    def provision(self, article: str, clause: str | None) -> Provision | None:
        for provision in self.provisions:
            if provision.article == article and provision.clause == clause:
                return provision
        return None

    def resolve(self, article: str | None, clause: str | None) -> Provision | None:
        """The listed provision a citation points at: the exact clause, else its article.

        A citation of a whole article also resolves when only some of its clauses
        are listed; a citation without an article cites the document as a whole.
        """
        if article is None:
            return None
        exact = self.provision(article, clause)
        if exact is not None:
            return exact
        article_level = self.provision(article, None)
        if article_level is not None:  # a clause of a listed article
            return article_level
        if clause is None:  # a whole article of which only some clauses are listed
            return next((p for p in self.provisions if p.article == article), None)
        return None


@dataclass(frozen=True)
class Citation:
    document: str
    article: str | None  # None: the document as a whole (its article numbers are unverified)
    clause: str | None = None


@dataclass(frozen=True)
class Quote:
    """The version of a cited text a card quotes, when it is not the text as amended today.

    `as_of` is the date of that version: amendments of `document` in force after it are
    named in the answer as not checked (`citations.quote_note`).
    """

    document: str
    text: str  # "Bộ luật Hình sự 2015, sửa đổi, bổ sung năm 2017"
    as_of: dt.date | None


@dataclass(frozen=True)
class Source:
    """Where numbers in a card's answers come from (`provenance.py`): a document (and article),
    or a page (the official page for a phone number; the page read when the text itself was not)."""

    numbers: tuple[str, ...]  # as the answers write them: "500.000", "01/07/2024", "2,5"
    document: str | None = None
    article: str | None = None
    clause: str | None = None
    page: str | None = None
    checked: dt.date | None = None  # None: the card's checked_on
    note: str = ""


@dataclass(frozen=True)
class Card:
    id: str
    topic: str
    intents: tuple[str, ...]
    audience: str
    questions: tuple[str, ...]
    child_answer: tuple[str, ...]
    parent_answer: tuple[str, ...]
    citations: tuple[Citation, ...]
    checked_on: dt.date | None  # the day its facts were last checked against the text
    reviewed_on: dt.date | None
    follow_ups: tuple[str, ...] = ()
    title: str | None = None
    note: str = ""
    source_file: str = ""
    quotes: Quote | None = None
    sources: tuple[Source, ...] = ()


@dataclass(frozen=True)
class Topic:
    slug: str
    title: str
    source_file: str = ""


@dataclass(frozen=True)
class Resource:
    slug: str
    name: str
    number: str = ""
    hours: str = ""
    cost: str = ""
    scope: str = "national"
    description: str = ""
    source: str = ""  # the official page that gives the number
    checked: dt.date | None = None


@dataclass
class Content:
    documents: list[Document] = field(default_factory=list)
    resources: list[Resource] = field(default_factory=list)
    topics: list[Topic] = field(default_factory=list)
    cards: list[Card] = field(default_factory=list)

    def document(self, number: str) -> Document | None:
        return next((d for d in self.documents if d.number == number), None)

    def card(self, card_id: str) -> Card | None:
        return next((c for c in self.cards if c.id == card_id), None)

    def topic(self, slug: str) -> Topic | None:
        return next((t for t in self.topics if t.slug == slug), None)


@dataclass
class ContentReading:
    content: Content
    problems: list[Problem]


# ----------------------------------------------------------------------------- reading


def content_files(directory: Path) -> list[Path]:
    """The YAML files that make the content; `_name.yml` files are writers' working notes, not content."""
    return sorted(p for p in directory.iterdir()
                  if p.suffix in (".yml", ".yaml") and p.is_file() and not p.name.startswith(("_", ".")))


def content_hash(directory: Path) -> str:
    """Hash of every content file (name and bytes): what `ensure_loaded()` compares."""
    digest = hashlib.sha256(f"format {CONTENT_FORMAT_VERSION}\0".encode())
    for path in content_files(directory):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def read_content(directory: Path) -> ContentReading:
    problems: list[Problem] = []
    content = Content()
    if not directory.is_dir():
        return ContentReading(content, [Problem(str(directory), "", "content directory not found")])
    for path in content_files(directory):
        name = path.name
        data = _load_yaml(path, problems)
        if data is None:
            continue
        if name == DOCUMENTS_FILE:
            content.documents.extend(_read_documents(name, data, problems))
        elif name == RESOURCES_FILE:
            content.resources.extend(_read_resources(name, data, problems))
        else:
            topic, cards = _read_topic_file(name, data, problems)
            if topic is not None:
                content.topics.append(topic)
            content.cards.extend(cards)
    if not any(p.name == DOCUMENTS_FILE for p in content_files(directory)):
        problems.append(Problem(str(directory), "", f"{DOCUMENTS_FILE} is missing"))
    return ContentReading(content, problems)


def _load_yaml(path: Path, problems: list[Problem]) -> Any:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        problems.append(Problem(path.name, "", f"not valid YAML: {error}"))
        return None
    except UnicodeDecodeError:
        problems.append(Problem(path.name, "", "not UTF-8 text"))
        return None
    if not isinstance(data, dict):
        problems.append(Problem(path.name, "", "expected a mapping at the top of the file"))
        return None
    return data


def _read_documents(file: str, data: dict, problems: list[Problem]) -> list[Document]:
    documents = []
    for index, raw in enumerate(_list(data, "documents", file, "", problems)):
        where = f"document #{index + 1}"
        if not isinstance(raw, dict):
            problems.append(Problem(file, where, "expected a mapping"))
            continue
        number = _text(raw.get("number"))
        where = f"document '{number}'" if number else where
        _unknown_keys(raw, DOCUMENT_KEYS, file, where, problems)
        provisions = []
        for p_index, p_raw in enumerate(raw.get("provisions") or []):
            if not isinstance(p_raw, dict):
                problems.append(Problem(file, where, f"provision #{p_index + 1} is not a mapping"))
                continue
            _unknown_keys(p_raw, PROVISION_KEYS, file, f"{where} provision #{p_index + 1}", problems)
            provisions.append(Provision(
                article=_text(p_raw.get("article")),
                clause=_optional_text(p_raw.get("clause")),
                short_title=_text(p_raw.get("short_title")),
                summary=_text(p_raw.get("summary")),
            ))
        documents.append(Document(
            number=number,
            kind=_text(raw.get("kind")),
            short_name=_text(raw.get("short_name")),
            title=_text(raw.get("title")),
            issued=_date(raw.get("issued"), file, where, "issued", problems),
            in_force=_date(raw.get("in_force"), file, where, "in_force", problems),
            status=_text(raw.get("status")),
            amended_by=tuple(_text(n) for n in _as_list(raw.get("amended_by"))),
            replaced_by=_optional_text(raw.get("replaced_by")),
            note=_text(raw.get("note")),
            provisions=tuple(provisions),
        ))
    return documents


def _read_resources(file: str, data: dict, problems: list[Problem]) -> list[Resource]:
    resources = []
    for index, raw in enumerate(_list(data, "resources", file, "", problems)):
        if not isinstance(raw, dict):
            problems.append(Problem(file, f"resource #{index + 1}", "expected a mapping"))
            continue
        slug = _text(raw.get("slug"))
        _unknown_keys(raw, RESOURCE_KEYS, file, f"resource '{slug}'", problems)
        resources.append(Resource(
            slug=slug, name=_text(raw.get("name")), number=_text(raw.get("number")),
            hours=_text(raw.get("hours")), cost=_text(raw.get("cost")),
            scope=_text(raw.get("scope")) or "national", description=_text(raw.get("description")),
            source=_text(raw.get("source")),
            checked=_date(raw.get("checked"), file, f"resource '{slug}'", "checked", problems),
        ))
    return resources


def _read_topic_file(file: str, data: dict, problems: list[Problem]) -> tuple[Topic | None, list[Card]]:
    raw_topic = data.get("topic")
    topic = None
    if not isinstance(raw_topic, dict):
        problems.append(Problem(file, "", "missing 'topic:' with 'slug' and 'title'"))
        slug = Path(file).stem
    else:
        slug = _text(raw_topic.get("slug")) or Path(file).stem
        topic = Topic(slug=slug, title=_text(raw_topic.get("title")), source_file=file)
    cards = []
    for index, raw in enumerate(_list(data, "cards", file, "", problems)):
        card = read_card(raw, file, slug, problems, f"card #{index + 1}")
        if card is not None:
            cards.append(card)
    return topic, cards


def read_card(raw: Any, file: str, topic: str, problems: list[Problem], where: str = "card") -> Card | None:
    """One card from its YAML mapping (also a version kept in the database, `card_from_data`)."""
    if not isinstance(raw, dict):
        problems.append(Problem(file, where, "expected a mapping"))
        return None
    card_id = _text(raw.get("id"))
    where = f"card '{card_id}'" if card_id else where
    _unknown_keys(raw, CARD_KEYS, file, where, problems)
    citations = []
    for c_index, c_raw in enumerate(_as_list(raw.get("citations"))):
        if not isinstance(c_raw, dict):
            problems.append(Problem(file, where, f"citation #{c_index + 1} must look like "
                                                 "{document: \"102/2016/QH13\", article: \"25\"}"))
            continue
        citations.append(Citation(document=_text(c_raw.get("document")),
                                  article=_optional_text(c_raw.get("article")),
                                  clause=_optional_text(c_raw.get("clause"))))
    return Card(
        id=card_id,
        topic=topic,
        intents=tuple(_text(i) for i in _as_list(raw.get("intents"))),
        audience=_text(raw.get("audience")),
        questions=tuple(_text(q) for q in _as_list(raw.get("questions"))),
        child_answer=tuple(_text(m) for m in _as_list(raw.get("child_answer"))),
        parent_answer=tuple(_text(m) for m in _as_list(raw.get("parent_answer"))),
        citations=tuple(citations),
        checked_on=_date(raw.get("checked_on"), file, where, "checked_on", problems),
        reviewed_on=_date(raw.get("reviewed_on"), file, where, "reviewed_on", problems),
        follow_ups=tuple(_text(f) for f in _as_list(raw.get("follow_ups"))),
        title=_optional_text(raw.get("title")),
        note=_text(raw.get("note")),
        source_file=file,
        quotes=_read_quote(raw.get("quotes"), file, where, problems),
        sources=_read_sources(raw.get("sources"), file, where, problems),
    )


def _read_quote(raw: Any, file: str, where: str, problems: list[Problem]) -> Quote | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        problems.append(Problem(file, where, "'quotes' must look like {document: \"100/2015/QH13\", "
                                             "text: \"...\", as_of: YYYY-MM-DD}"))
        return None
    _unknown_keys(raw, QUOTE_KEYS, file, f"{where} quotes", problems)
    return Quote(document=_text(raw.get("document")), text=_text(raw.get("text")),
                 as_of=_date(raw.get("as_of"), file, where, "quotes.as_of", problems))


def _read_sources(raw: Any, file: str, where: str, problems: list[Problem]) -> tuple[Source, ...]:
    sources = []
    for index, item in enumerate(_as_list(raw), start=1):
        if not isinstance(item, dict):
            problems.append(Problem(file, where, f"source #{index} must look like {{numbers: [\"500.000\"], "
                                                 "document: \"20/2021/NĐ-CP\", article: \"4\"}"))
            continue
        _unknown_keys(item, SOURCE_KEYS, file, f"{where} source #{index}", problems)
        sources.append(Source(
            numbers=tuple(_text(n) for n in _as_list(item.get("numbers"))),
            document=_optional_text(item.get("document")), article=_optional_text(item.get("article")),
            clause=_optional_text(item.get("clause")), page=_optional_text(item.get("page")),
            checked=_date(item.get("checked"), file, where, f"source #{index} checked", problems),
            note=_text(item.get("note")),
        ))
    return tuple(sources)


def _list(data: dict, key: str, file: str, where: str, problems: list[Problem]) -> list:
    value = data.get(key)
    if value is None:
        problems.append(Problem(file, where, f"missing the list '{key}:'"))
        return []
    if not isinstance(value, list):
        problems.append(Problem(file, where, f"'{key}:' must be a list"))
        return []
    return value


def _unknown_keys(raw: dict, known: set[str], file: str, where: str, problems: list[Problem]) -> None:
    for key in sorted(set(map(str, raw)) - known):
        problems.append(Problem(file, where, f"unknown key '{key}' (ignored; a typo?)", "warning"))


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _text(value: Any) -> str:
    """YAML turns `article: 25` into an int; the content model keeps every label as text."""
    if value is None:
        return ""
    return str(value).strip()


def _optional_text(value: Any) -> str | None:
    text = _text(value)
    return text or None


def _date(value: Any, file: str, where: str, key: str, problems: list[Problem]) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    problems.append(Problem(file, where, f"'{key}' must be a date written YYYY-MM-DD, not {value!r}"))
    return None


# ----------------------------------------------------------------------------- writing


def dump_content(content: Content, directory: Path) -> list[Path]:
    """Write content in the format it is read from (the staff `export` command)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = [_write(directory / DOCUMENTS_FILE, {"documents": [_document_dict(d) for d in content.documents]})]
    written.append(_write(directory / RESOURCES_FILE, {"resources": [_resource_dict(r) for r in content.resources]}))
    for topic in content.topics:
        cards = [c for c in content.cards if c.topic == topic.slug]
        file = topic.source_file or f"{topic.slug}.yml"
        written.append(_write(directory / file, {
            "topic": {"slug": topic.slug, "title": topic.title},
            "cards": [_card_dict(c) for c in cards],
        }))
    return written


def _write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=110), encoding="utf-8")
    return path


def _document_dict(document: Document) -> dict:
    return {
        "number": document.number, "kind": document.kind, "short_name": document.short_name,
        "title": document.title, "issued": document.issued, "in_force": document.in_force,
        "status": document.status, "amended_by": list(document.amended_by), "replaced_by": document.replaced_by,
        "note": document.note,
        "provisions": [{"article": p.article, "clause": p.clause, "short_title": p.short_title,
                        "summary": p.summary} for p in document.provisions],
    }


def _resource_dict(resource: Resource) -> dict:
    data = {"slug": resource.slug, "name": resource.name, "number": resource.number, "hours": resource.hours,
            "cost": resource.cost, "scope": resource.scope, "description": resource.description}
    if resource.source or resource.checked:
        data.update(source=resource.source, checked=resource.checked)
    return data


def _card_dict(card: Card) -> dict:
    data: dict[str, Any] = {"id": card.id}
    if card.title:
        data["title"] = card.title
    data.update({
        "intents": list(card.intents), "audience": card.audience, "questions": list(card.questions),
        "child_answer": list(card.child_answer), "parent_answer": list(card.parent_answer),
        "citations": [{"document": c.document, "article": c.article, **({"clause": c.clause} if c.clause else {})}
                      for c in card.citations],  # article None is written as null, as writers do
        "checked_on": card.checked_on,
    })
    if card.quotes:
        data["quotes"] = quote_dict(card.quotes)
    if card.sources:
        data["sources"] = [source_dict(s) for s in card.sources]
    data["reviewed_on"] = card.reviewed_on
    if card.follow_ups:
        data["follow_ups"] = list(card.follow_ups)
    if card.note:
        data["note"] = card.note
    return data


def card_data(card: Card) -> dict[str, Any]:
    """The card as its YAML mapping, dates as ISO text: what `kb_card_versions.data` holds."""
    return _jsonable(_card_dict(card))


def card_from_data(data: dict[str, Any], topic: str, source_file: str) -> tuple[Card | None, list[Problem]]:
    """The inverse of `card_data` (the topic and file are the card's own, kept by the YAML)."""
    problems: list[Problem] = []
    return read_card(data, source_file, topic, problems), problems


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def quote_dict(quote: Quote) -> dict[str, Any]:
    return {"document": quote.document, "text": quote.text, "as_of": quote.as_of}


def source_dict(source: Source) -> dict[str, Any]:
    """Only the keys a writer gave (article null means "the document as a whole")."""
    data: dict[str, Any] = {"numbers": list(source.numbers)}
    for key in ("document", "article", "clause", "page", "checked", "note"):
        if getattr(source, key):
            data[key] = getattr(source, key)
    return data
