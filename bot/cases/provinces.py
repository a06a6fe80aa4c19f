"""The 34 provincial units in force since 12 June 2025, and the 63 former names mapped onto them.

Nghị quyết 202/2025/QH15 of the National Assembly (adopted and in force 12/06/2025; the new
provincial governments work from 01/07/2025) merged 52 of the 63 former provinces and cities
into 23 units and kept 11 as they were: 6 centrally-run cities and 28 provinces.

Source of the data below (checked 2026-12-07; see docs/provinces.md):
- which former provinces make each unit: the merger table `bando_co_dvch` ("truocsapnhap") of
  https://github.com/thanglequoc/vietnamese-provinces-database (MIT licence), file
  dataset-generation-scripts/bando_co_dvch.sql at commit cd58063299585146ded3981f2272946ef19ced54,
  taken from the official merger map sapnhap.bando.com.vn (Nhà xuất bản Tài nguyên - Môi trường
  và Bản đồ Việt Nam);
- the unit codes: the same repository's resources/manual_seeds/provinces_seed.sql, the codes of
  the General Statistics Office's list of administrative units (danhmuchanhchinh.nso.gov.vn);
- cross-checked against press reports of the resolution as adopted (nld.com.vn and vnexpress.net,
  12/06/2025), which give the same 23 merged units with the same names.
The text of the resolution itself was not read: what is above is the official map's table and
the statistics office's codes, agreeing with each other and with the press.

Only data and a lookup: the bot never asks where a child is as a condition of help; the
counsellor records the province if the child said it, and "chưa rõ" is always allowed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class Province:
    code: str  # the statistics office's code of the unit, e.g. "79"
    name: str  # how the console shows it, e.g. "TP. Hồ Chí Minh"
    city: bool  # a centrally-run city (thành phố trực thuộc trung ương)
    former: tuple[str, ...]  # the former provinces and cities it was made of (itself included)


# (code, name, centrally-run city, former units). Order: the statistics office's codes.
PROVINCES: tuple[Province, ...] = tuple(Province(*row) for row in (
    ("01", "TP. Hà Nội", True, ("Hà Nội",)),
    ("04", "Cao Bằng", False, ("Cao Bằng",)),
    ("08", "Tuyên Quang", False, ("Tuyên Quang", "Hà Giang")),
    ("11", "Điện Biên", False, ("Điện Biên",)),
    ("12", "Lai Châu", False, ("Lai Châu",)),
    ("14", "Sơn La", False, ("Sơn La",)),
    ("15", "Lào Cai", False, ("Lào Cai", "Yên Bái")),
    ("19", "Thái Nguyên", False, ("Thái Nguyên", "Bắc Kạn")),
    ("20", "Lạng Sơn", False, ("Lạng Sơn",)),
    ("22", "Quảng Ninh", False, ("Quảng Ninh",)),
    ("24", "Bắc Ninh", False, ("Bắc Ninh", "Bắc Giang")),
    ("25", "Phú Thọ", False, ("Phú Thọ", "Vĩnh Phúc", "Hòa Bình")),
    ("31", "TP. Hải Phòng", True, ("Hải Phòng", "Hải Dương")),
    ("33", "Hưng Yên", False, ("Hưng Yên", "Thái Bình")),
    ("37", "Ninh Bình", False, ("Ninh Bình", "Hà Nam", "Nam Định")),
    ("38", "Thanh Hóa", False, ("Thanh Hóa",)),
    ("40", "Nghệ An", False, ("Nghệ An",)),
    ("42", "Hà Tĩnh", False, ("Hà Tĩnh",)),
    ("44", "Quảng Trị", False, ("Quảng Trị", "Quảng Bình")),
    ("46", "TP. Huế", True, ("Thừa Thiên Huế",)),
    ("48", "TP. Đà Nẵng", True, ("Đà Nẵng", "Quảng Nam")),
    ("51", "Quảng Ngãi", False, ("Quảng Ngãi", "Kon Tum")),
    ("52", "Gia Lai", False, ("Gia Lai", "Bình Định")),
    ("56", "Khánh Hòa", False, ("Khánh Hòa", "Ninh Thuận")),
    ("66", "Đắk Lắk", False, ("Đắk Lắk", "Phú Yên")),
    ("68", "Lâm Đồng", False, ("Lâm Đồng", "Đắk Nông", "Bình Thuận")),
    ("75", "Đồng Nai", False, ("Đồng Nai", "Bình Phước")),
    ("79", "TP. Hồ Chí Minh", True, ("Hồ Chí Minh", "Bình Dương", "Bà Rịa - Vũng Tàu")),
    ("80", "Tây Ninh", False, ("Tây Ninh", "Long An")),
    ("82", "Đồng Tháp", False, ("Đồng Tháp", "Tiền Giang")),
    ("86", "Vĩnh Long", False, ("Vĩnh Long", "Bến Tre", "Trà Vinh")),
    ("91", "An Giang", False, ("An Giang", "Kiên Giang")),
    ("92", "TP. Cần Thơ", True, ("Cần Thơ", "Sóc Trăng", "Hậu Giang")),
    ("96", "Cà Mau", False, ("Cà Mau", "Bạc Liêu")),
))

BY_CODE: dict[str, Province] = {p.code: p for p in PROVINCES}
# The console's choice "not known" (never required).
UNKNOWN = ""
UNKNOWN_LABEL = "Chưa rõ"

# Other ways people write a unit or a former one: short forms, old and everyday names, a few
# big cities that people name instead of their province. Keys are folded (see `fold`).
ALIASES: dict[str, str] = {
    # TP. Hồ Chí Minh
    "hcm": "79", "tphcm": "79", "hochiminh": "79", "hochiminhcity": "79", "saigon": "79", "sg": "79",
    "tpsaigon": "79", "brvt": "79", "bariavungtau": "79", "vungtau": "79",
    "baria": "79", "thudaumot": "79", "dian": "79", "thuanan": "79",
    # Hà Nội, Hải Phòng, Đà Nẵng, Cần Thơ, Huế
    "hn": "01", "hanoi": "01", "thudohanoi": "01", "hp": "31", "haiphong": "31", "haiduong": "31",
    "danang": "48", "quangnam": "48", "hoian": "48", "tamky": "48",
    "cantho": "92", "soctrang": "92", "haugiang": "92", "vithanh": "92",
    "hue": "46", "thuathienhue": "46", "tthue": "46", "tth": "46",
    # spelling variants of the Central Highlands and the north
    "daklak": "66", "daclac": "66", "daclak": "66", "buonmathuot": "66", "phuyen": "66", "tuyhoa": "66",
    "daknong": "68", "dacnong": "68", "gianghia": "68", "dalat": "68", "phanthiet": "68", "binhthuan": "68",
    "kontum": "51", "baccan": "19", "backan": "19", "hoabinh": "25", "vinhphuc": "25", "vinhyen": "25",
    "yenbai": "15", "hagiang": "08", "quynhon": "52", "binhdinh": "52", "pleiku": "52",
    "nhatrang": "56", "camranh": "56", "phanrang": "56", "phanrangthapcham": "56", "ninhthuan": "56",
    "bienhoa": "75", "dongxoai": "75", "binhphuoc": "75", "tanan": "80", "longan": "80",
    "mytho": "82", "tiengiang": "82", "caolanh": "82", "bentre": "86", "travinh": "86",
    "rachgia": "91", "phuquoc": "91", "kiengiang": "91", "longxuyen": "91", "chaudoc": "91",
    "baclieu": "96", "namdinh": "37", "hanam": "37", "phuly": "37", "thaibinh": "33",
    "bacgiang": "24", "donghoi": "44", "quangbinh": "44", "vinh": "40", "halong": "22",
}

_PREFIXES = ("thanhphotructhuoctrunguong", "thanhpho", "thudo", "tinh", "tp")


def fold(text: str) -> str:
    """Lower case, no diacritics (đ → d), letters and digits only: "TP. Hồ Chí Minh" → "tphochiminh"."""
    text = text.strip().lower().replace("đ", "d").replace("Đ", "d")
    text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
    return re.sub(r"[^a-z0-9]", "", text)


def _index() -> dict[str, str]:
    index: dict[str, str] = {}
    for province in PROVINCES:
        for name in (province.name, *province.former):
            index[fold(name)] = province.code
    for key, code in ALIASES.items():
        index[key] = code
    return index


_INDEX = _index()


def lookup(text: str) -> Province | None:
    """The unit in force for a name as people write it (new or former, with or without
    diacritics, "tỉnh"/"thành phố"/"TP." or not, short forms); None when not recognised."""
    key = fold(text)
    if not key:
        return None
    if key in BY_CODE:
        return BY_CODE[key]
    if key in _INDEX:
        return BY_CODE[_INDEX[key]]
    for prefix in _PREFIXES:
        if key.startswith(prefix) and key[len(prefix):] in _INDEX:
            return BY_CODE[_INDEX[key[len(prefix):]]]
    return None


def label(code: str | None) -> str:
    """How the console and the reports name a stored code ("" → "Chưa rõ")."""
    if not code:
        return UNKNOWN_LABEL
    province = BY_CODE.get(code)
    return province.name if province else code


def former_names() -> list[tuple[str, str]]:
    """Every one of the 63 former provinces and cities with the code of its unit today."""
    return [(name, p.code) for p in PROVINCES for name in p.former]
