"""Broken content is caught before loading, with messages naming file and card."""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from actions.knowledge_base.cli import main as cli_main
from actions.knowledge_base.content import Quote, Source, read_content
from actions.knowledge_base.provenance import numbers_in
from actions.knowledge_base.review import due_for_review
from actions.knowledge_base.validation import errors_only, validate
from tests.kb.kb_paths import BROKEN, FIXTURE_CONTENT, REAL_CONTENT

TODAY = dt.date(2026, 11, 28)


def problems_of(content_dir: Path) -> list[str]:
    reading = read_content(content_dir)
    return [str(p) for p in errors_only(validate(reading.content, reading.problems, today=TODAY))]


def with_overlay(case: str, tmp_path: Path) -> Path:
    """The valid fixture with the files of one broken case laid over it."""
    content = tmp_path / "content"
    shutil.copytree(FIXTURE_CONTENT, content)
    for path in (BROKEN / case).iterdir():
        shutil.copy(path, content / path.name)
    return content


def test_the_fixture_content_is_valid() -> None:
    assert problems_of(FIXTURE_CONTENT) == []


@pytest.mark.parametrize(("case", "expected"), [
    ("unresolved-citation",
     "extra.yml: card 'extra-unresolved': cites 102/2016/QH13 Điều 99, but Điều 99 is not listed under "
     "102/2016/QH13 in documents.yml"),
    ("missing-document",
     "extra.yml: card 'extra-missing-document': cites 999/2020/QH14 Điều 3, but document '999/2020/QH14' "
     "is not in documents.yml"),
    ("no-citation", "extra.yml: card 'extra-no-citation': has no citations"),
    ("article-not-digits", "extra.yml: card 'extra-article-words': cites 102/2016/QH13 Điều Điều 25: "
                           "article must be plain digits"),
    ("replaced-unmentioned", "extra.yml: card 'extra-old-cyber-law': cites 24/2018/QH14, which was replaced by "
                             "116/2025/QH15; say so in the answer or in the card's note"),
    ("long-child-message", "extra.yml: card 'extra-long-message': child_answer message 1 is"),
    ("duplicate-question", "is also on card"),
    ("duplicate-card-id", "rights.yml: card 'rights-child-age': id is already used in extra.yml"),
    ("unaccented-number", "documents.yml: document '56/2017/ND-CP': write the number as the law does, with Đ"),
    ("bad-yaml", "extra.yml: not valid YAML"),
    ("missing-register", "extra.yml: card 'extra-no-parent-answer': audience is both but parent_answer is empty"),
    ("dangling-follow-up", "extra.yml: card 'extra-dangling': follow-up 'no-such-card' is not a card id"),
    ("unsourced-number", "extra.yml: card 'extra-unsourced': the number 500.000 in parent_answer message 1 has no "
                         "source"),
])
def test_broken_content_is_reported_clearly(case: str, expected: str, tmp_path: Path) -> None:
    problems = problems_of(with_overlay(case, tmp_path))
    assert any(expected in p for p in problems), "\n".join(problems)
    assert all(p.startswith("ERROR ") for p in problems)


def test_long_message_names_its_length(tmp_path: Path) -> None:
    problems = problems_of(with_overlay("long-child-message", tmp_path))
    assert any("characters (limit 350): split it" in p for p in problems)


def test_duplicate_question_names_both_cards_and_files(tmp_path: Path) -> None:
    problems = problems_of(with_overlay("duplicate-question", tmp_path))
    # accent- and case-insensitive: the fixture has the accented form, the broken file the plain one
    assert any("'rights-child-age' (rights.yml)" in p and "extra-copied-question" in p or
               "'extra-copied-question' (extra.yml)" in p and "rights-child-age" in p for p in problems), problems


SOURCED = """      - numbers: ["500.000", "01/07/2024"]
        document: "56/2017/NĐ-CP"
        page: "https://example.gov.vn/muc-ho-tro"
        checked: 2026-11-20
    reviewed_on: 2026-11-28"""


def with_card(content, card):
    content.cards = [card if c.id == card.id else c for c in content.cards]
    return content


def test_a_card_whose_numbers_have_no_source_is_refused_naming_each_number(tmp_path: Path) -> None:
    problems = problems_of(with_overlay("unsourced-number", tmp_path))
    unsourced = [p for p in problems if "has no source" in p]
    assert [p.split("the number ")[1].split(" ")[0] for p in unsourced] == ["500.000", "01/07/2024"]
    # the phone number and 24/7 are sourced by resources.yml, the age by the card's own source
    assert not any(f"the number {n} " in p for p in problems for n in ("111", "24/7", "16"))


def test_the_same_card_passes_once_its_numbers_carry_their_source(tmp_path: Path) -> None:
    content = with_overlay("unsourced-number", tmp_path)
    extra = content / "extra.yml"
    extra.write_text(extra.read_text(encoding="utf-8").replace("    reviewed_on: 2026-11-28", SOURCED),
                     encoding="utf-8")
    assert problems_of(content) == []


def test_legal_references_years_and_list_markers_are_not_numbers_to_source() -> None:
    text = ("Theo khoản 2 Điều 5, 6 Nghị định 20/2021/NĐ-CP (Nghị định 20/2021, Luật Trẻ em 2016, Mẫu số 01): "
            "(1) trẻ dưới 4 tuổi hệ số 2,5; gọi 111 (24/7); từ 01/07/2024 là 500.000 đồng.")
    assert numbers_in(text) == ["4", "2,5", "111", "24/7", "01/07/2024", "500.000"]


def test_a_source_amended_after_its_check_date_is_listed_as_a_warning_not_an_error() -> None:
    reading = read_content(FIXTURE_CONTENT)
    age = reading.content.card("rights-child-age")  # cites Luật Trẻ em, amended by 28/2018/QH14 from 2019-01-01
    early = dt.date(2018, 6, 1)
    content = with_card(reading.content, replace(age, checked_on=early,
                                                 sources=(Source(("16",), "102/2016/QH13", "1", checked=early),)))
    problems = validate(content, reading.problems, today=TODAY)
    listed = [p for p in problems if p.card == "rights-child-age" and "amended or replaced by" in p.message]
    assert [p.severity for p in listed] == ["warning"]
    assert ("102/2016/QH13 was amended or replaced by 28/2018/QH14 (in force 2019-01-01) after the text this card "
            "was checked against (2018-06-01)") in listed[0].message
    assert not errors_only(problems)


def test_a_card_quoting_an_older_version_is_listed_for_the_amendments_since() -> None:
    reading = read_content(FIXTURE_CONTENT)
    age = reading.content.card("rights-child-age")
    quote = Quote("102/2016/QH13", "Luật Trẻ em 2016, văn bản gốc", dt.date(2017, 6, 1))
    problems = validate(with_card(reading.content, replace(age, quotes=quote)), reading.problems, today=TODAY)
    assert any(p.card == "rights-child-age" and p.severity == "warning" and "by 28/2018/QH14" in p.message
               for p in problems)


def test_the_real_content_lists_the_criminal_code_cards_as_due_a_check() -> None:
    """They quote the 2017 text; Luật 59/2024/QH15 and 86/2025/QH15 amended the Code after it."""
    reading = read_content(REAL_CONTENT)
    warned = {p.card for p in validate(reading.content, reading.problems)
              if p.severity == "warning" and "100/2015/QH13 was amended or replaced by 59/2024/QH15" in p.message}
    assert {"criminal-sexual-under-16", "rights-protection-trafficking"} <= warned


def test_validate_command_exits_1_and_prints_the_problem(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    content = with_overlay("unresolved-citation", tmp_path)
    assert cli_main(["--content", str(content), "validate"]) == 1
    assert "cites 102/2016/QH13 Điều 99" in capsys.readouterr().out
    assert cli_main(["--content", str(FIXTURE_CONTENT), "validate"]) == 0


def test_due_for_review_lists_old_reviews_and_amended_texts() -> None:
    content = read_content(FIXTURE_CONTENT).content
    due = {item.card.id: item.reasons for item in due_for_review(content, TODAY)}
    assert any("last reviewed 2024-01-15" in r for r in due["rights-child-age"])
    assert any("amended by 28/2018/QH14" in r for r in due["rights-protection-sexual-abuse"])
    assert any("replaced by 116/2025/QH15" in r for r in due["online-harmful-content"])
    assert "reporting-how-to-report" in due  # cites the amended Luật Trẻ em too
    assert due_for_review(content, dt.date(2027, 1, 1), max_age_days=10_000) is not None


def test_the_real_content_is_valid() -> None:
    """The content writers' files: what `make test` guards before anything reaches a child."""
    if not (REAL_CONTENT / "documents.yml").exists():
        pytest.skip("no content yet in actions/knowledge_base/content")
    reading = read_content(REAL_CONTENT)
    problems = errors_only(validate(reading.content, reading.problems))
    assert not problems, "\n".join(map(str, problems))
