"""Vietnamese text normalisation shared by the NLU engine and the knowledge base.

PURE STANDARD LIBRARY: the app environment imports this module too (knowledge-base
retrieval uses the same canonical form the NLU uses for its features).

Public API
----------
``fold(text)``       diacritics off only (đ→d, Đ→D); case and everything else kept.
``tokenize(text)``   list of :class:`Token`; each keeps its ORIGINAL ``text`` and
                     ``start``/``end`` offsets into the string given (so entity
                     annotations align), plus its ``canonical`` form.
``canonical(text)``  the canonical tokens joined by single spaces.

Canonical form of one token
---------------------------
1. Unicode NFC, lower case.
2. Elongations squeezed, comparing letters without their TONE but keeping the
   vowel letters ă â ê ô ơ ư đ distinct ("quáaaa"→"quá", "emmm"→"em", but
   "cứu" keeps ư+u). Vietnamese never doubles a letter except "oo" (xoong, boong,
   soóc) and, once accents are gone, "uu" (cứu→cuu, hưu→huu); those are kept when
   the syllable is a real one.
3. Teencode expanded (tables below). Accent-sensitive entries are looked up first
   on the accented form ("hông"→khong but "hồng" stays); entries of the plain table
   apply only to tokens typed without any diacritic ("bit"→biet, but "bịt" stays).
4. Diacritics folded (đ→d).
5. A few context rules that need the neighbouring tokens (see ``_context_rules``):
   "v" → vay only as the sentence-final particle, "hum nay" → hom nay,
   "bn tuoi" → bao nhieu tuoi, "ko bt" → khong biet, "12 t" → 12 tuoi,
   "hong" → khong unless it is a body part or "bị hỏng".

Teencode table (canonical ← forms children type)
------------------------------------------------
khong        ← k, ko, kg, kh, khg, khog, khum, hok, hog, hk, hem, hông, hổng, hơm, kô,
               hong (unaccented, not after bị/đau/viêm...), hum (not before nay/qua...)
gi           ← j, ji, zì
biet         ← bít, bik, bjk, bit, bjt, biet, bt (after a negation)
minh         ← mk, mik, mh, mjk, mjnh, mìk, mình
duoc         ← dc, đc, dk, đk, đươc
voi          ← vs
vay          ← z, zậy, zay, dzậy, dzay, zị, dzị, v (sentence-final particle only)
bo me        ← bme, bm, pm? (no: "pm" is a private message)
em           ← e (standalone token only)
roi          ← r, òi, ùi, rùi, oy, roy, rui
nhieu        ← nhìu, nhiu
qua          ← wá, qá, wa, qa
nguoi        ← ng, ngừi;  nguoi ta ← ngta;  nguoi yeu ← ny;  moi nguoi ← mn, mng
nhu the nao  ← ntn
dang         ← đag, dag, đg, dg
truoc        ← trc
chong / vo   ← ck / vk
ban          ← bn (bao nhieu before tuoi/tien/lau/nam...)
cung         ← cx, cg, cũg
thich        ← thik, thík
muon         ← mún;  buon ← bùn;  yeu ← iu;  thoi ← thui;  luon ← lun;  lam ← lém, lm
chet         ← chít;  noi ← ns;  nua ← nx;  chua ← chx;  moi ← ms;  sao ← s
gio          ← h (standalone), jờ;  bay gio ← bh, bg, bjo
hom nay / hom qua ← hnay / hqua;  dien thoai ← dt, đt;  gia dinh ← gđ, gd
hoc sinh / giao vien ← hs / gv;  toi ← t (tuoi after a number);  a ← ak, ạk, ah
u ← uk, uh, ukm, uhm, um, ừm;  ok ← oke, okie, oki, okê;  cam on ← tks, thx, camon
Word-initial "j"+vowel → "gi" (jết→giết, jup→giup); other "j" → "i" (mjnh→minh).
Laughter and crying are normalised: hahaha→haha, hihihi→hihi, huhuhu→huhu, hjx→hic.
Numbers glued to an age unit are split: "16t", "16tuổi" → "16 tuoi".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Dict, List, Optional

__all__ = ["Token", "canonical", "tokenize", "fold", "has_diacritics", "canonical_word", "spelling"]

# Combining marks that carry TONE in Vietnamese (grave, acute, tilde, hook, dot below).
_TONE_MARKS = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}


@dataclass(frozen=True)
class Token:
    """One token: original ``text`` and offsets, and its ``canonical`` form.

    ``kind`` is "word", "number", "punct" or "emoji". A teencode expansion may give a
    multi-word canonical ("bme" → "bo me"); it stays on the one token.
    """

    text: str
    start: int
    end: int
    canonical: str
    kind: str = "word"


# --------------------------------------------------------------------------- folding


def fold(text: str) -> str:
    """Removes diacritics only (đ→d, Đ→D); case and other characters are kept."""
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return unicodedata.normalize("NFC", stripped).replace("đ", "d").replace("Đ", "D")


def has_diacritics(text: str) -> bool:
    """True when the text carries any Vietnamese diacritic (including đ)."""
    return fold(text) != unicodedata.normalize("NFC", text)


def _letter_base(ch: str) -> str:
    """The letter without its tone, keeping ă â ê ô ơ ư distinct ("ấ"→"â")."""
    decomposed = unicodedata.normalize("NFD", ch)
    kept = "".join(c for c in decomposed if c not in _TONE_MARKS)
    return unicodedata.normalize("NFC", kept)


# ------------------------------------------------------------------------ squeezing

# Real syllables with a doubled letter once accents are gone.
_REAL_OO = re.compile(r"^(b|c|g|l|m|r|s|t|x)?oo(ng|c)$")  # xoong, boong, soóc, goòng
_REAL_UU = re.compile(r"^(b|c|ch|d|gi|h|kh|l|m|n|ng|nh|r|s|t|th|tr|v|x)?uu$")  # cứu, hưu


def _squeeze(word: str) -> str:
    """Squeezes elongations: any run of the same (tone-less) letter becomes one letter,
    except "oo"/"uu" where the syllable really has them."""
    if len(word) < 2:
        return word
    runs: List[List[str]] = []
    for ch in word:
        base = _letter_base(ch)
        if runs and runs[-1][0] == base and ch.isalpha():
            runs[-1].append(ch)
        else:
            runs.append([base, ch])
    single = "".join(run[1] for run in runs)
    if not any(len(run) > 2 and run[0] in ("o", "u") for run in runs):
        return single
    doubled = "".join(
        run[1] + (run[2] if len(run) > 2 and run[0] in ("o", "u") else "") for run in runs
    )
    folded = fold(doubled)
    if _REAL_OO.match(folded) or _REAL_UU.match(folded):
        return doubled
    return single


# ------------------------------------------------------------------------- teencode

# Looked up on the lower-cased, squeezed ACCENTED form (accents disambiguate).
_ACCENTED_TEENCODE: Dict[str, str] = {
    "hông": "khong", "hổng": "khong", "hơm": "khong", "kô": "khong",
    "bít": "biet", "bík": "biet",
    "mìk": "minh", "mìn": "minh",
    "đc": "duoc", "đk": "duoc", "đươc": "duoc",
    "zậy": "vay", "dzậy": "vay", "zị": "vay", "dzị": "vay", "zạ": "vay",
    "zì": "gi", "jì": "gi", "jờ": "gio",
    "òi": "roi", "ùi": "roi", "rùi": "roi",
    "nhìu": "nhieu",
    "wá": "qua", "qá": "qua", "wớ": "qua",
    "ngừi": "nguoi",
    "đag": "dang", "đg": "dang",
    "cũg": "cung",
    "thík": "thich",
    "mún": "muon", "bùn": "buon", "lém": "lam", "chít": "chet",
    "gđ": "gia dinh", "đt": "dien thoai", "sđt": "so dien thoai",
    "ạk": "a", "ừm": "u", "ừk": "u", "ừa": "u", "okê": "ok",
    "zô": "vo", "dzô": "vo", "zìa": "ve", "dìa": "ve",
    "ảk": "a",
}

# Looked up only on tokens typed WITHOUT any diacritic (so "bịt", "hồng" are safe).
_PLAIN_TEENCODE: Dict[str, str] = {
    "k": "khong", "ko": "khong", "kg": "khong", "kh": "khong", "khg": "khong",
    "khog": "khong", "khum": "khong", "hok": "khong", "hog": "khong", "hk": "khong",
    "hem": "khong", "hong": "khong", "hum": "khong", "khong": "khong", "kong": "khong",
    "j": "gi", "ji": "gi",
    "bik": "biet", "bjk": "biet", "bit": "biet", "bjt": "biet",
    "mk": "minh", "mik": "minh", "mh": "minh", "mjk": "minh", "mjnh": "minh",
    "dc": "duoc", "dk": "duoc", "dcd": "duoc",
    "vs": "voi",
    "z": "vay", "zay": "vay", "dzay": "vay", "zi": "vay", "dzi": "vay",
    "bme": "bo me", "bm": "bo me",
    "e": "em",
    "r": "roi", "oy": "roi", "roy": "roi", "rui": "roi",
    "nhiu": "nhieu",
    "wa": "qua", "qa": "qua",
    "ng": "nguoi", "ngta": "nguoi ta", "ny": "nguoi yeu", "nyc": "nguoi yeu cu",
    "mn": "moi nguoi", "mng": "moi nguoi", "mnguoi": "moi nguoi",
    "ntn": "nhu the nao",
    "dag": "dang", "dg": "dang",
    "trc": "truoc",
    "ck": "chong", "vk": "vo",
    "bn": "ban",
    "cx": "cung", "cg": "cung", "cug": "cung",
    "thik": "thich", "thix": "thich",
    "iu": "yeu", "thui": "thoi", "lun": "luon", "lm": "lam",
    "ns": "noi", "nx": "nua", "chx": "chua", "ms": "moi", "s": "sao",
    "h": "gio", "bh": "bay gio", "bg": "bay gio", "bjo": "bay gio", "bayh": "bay gio",
    "hnay": "hom nay", "hqua": "hom qua", "hwa": "hom qua",
    "dt": "dien thoai", "sdt": "so dien thoai", "gd": "gia dinh",
    "hs": "hoc sinh", "gv": "giao vien", "gvcn": "giao vien chu nhiem", "ph": "phu huynh",
    "t": "toi",
    "ak": "a", "ah": "a",
    "uk": "u", "uh": "u", "ukm": "u", "uhm": "u", "um": "u", "umk": "u",
    "oke": "ok", "okie": "ok", "oki": "ok", "okey": "ok", "okela": "ok",
    "tks": "cam on", "thx": "cam on", "camon": "cam on", "cmon": "cam on",
    "sr": "xin loi", "srr": "xin loi",
    "cj": "chi", "fb": "facebook", "ig": "instagram", "insta": "instagram",
    "zl": "zalo", "ib": "inbox", "nt": "nhan tin", "ntin": "nhan tin",
    "nch": "noi chuyen", "bth": "binh thuong",
    "zui": "vui", "dzui": "vui", "zo": "vo", "dzo": "vo",
    "fai": "phai", "fim": "phim", "fong": "phong",
}

_LAUGHTER = [
    (re.compile(r"^(ha){2,}h?$"), "haha"),
    (re.compile(r"^(hi){2,}h?$"), "hihi"),
    (re.compile(r"^(he){2,}h?$"), "hehe"),
    (re.compile(r"^(hu){2,}h?$"), "huhu"),
    (re.compile(r"^(hic|hix|hjc|hjx)+$"), "hic"),
]

_AGE_GLUED = re.compile(r"^(\d{1,2})(t|tuoi|tuổi)$")


def _expand_j(word: str) -> str:
    """Teen "j": word-initial j+vowel is "gi" (jết→giết), elsewhere it is "i" (mjnh)."""
    if "j" not in word or word == "j":
        return word
    if word[0] == "j" and len(word) > 1 and fold(word[1]) in "aeiouy":
        word = "gi" + word[1:]
    return word.replace("j", "i")


def spelling(word: str) -> str:
    """The word as typed, normalised only: NFC, lower case, elongations squeezed
    (accents kept). Used to compare spellings that fold alike ("đánh" vs "dành")."""
    return _squeeze(unicodedata.normalize("NFC", word).lower())


def canonical_word(word: str) -> str:
    """Canonical form of ONE word-like token, without the context rules."""
    lowered = unicodedata.normalize("NFC", word).lower()
    age = _AGE_GLUED.match(lowered)
    if age:
        return f"{age.group(1)} tuoi"
    squeezed = _squeeze(lowered)
    if squeezed in _ACCENTED_TEENCODE:
        return _ACCENTED_TEENCODE[squeezed]
    plain = not has_diacritics(squeezed)
    if plain and squeezed in _PLAIN_TEENCODE:
        return _PLAIN_TEENCODE[squeezed]
    squeezed = _expand_j(squeezed)
    # Teen "w" for "qu" (wên → quên); only on accented forms: "web", "wifi" stay.
    if squeezed.startswith("w") and not plain and len(squeezed) <= 5:
        squeezed = "qu" + squeezed[1:]
    folded = fold(squeezed)
    for pattern, replacement in _LAUGHTER:
        if pattern.match(folded):
            return replacement
    if plain and folded in _PLAIN_TEENCODE:
        return _PLAIN_TEENCODE[folded]
    return folded


# ----------------------------------------------------------------------- tokenising

# Words: letters/digits plus combining marks (decomposed input keeps its offsets).
# Combining marks that canonical decomposition (NFD) produces: Vietnamese tones and
# vowel marks (U+0300-U+036F) and those of other scripts, listed so that decomposed
# input keeps each mark on its letter or symbol and NFC and NFD text tokenize alike.
# Generated from unicodedata (Python 3.11); tests/nlu checks that the list is complete.
_MARKS = "\u0300-\u036f\u05b4\u05b7-\u05b9\u05bc\u05bf\u05c1-\u05c2\u0653-\u0655\u093c\u09bc\u09be\u09c7\u09d7\u0a3c\u0b3c\u0b3e\u0b47\u0b56-\u0b57\u0bbe\u0bc6-\u0bc7\u0bd7\u0c46\u0c56\u0cbf\u0cc2\u0cc6\u0cd5-\u0cd6\u0d3e\u0d46-\u0d47\u0d57\u0dca\u0dcf\u0dd9\u0ddf\u0f71-\u0f72\u0f74\u0f80\u0f90\u0f92\u0f9c\u0fa1\u0fa6\u0fab\u0fb2-\u0fb3\u0fb5\u0fb7\u102e\u1b35\u1b3a\u1b3c\u1b3e-\u1b3f\u1b42\u3099-\u309a\U000110ba\U00011127\U00011131-\U00011132\U0001133e\U00011347\U00011357\U000114b0\U000114b9-\U000114ba\U000114bd\U000115af\U000115b8-\U000115b9\U00011930\U00011935\U0001d165\U0001d16e-\U0001d172"
_WORD = rf"[^\W_][\w{_MARKS}]*"
# Emoji: pictographs with optional variation selector, skin tone and ZWJ sequences.
_EMOJI = (
    r"(?:[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\u2300-\u23FF\u2190-\u21FF\u3030\u303D\u3297\u3299]"
    r"[\uFE0E\uFE0F\U0001F3FB-\U0001F3FF]*"
    r"(?:\u200D[\U0001F000-\U0001FAFF\u2600-\u27BF][\uFE0F]?)*)"
)
# One symbol with the combining marks it carries ("=" + U+0338 is a decomposed "≠").
_PUNCT = rf"[^\w\s{_MARKS}][{_MARKS}]*"
_TOKEN_RE = re.compile(rf"(?P<emoji>{_EMOJI})|(?P<word>{_WORD})|(?P<punct>{_PUNCT})")
_PUNCT_RUN = re.compile(r"(.)\1+")

_NEGATORS_FOR_BT = {"khong", "chua", "chang", "cha", "ai", "deo"}
_AFTER_BAO_NHIEU = {"tuoi", "tien", "lau", "nam", "ngay", "gio", "thang", "tuan", "km", "lan",
                    "nguoi", "dong", "k", "cai", "con", "so"}
_AFTER_HOM = {"nay", "qua", "kia", "truoc", "sau", "bua", "no", "do"}
_BEFORE_HONG = {"bi", "dau", "viem", "lam", "cuong", "mau", "hoa", "hu", "sua", "rat"}
_AFTER_VAY_PARTICLES = {"a", "ha", "ta", "troi", "nhi", "ne", "nha", "thi", "sao", "hong",
                        "khong", "ba", "ban", "may", "em", "anh", "chi", "ad"}
_BEFORE_VAY = {"sao", "the", "gi", "ai", "nao", "dau", "khong"}


def _context_rules(tokens: List[Token]) -> List[Token]:
    """Resolves teencode that needs neighbours. Works on the provisional canonicals."""
    out = list(tokens)
    words = [t.canonical if t.kind in ("word", "number") else None for t in tokens]

    def neighbour(i: int) -> Optional[str]:
        return words[i] if 0 <= i < len(words) else None

    for i, tok in enumerate(tokens):
        if tok.kind != "word":
            continue
        low = unicodedata.normalize("NFC", tok.text).lower()
        prev, nxt = neighbour(i - 1), neighbour(i + 1)
        new = None
        if low in ("v", "vv"):
            # "v" is the particle "vậy" at a clause end or before a final particle.
            if nxt is None or nxt in _AFTER_VAY_PARTICLES or prev in _BEFORE_VAY:
                new = "vay"
        elif low == "hum" and nxt in _AFTER_HOM:
            new = "hom"
        elif low == "hong" and prev in _BEFORE_HONG:
            new = "hong"
        elif low == "bn" and nxt in _AFTER_BAO_NHIEU:
            new = "bao nhieu"
        elif low == "bt":
            new = "biet" if prev in _NEGATORS_FOR_BT else "binh thuong"
        elif low == "t" and prev is not None and prev.isdigit():
            new = "tuoi"
        if new is not None and new != tok.canonical:
            out[i] = Token(tok.text, tok.start, tok.end, new, tok.kind)
    return out


def tokenize(text: str) -> List[Token]:
    """Splits into word, number, emoji and punctuation tokens with original offsets."""
    tokens: List[Token] = []
    for match in _TOKEN_RE.finditer(text or ""):
        piece = match.group(0)
        if match.lastgroup == "emoji":
            # Variation selectors carry no meaning; one canonical per pictograph.
            tokens.append(Token(piece, match.start(), match.end(),
                                re.sub("[\uFE0E\uFE0F]", "", piece), "emoji"))
        elif match.lastgroup == "word":
            kind = "number" if piece.isdigit() else "word"
            tokens.append(Token(piece, match.start(), match.end(), canonical_word(piece), kind))
        else:
            if tokens and tokens[-1].kind == "punct" and tokens[-1].end == match.start():
                # Glue a run of punctuation ("?!", ":((") into one token.
                last = tokens.pop()
                piece = text[last.start:match.end()]
                start = last.start
            else:
                start = match.start()
            tokens.append(Token(piece, start, match.end(),
                                _PUNCT_RUN.sub(r"\1", unicodedata.normalize("NFC", piece)), "punct"))
    return _context_rules(tokens)


def canonical(text: str) -> str:
    """Canonical, accent-free, teencode-expanded form; tokens joined by one space."""
    return " ".join(t.canonical for t in tokenize(text))
