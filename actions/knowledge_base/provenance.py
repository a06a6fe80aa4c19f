"""Where every number a person may act on comes from, and whether its source changed since.

Contract (checked by `validation.py`, so `validate` and `make test` refuse what breaks it):

- A number in a card's answers (an amount, an age, hours, a fine, a phone number, an
  effective date, a coefficient, a count) is listed in one of the card's `sources`, which
  names the document (and article) or, for a phone number, the official page, and the day
  it was checked (`checked`, else the card's `checked_on`). A phone number, and "24/7",
  may instead be sourced by its entry in `resources.yml` (`source`, `checked`).
- Not numbers in this sense: legal references ("Điều 6", "khoản 2", "Mẫu số 01", "Nghị định
  20/2021", "Nghị định 56", "102/2016/QH13"), a year on its own (it names a text or a period: "Luật Trẻ em
  2016", "giai đoạn 2021–2025") and list markers ("(1)").
- A cited or sourced document amended or replaced after the day it was checked against
  (a card's `quotes.as_of` for the version it quotes) is a warning: the card is due a check.
  An amendment's date comes from `documents.yml` (`citations.amendment_date`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

from actions.knowledge_base.citations import amended_since, amendment_date
from actions.knowledge_base.content import Card, Document, Resource

ROUND_THE_CLOCK = "24/7"
# Legal references and names, removed before numbers are read.
_REFERENCE = re.compile(
    r"\b(?:Điều|điều|khoản|Khoản|điểm|Điểm|Mẫu|mẫu|Chương|chương|Phụ lục|phụ lục)(?:\s+số)?\s+\d+[a-zđ]?"
    r"(?:\s*(?:,|–|-|và|đến)\s*\d+[a-zđ]?(?!\d|[.,/]\d))*"
    r"|\b\d+(?:/\d{4})?[/-][A-ZĐ][0-9A-Za-zĐđ]*(?:[/-][0-9A-Za-zĐđ]+)*"  # 20/2021/NĐ-CP, 28-CT/TW
    r"|\b(?:Nghị định|Thông tư|Luật|Bộ luật|Quyết định|Nghị quyết|Chỉ thị)(?:\s+số)?\s+\d+(?:/\d{4})?\b"
    r"|\(\d+\)"  # list markers
)
_DATE = r"\d{1,2}/\d{1,2}/\d{4}"
_NUMBER = re.compile(rf"{_DATE}|\b24/7\b|\d+(?:[.,]\d+)*")
_YEAR = re.compile(r"(?:19|20)\d{2}")


def numbers_in(text: str) -> list[str]:
    """The numbers a person may act on in `text`, as written ("500.000", "01/07/2024", "2,5", "24/7")."""
    found = _NUMBER.findall(_REFERENCE.sub(" ", text))
    return list(dict.fromkeys(n for n in found if not _YEAR.fullmatch(n)))


def answer_numbers(card: Card) -> Iterator[tuple[str, str]]:
    """(where, number) for each number in the card's answers and note, e.g. ("parent_answer message 2", "500.000")."""
    for key, messages in (("child_answer", card.child_answer), ("parent_answer", card.parent_answer)):
        for index, message in enumerate(messages, start=1):
            for number in numbers_in(message):
                yield f"{key} message {index}", number


def sourced_by_resources(resources: list[Resource]) -> set[str]:
    """Phone numbers (and "24/7") whose official page and check date `resources.yml` gives."""
    sourced = set()
    for resource in resources:
        if resource.source and resource.checked:
            sourced.update(n for n in (resource.number,) if n)
            if resource.hours == ROUND_THE_CLOCK:
                sourced.add(ROUND_THE_CLOCK)
    return sourced


def unsourced_numbers(card: Card, resources: list[Resource]) -> list[tuple[str, str]]:
    """(where, number) for every number in the answers that no source lists."""
    listed = {n for source in card.sources for n in source.numbers} | sourced_by_resources(resources)
    missing: dict[str, str] = {}
    for where, number in answer_numbers(card):
        if number not in listed:
            missing.setdefault(number, where)
    return [(where, number) for number, where in missing.items()]


def stale_numbers(card: Card) -> list[str]:
    """Numbers a source lists that no answer says any more (a leftover after an edit)."""
    said = {number for _, number in answer_numbers(card)}
    return [n for source in card.sources for n in source.numbers if n not in said]


def checks_by_document(card: Card) -> dict[str, dt.date]:
    """The oldest day each cited or sourced document was checked against, for this card."""
    checked: dict[str, dt.date] = {}

    def note(number: str, day: dt.date | None) -> None:
        if number and day and (number not in checked or day < checked[number]):
            checked[number] = day

    for citation in card.citations:
        note(citation.document, card.checked_on)
    for source in card.sources:
        note(source.document or "", source.checked or card.checked_on)
    if card.quotes and card.quotes.as_of:  # checked against the version it quotes, whatever the day
        note(card.quotes.document, card.quotes.as_of)
    return checked


def amended_after_check(card: Card, documents: dict[str, Document]) -> list[str]:
    """One line per cited or sourced document amended (or replaced) after it was checked against."""
    lines = []
    for number, checked in checks_by_document(card).items():
        document = documents.get(number)
        newer = amended_since(document, checked, documents) if document else []
        if newer:
            dated = [f"{n} ({_in_force(n, documents)})" for n in newer]
            lines.append(f"{number} was amended or replaced by {', '.join(dated)} after the text this card was "
                         f"checked against ({checked.isoformat()}): check the card against the newer text")
    return lines


def _in_force(number: str, documents: dict[str, Document]) -> str:
    day = amendment_date(number, documents)
    return f"in force {day.isoformat()}" if day else "date not in documents.yml"
