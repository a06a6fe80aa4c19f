"""Is the person writing a child or a parent? Inferred from how they write.

Rules run on the canonical form (accent-free, teencode expanded: "e" -> "em",
"bme" -> "bo me"), parent cues first because "con tôi lớp 7" also contains
a child's grade. Adults asking for themselves ("tôi 19 tuổi") get the parent
register: it is the adult one. When nothing is clear the bot asks once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from actions.knowledge_base.text import canonical

CHILD, PARENT = "child", "parent"
ADULT_AGE = 18

_SELF = r"(?:em|minh|toi|tui|to|chau)"
_PARENT_CUES = [
    (r"\bcon (?:gai |trai |ruot )?(?:toi|minh|tui|tao)\b", "con tôi / con mình"),
    (r"\b(?:con|chau|be|em be|dua nho|dua) (?:gai |trai )?nha (?:toi|minh|tui|em|chi|anh)\b", "con/cháu/bé nhà tôi"),
    (r"\bcon (?:gai|trai) (?:em|chi|anh)\b", "con gái/trai em"),
    # "con em 5 tuổi" is a young parent; "mẹ con em bị..." is a child ("mother and I")
    (r"(?<!me )(?<!ba )(?<!bo )(?<!cha )\bcon em (?:\d|nam nay|dang|hoc|lop|moi|be)", "con em (lớp/tuổi)"),
    (r"\b(?:toi|minh|em|tui) la (?:phu huynh|bo|me|ba|cha|nguoi giam ho|nguoi cham soc|ong|ba noi|ba ngoai"
     r"|giao vien|co giao|thay giao)\b", "tôi là phụ huynh/bố/mẹ/giáo viên"),
    (r"^phu huynh\b|\bla phu huynh\b|\bphu huynh (?:hoi|can|muon|nen|phai)\b", "phụ huynh"),
    (r"\b(?:chau|be) (?:toi|tui)\b", "cháu tôi"),
    (r"\b(?:cha me|bo me|ba me|phu huynh|gia dinh) (?:nen|can|phai) (?:lam|xu ly|noi|giup|day)\b", "cha mẹ nên làm gì"),
    (r"\bday con\b|\bnuoi con\b|\bcon cua (?:toi|minh|tui)\b", "dạy con / nuôi con"),
]
_CHILD_CUES = [
    (rf"\b{_SELF} (?:dang |moi |nam nay )?(?:hoc |len |vao )?lop (?:\d+|mot|hai|ba|bon|nam|sau|bay|tam|chin|muoi)\b",
     "em lớp N"),
    (r"\b(?:em|minh|tui|to|chau|con) la hoc sinh\b|\bhoc sinh (?:lop|truong) ", "em là học sinh"),
    (r"\b(?:bo me|ba me|cha me|me|ba|bo|thay|co giao|co chu nhiem|thay chu nhiem|truong|lop|ban)"
     r" (?:cua )?(?:em|tui|to)\b", "bố mẹ em / trường em"),
]
_SELF_AGE = re.compile(rf"\b{_SELF} (?:nam nay |moi |da |sap |duoc )?(\d{{1,2}}) tuoi\b")
_CHILD_START = re.compile(r"^(?:em|chau|to|tui|be)\b")


@dataclass(frozen=True)
class AudienceGuess:
    audience: str | None  # "child" | "parent" | None
    reason: str = ""


def is_strong_adult_cue(text: str) -> bool:
    """Words only an adult writes about a child ("con tôi", "tôi là phụ huynh"), not an age."""
    form = canonical(text or "")
    return any(re.search(pattern, form) for pattern, _ in _PARENT_CUES)


def infer_audience(text: str) -> AudienceGuess:
    form = canonical(text or "")
    for pattern, reason in _PARENT_CUES:
        if re.search(pattern, form):
            return AudienceGuess(PARENT, reason)
    age = _SELF_AGE.search(form)
    if age:
        return AudienceGuess(PARENT if int(age.group(1)) >= ADULT_AGE else CHILD, f"{age.group(0)}")
    for pattern, reason in _CHILD_CUES:
        if re.search(pattern, form):
            return AudienceGuess(CHILD, reason)
    if _CHILD_START.search(form):
        return AudienceGuess(CHILD, "starts with em/cháu")
    return AudienceGuess(None, "")
