"""Canonicaliser: accents, teencode, elongation, offsets, emoji (standard library only)."""

import unicodedata

import pytest

from nlu import vietnamese_text
from nlu.vietnamese_text import canonical, fold, has_diacritics, tokenize


def test_fold_removes_diacritics_only():
    assert fold("đánh") == "danh"
    assert fold("Đ") == "D"
    assert fold("Bố Mẹ ĐI") == "Bo Me DI"
    assert fold("tự tử?") == "tu tu?"


def test_canonical_lowercases_and_folds_d():
    assert canonical("đánh") == "danh"
    assert canonical("Đ") == "d"
    assert canonical("Bố em ĐÁNH em") == "bo em danh em"


@pytest.mark.parametrize(
    "accented, plain, teencode",
    [
        ("bố em đánh em", "bo em danh em", "bo e danh e"),
        ("không biết", "khong biet", "ko bít"),
        ("được không", "duoc khong", "dc k"),
        ("mình với bạn", "minh voi ban", "mk vs bn"),
        ("bố mẹ em đi rồi", "bo me em di roi", "bme e đi r"),
    ],
)
def test_accented_unaccented_and_teencode_meet(accented, plain, teencode):
    assert canonical(accented) == canonical(plain) == canonical(teencode)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("k", "khong"), ("ko", "khong"), ("hok", "khong"), ("hông", "khong"),
        ("kh", "khong"), ("khg", "khong"), ("kg", "khong"), ("hem", "khong"),
        ("j", "gi"), ("bít", "biet"), ("mik", "minh"), ("mh", "minh"),
        ("đc", "duoc"), ("dk", "duoc"), ("vs", "voi"), ("bm", "bo me"),
        ("r", "roi"), ("oy", "roi"), ("òi", "roi"), ("nhìu", "nhieu"), ("wá", "qua"),
        ("qá", "qua"), ("ng", "nguoi"), ("ntn", "nhu the nao"), ("đag", "dang"),
        ("dag", "dang"), ("trc", "truoc"), ("ck", "chong"), ("vk", "vo"),
        ("cx", "cung"), ("cg", "cung"), ("thik", "thich"), ("z", "vay"),
    ],
)
def test_teencode_table(text, expected):
    assert canonical(text) == expected


def test_e_expands_only_as_a_standalone_token():
    assert canonical("e bị đánh") == "em bi danh"
    assert canonical("em bé") == "em be"
    assert canonical("xe") == "xe"  # the letter inside a word stays


def test_v_is_vay_only_as_the_particle():
    assert canonical("sao rep nhanh v") == "sao rep nhanh vay"
    assert canonical("thế v hả") == "the vay ha"
    assert canonical("lớp 12 v 1") .split()[2] == "v"  # not a particle: left alone


def test_context_rules():
    assert canonical("hum nay") == "hom nay"
    assert canonical("hum biết") == "khong biet"
    assert canonical("bn tuổi") == "bao nhieu tuoi"
    assert canonical("bn ơi") == "ban oi"
    assert canonical("ko bt") == "khong biet"
    assert canonical("đau hong") == "dau hong"  # throat, not "không"
    assert canonical("hong biết") == "khong biet"
    assert canonical("e 12 t") == "em 12 tuoi"
    assert canonical("16t") == "16 tuoi"


def test_accent_sensitive_teencode_leaves_real_words():
    assert canonical("bịt") == "bit"  # "cover", not "biết"
    assert canonical("bit") == "biet"  # unaccented teencode
    assert canonical("hồng") == "hong"  # "pink", not "không"


def test_elongations_are_squeezed():
    assert canonical("quáaaa") == "qua"
    assert canonical("emmmm") == "em"
    assert canonical("điiii") == "di"
    assert canonical("khônggggg") == "khong"
    assert canonical("huhuuuu") == "huhu"
    assert canonical("hahahaha") == "haha"


def test_legitimate_double_letters_are_kept():
    assert canonical("xoong") == "xoong"
    assert canonical("boong tàu") == "boong tau"
    assert canonical("cứu") == "cuu"  # ư+u: two letters
    assert canonical("cuu em") == "cuu em"  # unaccented "cứu"
    assert canonical("cuuuu em") == "cuu em"
    assert canonical("khoong") == "khong"  # stretched "không", not a real "oo" word


def test_punctuation_is_split_off():
    assert canonical("đi đâu?") == "di dau ?"
    assert canonical("thôi,về") == "thoi , ve"
    assert canonical("sao vậy??!!") == "sao vay ?!"


def test_emoji_tokens():
    tokens = tokenize("buồn quá 😭😭")
    assert [t.kind for t in tokens] == ["word", "word", "emoji", "emoji"]
    assert tokens[2].canonical == "😭"


def test_offsets_point_into_the_original_string():
    text = "  Bố  e đánh e quáaa, 😔 ko bít làm sao"
    for token in tokenize(text):
        assert text[token.start:token.end] == token.text
    tokens = tokenize(text)
    assert tokens[0].text == "Bố" and tokens[0].start == 2
    assert [t.canonical for t in tokens if t.text == "ko"] == ["khong"]


def test_offsets_with_decomposed_input():
    text = unicodedata.normalize("NFD", "Bố đánh em")
    tokens = tokenize(text)
    assert [t.canonical for t in tokens] == ["bo", "danh", "em"]
    for token in tokens:
        assert text[token.start:token.end] == token.text


def test_multi_word_canonical_stays_on_one_token():
    tokens = tokenize("bme e")
    assert tokens[0].text == "bme" and tokens[0].canonical == "bo me"
    assert (tokens[0].start, tokens[0].end) == (0, 3)


def test_has_diacritics():
    assert has_diacritics("đi")
    assert not has_diacritics("di 😊")


def test_empty_text():
    assert canonical("") == ""
    assert tokenize("") == []


def test_module_uses_only_the_standard_library():
    """The app environment imports this module: no third-party imports allowed."""
    import ast
    import sys
    from pathlib import Path

    source = Path(__file__).resolve().parents[2] / "nlu" / "vietnamese_text.py"
    modules = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module.split(".")[0])
    assert modules <= set(sys.stdlib_module_names)


def test_the_tokenizer_knows_every_combining_mark_that_decomposition_produces() -> None:
    # _MARKS is a generated list (see its comment): a newer Unicode must not leave a gap,
    # or decomposed text would lose a mark that composed text keeps.
    import re
    import sys

    known = re.compile(f"[{vietnamese_text._MARKS}]")
    missing = {
        ch
        for cp in range(sys.maxunicode + 1)
        if unicodedata.normalize("NFD", chr(cp)) != chr(cp)
        for ch in unicodedata.normalize("NFD", chr(cp))
        if unicodedata.category(ch).startswith("M") and not known.fullmatch(ch)
    }
    assert not missing, sorted(f"U+{ord(ch):04X}" for ch in missing)


@pytest.mark.parametrize("text", ["x ≠ y", "آب", "Tiếng Việt có dấu", "ở nhà ≠ ở trường"])
def test_composed_and_decomposed_text_tokenize_alike(text: str) -> None:
    composed = vietnamese_text.canonical(unicodedata.normalize("NFC", text))
    assert composed == vietnamese_text.canonical(unicodedata.normalize("NFD", text))
