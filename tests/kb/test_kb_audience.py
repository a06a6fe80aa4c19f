"""Child or parent, from the way people write (accents, no accents, teencode)."""

from __future__ import annotations

import pytest

from actions.knowledge_base.audience import infer_audience


@pytest.mark.parametrize("text", [
    "Con tôi 14 tuổi muốn đi làm hè có được không?",
    "con toi bi ban danh o truong",
    "Cháu nhà tôi lớp 7 bị bắt nạt",
    "con mình hay chơi game cả đêm",
    "Tôi là phụ huynh, muốn hỏi về trợ cấp",
    "be nha minh 5 tuoi",
    "con gái em 9 tuổi bị người lạ nhắn tin",
    "con e 6t có được đi làm mẫu ảnh k",
    "Tôi 35 tuổi, muốn nhận con nuôi",
    "cha mẹ nên làm gì khi con bị bắt nạt",
])
def test_parents(text: str) -> None:
    assert infer_audience(text).audience == "parent", infer_audience(text)


@pytest.mark.parametrize("text", [
    "em lớp 7, em có quyền gì?",
    "e hoc lop 9 muon di lam them",
    "mình học lớp 8 bị bạn nói xấu",
    "Em 15 tuổi có còn là trẻ em không?",
    "e 13t có đc làm tiktok k",
    "bố mẹ em cấm em đi sinh hoạt đội",
    "bme e ly hôn thì e ở với ai",
    "cháu lớp 6 ạ, cháu muốn hỏi",
    "em có quyền gì khi bị đánh",
])
def test_children(text: str) -> None:
    assert infer_audience(text).audience == "child", infer_audience(text)


@pytest.mark.parametrize("text", ["Trẻ em có quyền gì?", "luat tre em 2016", "Tổng đài 111 là gì", ""])
def test_unclear(text: str) -> None:
    assert infer_audience(text).audience is None


def test_mother_and_i_is_not_read_as_a_parent() -> None:
    # "mẹ con em" is "mum and I" from a child (or a young mother): never "con em N tuổi"
    assert infer_audience("mẹ con em bị bố đánh").audience != "parent"
