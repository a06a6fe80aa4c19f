"""The basis line every answer ends with, written and read back in one place.

    Căn cứ: Điều 25 Luật Trẻ em 2016 (số 102/2016/QH13). Đối chiếu văn bản ngày 07/12/2026.

The date is the card's own `checked_on`: the day its facts were last checked against
the text, never a date the whole knowledge base claims to be current to. A card that
quotes an older version of a text (`quotes`) says which, and names the amendments
since that version as not checked:

    ... Nội dung trích theo Bộ luật Hình sự 2015, sửa đổi, bổ sung năm 2017; chưa đối
    chiếu các sửa đổi của 59/2024/QH15 và 86/2025/QH15. Đối chiếu văn bản ngày 07/12/2026.

Writing and parsing live together so the end-to-end tests check a reply with
exactly the rules that produced it (`find_basis` / `assert_cites`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from actions.knowledge_base.content import Citation, Document, Quote

BASIS_PREFIX = "Căn cứ:"
CHECKED_PREFIX = "Đối chiếu văn bản ngày"
QUOTE_PREFIX = "Nội dung trích theo"
NOT_CHECKED_SINCE = "chưa đối chiếu các sửa đổi của"


def vn_date(day: dt.date) -> str:
    return day.strftime("%d/%m/%Y")


def provision_labels(citations: Sequence[Citation]) -> str:
    """"khoản 2 Điều 6, Điều 25, 27" for one document's citations ("" when cited as a whole)."""
    clauses = [f"khoản {c.clause} Điều {c.article}" for c in citations if c.article and c.clause]
    articles = [c.article for c in citations if c.article and not c.clause]
    labels = list(dict.fromkeys(clauses))
    if articles:
        labels.append("Điều " + ", ".join(dict.fromkeys(articles)))
    return ", ".join(labels)


def _listing(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " và " + items[-1]


def status_note(document: Document, documents_by_number: dict[str, Document]) -> str:
    """", đã được sửa đổi, bổ sung bởi ..." for amended texts, ", đã được thay thế bởi ..." for replaced ones."""
    if document.status == "replaced":
        if not document.replaced_by:
            return ", đã được thay thế"
        newer = documents_by_number.get(document.replaced_by)
        since = f" từ {vn_date(newer.in_force)}" if newer and newer.in_force else ""
        return f", đã được thay thế bởi {document.replaced_by}{since}"
    if document.status == "amended":
        return ", đã được sửa đổi, bổ sung" + (f" bởi {_listing(document.amended_by)}" if document.amended_by else "")
    return ""


def amendment_date(number: str, documents_by_number: dict[str, Document]) -> dt.date | None:
    """When an amending text took effect (else when it was issued); None when documents.yml does not say."""
    amending = documents_by_number.get(number)
    return (amending.in_force or amending.issued) if amending else None


def amended_since(document: Document, since: dt.date, documents_by_number: dict[str, Document]) -> list[str]:
    """The texts that amended or replaced `document` after `since` (or at a date documents.yml does not give)."""
    newer = [*document.amended_by, *([document.replaced_by] if document.replaced_by else [])]
    return [n for n in newer if (day := amendment_date(n, documents_by_number)) is None or day > since]


def quote_note(quote: Quote, documents_by_number: dict[str, Document]) -> str:
    """"Nội dung trích theo <version>; chưa đối chiếu các sửa đổi của <amendments since>." """
    note = f"{QUOTE_PREFIX} {quote.text}"
    document = documents_by_number.get(quote.document)
    later = amended_since(document, quote.as_of, documents_by_number) if document and quote.as_of else []
    if later:
        note += f"; {NOT_CHECKED_SINCE} {_listing(later)}"
    return note + "."


def basis_line(citations: Sequence[Citation], documents_by_number: dict[str, Document],
               checked_on: dt.date | None, quote: Quote | None = None) -> str:
    """Group citations by document, in the order the card lists them.

    "Căn cứ: Điều 25, 27 Luật Trẻ em 2016 (số 102/2016/QH13); Thông tư 18/2025/TT-BGDĐT.
    Đối chiếu văn bản ngày 07/12/2026."
    """
    groups: dict[str, list[Citation]] = {}
    for citation in citations:
        groups.setdefault(citation.document, []).append(citation)
    parts = []
    for number, cited in groups.items():
        document = documents_by_number.get(number)
        name = document.short_name if document else "văn bản"
        note = status_note(document, documents_by_number) if document else ""
        if number in name:  # "Thông tư 18/2025/TT-BGDĐT" already says its number
            named = f"{name} ({note.removeprefix(', ')})" if note else name
        else:
            named = f"{name} (số {number}{note})"
        parts.append(f"{provision_labels(cited)} {named}".strip())
    line = f"{BASIS_PREFIX} " + "; ".join(parts) + "."
    if quote:
        line += " " + quote_note(quote, documents_by_number)
    if checked_on:
        line += f" {CHECKED_PREFIX} {vn_date(checked_on)}."
    return line


# ----------------------------------------------------------------------------- reading back

# A document number as the law writes it: 102/2016/QH13, 56/2017/NĐ-CP, 1591/QĐ-TTg, 28-CT/TW.
_NUMBER = re.compile(r"\b\d+(?:/\d{4})?[/-][0-9A-Za-zĐđ]+(?:[/-][0-9A-Za-zĐđ]+)*")
_CLAUSE_LABEL = re.compile(r"khoản (?P<clause>\d+) Điều (?P<article>\d+)")
_ARTICLES_LABEL = re.compile(r"Điều (?P<articles>\d+(?:, \d+)*)")
_CHECKED = re.compile(re.escape(CHECKED_PREFIX) + r" (\d{2})/(\d{2})/(\d{4})")
_AFTER_BODY = re.compile(r"\. (?:" + re.escape(QUOTE_PREFIX) + "|" + re.escape(CHECKED_PREFIX) + ")")


@dataclass(frozen=True)
class Basis:
    citations: tuple[Citation, ...]
    checked_on: dt.date | None
    text: str
    quoted: str | None = None  # "Bộ luật Hình sự 2015, sửa đổi, bổ sung năm 2017; chưa đối chiếu ..."

    def cites(self, document: str, article: str | None = None) -> bool:
        return any(c.document == document and (article is None or c.article == str(article))
                   for c in self.citations)


def parse_basis(text: str) -> Basis | None:
    """Read a basis line back; None if `text` has none."""
    start = text.find(BASIS_PREFIX)
    if start < 0:
        return None
    line = text[start:].splitlines()[0]
    body = _AFTER_BODY.split(line[len(BASIS_PREFIX):])[0]
    citations = []
    for group in body.split("; "):
        number = _NUMBER.search(group)  # the first number is the cited text's own; amenders follow it
        if number is None:
            continue
        labels = group[: number.start()]
        found = [Citation(number.group(0), m.group("article"), m.group("clause"))
                 for m in _CLAUSE_LABEL.finditer(labels)]
        for match in _ARTICLES_LABEL.finditer(_CLAUSE_LABEL.sub("", labels)):
            found += [Citation(number.group(0), article) for article in match.group("articles").split(", ")]
        citations += found or [Citation(number.group(0), None)]
    checked = _CHECKED.search(line)
    checked_on = dt.date(int(checked.group(3)), int(checked.group(2)), int(checked.group(1))) if checked else None
    quoted = line.split(f"{QUOTE_PREFIX} ", 1)[1].split(f". {CHECKED_PREFIX}")[0] if QUOTE_PREFIX in line else None
    return Basis(tuple(citations), checked_on, line, quoted)


def find_basis(messages: Iterable[str]) -> Basis | None:
    """The basis line among a reply's messages (for the web-chat end-to-end test)."""
    for message in messages:
        basis = parse_basis(message or "")
        if basis is not None:
            return basis
    return None


def assert_cites(messages: Iterable[str], document: str, article: str | None = None) -> Basis:
    """Fail with a readable message unless the reply's basis line cites `document` (and `article`)."""
    messages = list(messages)
    basis = find_basis(messages)
    assert basis is not None, f"no '{BASIS_PREFIX}' line in the reply: {messages!r}"
    assert basis.cites(document, article), (
        f"basis line does not cite {document} Điều {article}: {basis.text!r}")
    assert basis.checked_on is not None, f"basis line has no '{CHECKED_PREFIX} dd/mm/yyyy': {basis.text!r}"
    return basis
