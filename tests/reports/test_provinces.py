"""The 34 units in force since 12/06/2025: every former province, written as people write it,
lands on the unit it is part of today (bot/cases/provinces.py)."""

from __future__ import annotations

import unicodedata

import pytest

from bot.cases import provinces

# Written out here independently of the module (Nghị quyết 202/2025/QH15; docs/provinces.md):
# former province or city -> the unit it belongs to now.
FORMER_TO_NEW = {
    "Hà Nội": "TP. Hà Nội", "Cao Bằng": "Cao Bằng", "Điện Biên": "Điện Biên", "Lai Châu": "Lai Châu",
    "Sơn La": "Sơn La", "Lạng Sơn": "Lạng Sơn", "Quảng Ninh": "Quảng Ninh", "Thanh Hóa": "Thanh Hóa",
    "Nghệ An": "Nghệ An", "Hà Tĩnh": "Hà Tĩnh", "Thừa Thiên Huế": "TP. Huế",
    "Hà Giang": "Tuyên Quang", "Tuyên Quang": "Tuyên Quang",
    "Yên Bái": "Lào Cai", "Lào Cai": "Lào Cai",
    "Bắc Kạn": "Thái Nguyên", "Thái Nguyên": "Thái Nguyên",
    "Vĩnh Phúc": "Phú Thọ", "Hòa Bình": "Phú Thọ", "Phú Thọ": "Phú Thọ",
    "Bắc Giang": "Bắc Ninh", "Bắc Ninh": "Bắc Ninh",
    "Thái Bình": "Hưng Yên", "Hưng Yên": "Hưng Yên",
    "Hải Dương": "TP. Hải Phòng", "Hải Phòng": "TP. Hải Phòng",
    "Hà Nam": "Ninh Bình", "Nam Định": "Ninh Bình", "Ninh Bình": "Ninh Bình",
    "Quảng Bình": "Quảng Trị", "Quảng Trị": "Quảng Trị",
    "Quảng Nam": "TP. Đà Nẵng", "Đà Nẵng": "TP. Đà Nẵng",
    "Kon Tum": "Quảng Ngãi", "Quảng Ngãi": "Quảng Ngãi",
    "Bình Định": "Gia Lai", "Gia Lai": "Gia Lai",
    "Ninh Thuận": "Khánh Hòa", "Khánh Hòa": "Khánh Hòa",
    "Đắk Nông": "Lâm Đồng", "Bình Thuận": "Lâm Đồng", "Lâm Đồng": "Lâm Đồng",
    "Phú Yên": "Đắk Lắk", "Đắk Lắk": "Đắk Lắk",
    "Bình Phước": "Đồng Nai", "Đồng Nai": "Đồng Nai",
    "Bình Dương": "TP. Hồ Chí Minh", "Bà Rịa - Vũng Tàu": "TP. Hồ Chí Minh", "Hồ Chí Minh": "TP. Hồ Chí Minh",
    "Long An": "Tây Ninh", "Tây Ninh": "Tây Ninh",
    "Tiền Giang": "Đồng Tháp", "Đồng Tháp": "Đồng Tháp",
    "Bến Tre": "Vĩnh Long", "Trà Vinh": "Vĩnh Long", "Vĩnh Long": "Vĩnh Long",
    "Kiên Giang": "An Giang", "An Giang": "An Giang",
    "Sóc Trăng": "TP. Cần Thơ", "Hậu Giang": "TP. Cần Thơ", "Cần Thơ": "TP. Cần Thơ",
    "Bạc Liêu": "Cà Mau", "Cà Mau": "Cà Mau",
}

SHORT_FORMS = {
    "HCM": "TP. Hồ Chí Minh", "TP.HCM": "TP. Hồ Chí Minh", "TPHCM": "TP. Hồ Chí Minh",
    "tp hcm": "TP. Hồ Chí Minh", "Sài Gòn": "TP. Hồ Chí Minh", "sai gon": "TP. Hồ Chí Minh",
    "Thành phố Hồ Chí Minh": "TP. Hồ Chí Minh", "Vũng Tàu": "TP. Hồ Chí Minh", "BR-VT": "TP. Hồ Chí Minh",
    "Huế": "TP. Huế", "hue": "TP. Huế", "TT Huế": "TP. Huế", "Thành phố Huế": "TP. Huế",
    "HN": "TP. Hà Nội", "Thủ đô Hà Nội": "TP. Hà Nội", "hanoi": "TP. Hà Nội",
    "Daklak": "Đắk Lắk", "Đắc Lắc": "Đắk Lắk", "Dak Nong": "Lâm Đồng", "Kontum": "Quảng Ngãi",
    "Bắc Cạn": "Thái Nguyên", "Hoà Bình": "Phú Thọ", "Thanh Hoá": "Thanh Hóa", "Khánh Hoà": "Khánh Hòa",
    "tỉnh Bình Dương": "TP. Hồ Chí Minh", "TP. Đà Nẵng": "TP. Đà Nẵng", "tp can tho": "TP. Cần Thơ",
    "Nha Trang": "Khánh Hòa", "Đà Lạt": "Lâm Đồng", "Quy Nhơn": "Gia Lai", "Phú Quốc": "An Giang",
}


def without_diacritics(text: str) -> str:
    text = text.replace("đ", "d").replace("Đ", "D")
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


def test_there_are_34_units_6_of_them_cities_made_of_the_63_former_ones() -> None:
    assert len(provinces.PROVINCES) == 34
    assert sum(p.city for p in provinces.PROVINCES) == 6
    assert len({p.code for p in provinces.PROVINCES}) == 34
    former = provinces.former_names()
    assert len(former) == 63 and len({name for name, _ in former}) == 63
    assert sorted(name for name, _ in former) == sorted(FORMER_TO_NEW)
    assert sum(len(p.former) == 1 for p in provinces.PROVINCES) == 11  # kept as they were


@pytest.mark.parametrize("former", sorted(FORMER_TO_NEW))
def test_every_former_province_maps_to_its_unit_with_and_without_diacritics(former: str) -> None:
    expected = FORMER_TO_NEW[former]
    for written in (former, without_diacritics(former), former.lower(), without_diacritics(former).upper(),
                    f"tỉnh {former}", f"thanh pho {without_diacritics(former)}", former.replace(" ", "")):
        found = provinces.lookup(written)
        assert found is not None and found.name == expected, (written, found)


@pytest.mark.parametrize("written", sorted(SHORT_FORMS))
def test_common_short_and_everyday_forms(written: str) -> None:
    found = provinces.lookup(written)
    assert found is not None and found.name == SHORT_FORMS[written], (written, found)


def test_the_new_names_and_codes_find_themselves_and_nonsense_finds_nothing() -> None:
    for province in provinces.PROVINCES:
        assert provinces.lookup(province.name) == province
        assert provinces.lookup(province.code) == province
    for nonsense in ("", "   ", "Hà", "quận 1", "Trung Quốc", "abc"):
        assert provinces.lookup(nonsense) is None
    assert provinces.label("") == "Chưa rõ" and provinces.label("79") == "TP. Hồ Chí Minh"
