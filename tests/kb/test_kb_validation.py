"""Broken content is caught before loading, with messages naming file and card."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from actions.knowledge_base.cli import main as cli_main
from actions.knowledge_base.content import read_content
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
