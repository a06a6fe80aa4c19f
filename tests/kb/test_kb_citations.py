"""The basis line: written from the cited documents, and read back by the e2e helper."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from actions.knowledge_base.citations import assert_cites, basis_line, find_basis, parse_basis
from actions.knowledge_base.content import Citation, Document, Quote, read_content
from tests.kb.kb_paths import FIXTURE_CONTENT

DOCUMENTS = {d.number: d for d in read_content(FIXTURE_CONTENT).content.documents}
DAY = dt.date(2026, 11, 28)


def amending(number: str, in_force: dt.date) -> Document:
    return Document(number, "luat", f"Luật {number}", "Luật sửa đổi", None, in_force, "in_force")


# The Criminal Code as amended in 2017, 2024 and 2025 (the fixture knows only 2017).
AMENDED_CODE = {**DOCUMENTS, **{d.number: d for d in (amending("12/2017/QH14", dt.date(2018, 1, 1)),
                                                       amending("59/2024/QH15", dt.date(2026, 1, 1)),
                                                       amending("86/2025/QH15", dt.date(2025, 7, 1)))},
                "100/2015/QH13": replace(DOCUMENTS["100/2015/QH13"],
                                         amended_by=("12/2017/QH14", "59/2024/QH15", "86/2025/QH15"))}


def test_one_article_reads_like_the_issue_example() -> None:
    line = basis_line([Citation("56/2017/NĐ-CP", "25")], DOCUMENTS, DAY)
    assert line == "Căn cứ: Điều 25 Nghị định 56/2017/NĐ-CP. Đối chiếu văn bản ngày 28/11/2026."
    line = basis_line([Citation("102/2016/QH13", "25")], DOCUMENTS, DAY)
    assert line.startswith("Căn cứ: Điều 25 Luật Trẻ em 2016 "
                           "(số 102/2016/QH13, đã được sửa đổi, bổ sung bởi 28/2018/QH14)")


def test_citations_group_by_document_in_card_order() -> None:
    line = basis_line([Citation("100/2015/QH13", "142"), Citation("102/2016/QH13", "25"),
                       Citation("100/2015/QH13", "146"), Citation("100/2015/QH13", "185", "2")], DOCUMENTS, DAY)
    assert line == ("Căn cứ: khoản 2 Điều 185, Điều 142, 146 Bộ luật Hình sự 2015 (số 100/2015/QH13, đã được "
                    "sửa đổi, bổ sung bởi 12/2017/QH14); Điều 25 Luật Trẻ em 2016 (số 102/2016/QH13, đã được "
                    "sửa đổi, bổ sung bởi 28/2018/QH14). Đối chiếu văn bản ngày 28/11/2026.")


def test_a_replaced_text_says_what_replaced_it_and_when() -> None:
    line = basis_line([Citation("24/2018/QH14", "29"), Citation("116/2025/QH15", None)], DOCUMENTS, DAY)
    assert "Điều 29 Luật An ninh mạng 2018 (số 24/2018/QH14, đã được thay thế bởi 116/2025/QH15 từ 01/07/2026)" in line
    assert "; Luật An ninh mạng 2025 (số 116/2025/QH15)." in line  # cited as a whole: no article


@pytest.mark.parametrize("citations", [
    [Citation("102/2016/QH13", "25")],
    [Citation("100/2015/QH13", "142"), Citation("100/2015/QH13", "185", "2"), Citation("56/2017/NĐ-CP", "25")],
    [Citation("24/2018/QH14", "29"), Citation("116/2025/QH15", None)],
])
def test_parse_reads_back_what_was_written(citations: list[Citation]) -> None:
    basis = parse_basis(basis_line(citations, DOCUMENTS, DAY))
    assert basis is not None and basis.checked_on == DAY
    assert sorted(basis.citations, key=repr) == sorted(citations, key=repr)


def test_the_date_is_the_cards_own_check_not_a_date_for_the_whole_knowledge_base() -> None:
    line = basis_line([Citation("102/2016/QH13", "25")], DOCUMENTS, dt.date(2026, 12, 7))
    assert line.endswith(". Đối chiếu văn bản ngày 07/12/2026.")
    assert "Cập nhật đến" not in line
    assert parse_basis(line).checked_on == dt.date(2026, 12, 7)


def test_a_card_quoting_an_older_text_says_which_and_names_the_amendments_not_checked() -> None:
    quote = Quote("100/2015/QH13", "Bộ luật Hình sự 2015, sửa đổi, bổ sung năm 2017", dt.date(2018, 1, 1))
    line = basis_line([Citation("100/2015/QH13", "142")], AMENDED_CODE, DAY, quote)
    assert ("Nội dung trích theo Bộ luật Hình sự 2015, sửa đổi, bổ sung năm 2017; chưa đối chiếu các sửa đổi "
            "của 59/2024/QH15 và 86/2025/QH15. Đối chiếu văn bản ngày 28/11/2026.") in line
    basis = parse_basis(line)
    assert basis.citations == (Citation("100/2015/QH13", "142"),) and basis.checked_on == DAY
    assert basis.quoted.startswith("Bộ luật Hình sự 2015, sửa đổi, bổ sung năm 2017; chưa đối chiếu")


def test_find_and_assert_work_on_a_whole_reply() -> None:
    reply = ["Em có quyền được bảo vệ.", basis_line([Citation("102/2016/QH13", "25")], DOCUMENTS, DAY),
             "Câu trả lời này có hữu ích không?"]
    assert find_basis(reply).cites("102/2016/QH13", "25")
    assert_cites(reply, "102/2016/QH13", "25")
    with pytest.raises(AssertionError, match="does not cite 100/2015/QH13"):
        assert_cites(reply, "100/2015/QH13", "142")
    with pytest.raises(AssertionError, match="no 'Căn cứ:' line"):
        assert_cites(["Xin chào"], "102/2016/QH13")
