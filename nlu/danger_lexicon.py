"""Accent-insensitive danger-signal lexicon (data: nlu/lexicon/danger_signals.yml).

``DangerLexicon.find(text)`` returns every :class:`Signal` found in a message, each
flagged ``negated`` ("bố không đánh em"), ``info_question`` ("xâm hại trẻ em bị phạt
thế nào?") and ``now`` ("mẹ đang đuổi đánh em"). Only signals that are neither negated
nor part of an information question ``count``; the triage decides what they mean.

Matching runs spaCy's PhraseMatcher (attr LOWER) and Matcher over a Doc built from the
canonical words of ``nlu.vietnamese_text`` (spacy.blank("xx"): no pyvi, no model).
Folding merges words ("đánh"/"dành", "tự tử"/"từ từ"), so when the message itself is
accented and spells a syllable differently from the lexicon, the phrase is rejected.
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, FrozenSet, Iterable, List, Optional, Sequence, Set, Tuple

import spacy
import yaml
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc

from nlu import vietnamese_text as vt
from nlu.risk_field import LEVEL_RANK

logger = logging.getLogger(__name__)

DEFAULT_LEXICON_PATH = Path(__file__).parent / "lexicon" / "danger_signals.yml"

_TONE_MARKS = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}

AccentKey = Tuple[str, str]


def accent_key(word: str) -> AccentKey:
    """(letters without tone, tone mark): "hoà" and "hòa" are the same spelling."""
    decomposed = unicodedata.normalize("NFD", word.lower())
    tone = "".join(c for c in decomposed if c in _TONE_MARKS)
    base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in _TONE_MARKS))
    return base, tone


@dataclass(frozen=True)
class Signal:
    """One danger phrase found in a message."""

    phrase: str  # the text as the child wrote it
    canonical: str  # the lexicon entry (canonical form) or pattern name
    category: str
    level: str  # imminent | high | concern
    ambiguous: bool
    start: int  # character offsets in the original text
    end: int
    negated: bool = False
    info_question: bool = False
    now: bool = False

    @property
    def counts(self) -> bool:
        """Negated and information-question signals do not count."""
        return not (self.negated or self.info_question)

    def as_dict(self) -> Dict[str, str]:
        """The public form used in the parse result (docs/architecture.md)."""
        return {"phrase": self.phrase, "category": self.category, "level": self.level}


@dataclass
class _Entry:
    canonical: str
    category: str
    level: str
    ambiguous: bool
    unaccented_level: str
    accents: List[Set[AccentKey]] = field(default_factory=list)


@dataclass
class _Word:
    """One canonical word of the message Doc."""

    text: str  # canonical word
    token: int  # index of the vietnamese_text token it comes from
    clause: int
    accent: Optional[AccentKey]  # spelling to check, None when unknown/irrelevant
    accented: bool  # the original token carried diacritics


def _phrase_words(phrase: str) -> Tuple[List[str], List[Set[AccentKey]]]:
    """Canonical words of a lexicon phrase and, per word, its accented spelling."""
    words: List[str] = []
    accents: List[Set[AccentKey]] = []
    for token in vt.tokenize(phrase):
        if token.kind == "punct":
            continue
        parts = token.canonical.split()
        squeezed = vt.spelling(token.text)
        direct = len(parts) == 1 and vt.fold(squeezed) == parts[0]
        for part in parts:
            words.append(part)
            # A plain spelling is remembered too: "tao" (I) is not "tảo" in "tảo hôn".
            accents.append({accent_key(squeezed)} if direct else set())
    return words, accents


def _max_level(*levels: str) -> str:
    return max(levels, key=lambda lvl: LEVEL_RANK.get(lvl, -1))


class DangerLexicon:
    """Loaded lexicon with its spaCy matchers."""

    def __init__(self, data: Dict[str, Any]) -> None:
        self._nlp = spacy.blank("xx")
        self.vocab = self._nlp.vocab
        self.entries: Dict[str, _Entry] = {}
        for group in data.get("signals", []):
            for item in group.get("phrases", []):
                self._add_entry(group, item)

        self.signal_matcher = PhraseMatcher(self.vocab, attr="LOWER")
        for key, entry in self.entries.items():
            self.signal_matcher.add(key, [self._doc(key.split())])

        self.blockers = self._phrase_set(data.get("not_signals", []))
        negation = data.get("negation", {})
        self.negators = self._phrase_set(negation.get("negators", []))
        self.fillers = self._word_set(negation.get("fillers", []))
        self.desire_fillers = self._word_set(negation.get("desire_fillers", []))
        self.desire_categories = set(negation.get("desire_categories", []))
        self.max_fillers = int(negation.get("max_fillers", 4))

        info = data.get("information", {})
        self.info_markers = self._phrase_set(info.get("markers", []))
        self.question_words = self._word_set(info.get("question_words", []))
        self.question_phrases = self._phrase_set(info.get("question_phrases", []))
        self.experiencers = self._phrase_set(info.get("experiencers", []))
        self.not_experiencers = self._phrase_set(info.get("not_experiencers", []))
        self.preambles = self._phrase_set(info.get("preambles", []))
        self.disclaimers = self._phrase_set(info.get("disclaimers", []))
        self.self_query = self._phrase_set(info.get("self_query", []))
        self.info_exempt = set(info.get("exempt_categories", []))
        self.prevention_markers = self._phrase_set(info.get("prevention_markers", []))
        self.experiencer_window = tuple(info.get("experiencer_window", [4, 2]))

        now = data.get("now", {})
        self.now_markers = self._phrase_set(now.get("markers", []))
        self.now_window = int(now.get("window", 5))
        self.now_categories = set(now.get("categories", []))

        self.clause_breaks = self._phrase_set(data.get("clause_breaks", []))

        # Single-word negators only ("có" of "đâu có" must not block pattern gaps).
        self._negator_words = frozenset(
            w for p in negation.get("negators", []) for w in [vt.canonical(p)] if " " not in w
        )
        self.word_sets = {
            name: _phrase_words(" , ".join(words)) for name, words in data.get("word_sets", {}).items()
        }
        # "<set>_plain": the words of <set> trusted when typed without accents.
        self.plain_ok = {
            name[: -len("_plain")]: set(self.word_sets[name][0])
            for name in self.word_sets if name.endswith("_plain")
        }
        self.pattern_matcher = Matcher(self.vocab)
        self.patterns: Dict[str, Dict[str, Any]] = {}
        for pattern in data.get("patterns", []):
            self._add_pattern(pattern)

    # ------------------------------------------------------------------ building

    @classmethod
    def from_file(cls, path: Optional[Path] = None) -> "DangerLexicon":
        """Loads the lexicon from YAML (default: the bundled danger_signals.yml)."""
        with open(path or DEFAULT_LEXICON_PATH, encoding="utf-8") as handle:
            return cls(yaml.safe_load(handle))

    def _doc(self, words: Sequence[str]) -> Doc:
        return Doc(self.vocab, words=list(words))

    def _add_entry(self, group: Dict[str, Any], item: Any) -> None:
        spec = item if isinstance(item, dict) else {"text": item}
        level = spec.get("level", group["level"])
        ambiguous = spec.get("ambiguous", group.get("ambiguous", level == "concern"))
        unaccented = spec.get("unaccented_level", level)
        words, accents = _phrase_words(str(spec["text"]))
        if not words:
            return
        key = " ".join(words)
        entry = self.entries.get(key)
        if entry is None:
            self.entries[key] = _Entry(key, group["category"], level, ambiguous, unaccented, accents)
            return
        # Same canonical phrase listed twice (accented and not): keep the stronger
        # reading and remember every accented spelling.
        if LEVEL_RANK[level] > LEVEL_RANK[entry.level]:
            entry.category, entry.level, entry.ambiguous = group["category"], level, ambiguous
        if unaccented != "ignore" and entry.unaccented_level != "ignore":
            entry.unaccented_level = _max_level(entry.unaccented_level, unaccented)
        for mine, theirs in zip(entry.accents, accents):
            mine.update(theirs)

    def _phrase_set(self, phrases: Iterable[str]) -> "_PhraseSet":
        return _PhraseSet(self, phrases)

    @staticmethod
    def _word_set(phrases: Iterable[str]) -> FrozenSet[str]:
        return frozenset(w for p in phrases for w in vt.canonical(p).split())

    def _add_pattern(self, pattern: Dict[str, Any]) -> None:
        spec: List[Dict[str, Any]] = []
        accents: Dict[str, Set[AccentKey]] = {}
        plain_rules: List[Tuple[Set[str], Set[str]]] = []
        for element in pattern["sequence"]:
            if "set" in element:
                words, keys = self.word_sets[element["set"]]
                spec.append({"LOWER": {"IN": sorted(set(words))}})
                for word, key in zip(words, keys):
                    accents.setdefault(word, set()).update(key)
                if element["set"] in self.plain_ok:
                    plain_rules.append((set(words), self.plain_ok[element["set"]]))
            elif "optional" in element:
                words = self._word_set(element["optional"])
                spec.append({"LOWER": {"IN": sorted(words)}, "OP": "?"})
            elif element.get("number"):
                spec.append({"LIKE_NUM": True})
            elif "gap" in element:
                # A gap never spans a negator: "bố không đánh em" is not a match.
                gap = {"IS_PUNCT": False, "LOWER": {"NOT_IN": sorted(self._negator_words)}, "OP": "?"}
                spec.extend(dict(gap) for _ in range(int(element["gap"])))
        name = pattern["name"]
        self.patterns[name] = {**pattern, "accents": accents, "plain_rules": plain_rules}
        self.pattern_matcher.add(name, [spec], greedy="LONGEST")

    # ------------------------------------------------------------------- message

    def _message_words(self, tokens: List[vt.Token]) -> List[_Word]:
        words: List[_Word] = []
        clause = 0
        for index, token in enumerate(tokens):
            if token.kind in ("punct", "emoji"):
                clause += 1
                words.append(_Word(token.canonical, index, clause, None, False))
                clause += 1
                continue
            parts = token.canonical.split()
            squeezed = vt.spelling(token.text)
            accented = vt.has_diacritics(squeezed)
            direct = len(parts) == 1 and vt.fold(squeezed) == parts[0]
            key = accent_key(squeezed) if (direct and accented) else None
            for part in parts:
                words.append(_Word(part, index, clause, key, accented))
        # Clause-break words ("nhưng") open a new clause.
        doc = self._doc([w.text for w in words])
        for start, _end in self.clause_breaks.spans(doc, words):
            for w in words[start:]:
                w.clause += 1
        return words

    @staticmethod
    def _spelled_alike(words: Sequence[_Word], accents: Sequence[Set[AccentKey]]) -> bool:
        """False when the message spells a matched syllable with other accents."""
        for word, keys in zip(words, accents):
            if word.accent is not None and keys and word.accent not in keys:
                return False
        return True

    def find(self, text: str) -> List[Signal]:
        """All danger signals in ``text``, flagged negated / info_question / now."""
        tokens = vt.tokenize(text)
        words = self._message_words(tokens)
        if not words:
            return []
        doc = self._doc([w.text for w in words])

        candidates: List[Tuple[int, int, str, str, str, bool]] = []
        for match_id, start, end in self.signal_matcher(doc):
            entry = self.entries[self.vocab.strings[match_id]]
            span = words[start:end]
            if not self._spelled_alike(span, entry.accents):
                continue
            level = entry.level
            if not any(w.accented for w in span):
                if entry.unaccented_level == "ignore":
                    continue
                level = entry.unaccented_level
            ambiguous = entry.ambiguous or (level == "concern")
            candidates.append((start, end, entry.canonical, entry.category, level, ambiguous))

        for match_id, start, end in self.pattern_matcher(doc):
            pattern = self.patterns[self.vocab.strings[match_id]]
            span = words[start:end]
            accents = [pattern["accents"].get(w.text, set()) for w in span]
            if not self._spelled_alike(span, accents):
                continue
            if not _plain_words_trusted(span, pattern["plain_rules"]):
                continue
            if "min_number" in pattern and not any(
                w.text.isdigit() and int(w.text) >= int(pattern["min_number"]) for w in span
            ):
                continue
            level = pattern["level"]
            ambiguous = bool(pattern.get("ambiguous", level == "concern"))
            candidates.append((start, end, pattern["name"], pattern["category"], level, ambiguous))

        blocked = self.blockers.spans(doc, words)
        candidates = [
            c for c in candidates
            if not _blocked(c[0], c[1], blocked, whole_ok=c[2] not in self.patterns)
        ]
        candidates = _drop_shadowed(candidates)

        asks = self._asks_information(doc, words)
        # Suicide / self-harm: only a disclaimer or a prevention/study context counts
        # as an information request (a child asking "does it hurt?" is at risk).
        studies = bool(self.prevention_markers.spans(doc, words) or self.disclaimers.spans(doc, words))
        experiencers = self._experiencer_positions(doc, words)
        query_ends = {end for _, end in self.self_query.spans(doc, words)}
        now_spans = self.now_markers.spans(doc, words)
        signals = []
        for start, end, canonical, category, level, ambiguous in candidates:
            first, last = tokens[words[start].token], tokens[words[end - 1].token]
            signals.append(
                Signal(
                    phrase=text[first.start:last.end],
                    canonical=canonical,
                    category=category,
                    level=level,
                    ambiguous=ambiguous,
                    start=first.start,
                    end=last.end,
                    negated=self._is_negated(doc, words, start, category),
                    info_question=(studies if category in self.info_exempt else asks)
                    and not self._victim_near(experiencers, start, end)
                    and not (start in query_ends and experiencers),
                    now=category in self.now_categories
                    and self._after_now_marker(words, start, end, now_spans),
                )
            )
        return signals

    # --------------------------------------------------------------- context

    def _is_negated(self, doc: Doc, words: List[_Word], start: int, category: str) -> bool:
        """A negator just before the signal, in its clause, fillers allowed between."""
        fillers = set(self.fillers)
        if category in self.desire_categories:
            fillers |= self.desire_fillers
        clause = words[start].clause
        negator_ends = {end: s for s, end in self.negators.spans(doc, words)}
        position, skipped = start, 0
        while position > 0 and words[position - 1].clause == clause:
            if position in negator_ends:
                return True
            if words[position - 1].text in fillers and skipped < self.max_fillers:
                position -= 1
                skipped += 1
                continue
            return False
        return False

    def _asks_information(self, doc: Doc, words: List[_Word]) -> bool:
        """Asks about law, procedure or prevention (a signal there counts only when a
        concrete victim stands next to it, see ``_victim_near``)."""
        return (
            bool(self.info_markers.spans(doc, words))
            or bool(self.preambles.spans(doc, words))  # "cho em hỏi ..." asks by itself
            or self._question_form(doc, words)
        )

    def _question_form(self, doc: Doc, words: List[_Word]) -> bool:
        if any(w.text.startswith("?") or "?" in w.text for w in words):
            return True
        if self.question_phrases.spans(doc, words):
            return True
        content = [w.text for w in words if w.text.isalnum()]
        trailing = {"a", "nha", "nhe", "vay", "ta", "ha", "ak", "the", "ad"}
        while content and content[-1] in trailing and len(content) > 1:
            content.pop()
        return bool(content) and content[-1] in self.question_words

    def _experiencer_positions(self, doc: Doc, words: List[_Word]) -> Optional[List[int]]:
        """Word positions of concrete victims ("em", "con tôi"); None when the asker
        disclaims any personal case ("em chỉ hỏi thôi")."""
        if self.disclaimers.spans(doc, words):
            return None
        excluded: Set[int] = set()
        for start, end in self.not_experiencers.spans(doc, words) + self.preambles.spans(doc, words):
            excluded.update(range(start, end))
        return [
            position
            for start, end in self.experiencers.spans(doc, words)
            if not excluded.intersection(range(start, end))
            for position in range(start, end)
        ]

    def _victim_near(self, experiencers: Optional[List[int]], start: int, end: int) -> bool:
        if not experiencers:
            return False
        before, after = self.experiencer_window
        return any(start - before <= p < end + after for p in experiencers)

    def _after_now_marker(
        self, words: List[_Word], start: int, end: int, now_spans: List[Tuple[int, int]]
    ) -> bool:
        clause = words[start].clause
        for marker_start, marker_end in now_spans:
            if words[marker_start].clause != clause:
                continue
            if start - self.now_window <= marker_start < end and marker_end <= end:
                return True
        return False


class _PhraseSet:
    """A small phrase list matched with accent checking (negators, markers...)."""

    def __init__(self, lexicon: DangerLexicon, phrases: Iterable[str]) -> None:
        self._matcher = PhraseMatcher(lexicon.vocab, attr="LOWER")
        self._accents: Dict[str, List[Set[AccentKey]]] = {}
        for phrase in phrases:
            words, accents = _phrase_words(str(phrase))
            if not words:
                continue
            key = " ".join(words)
            if key in self._accents:
                for mine, theirs in zip(self._accents[key], accents):
                    mine.update(theirs)
                continue
            self._accents[key] = accents
            self._matcher.add(key, [Doc(lexicon.vocab, words=words)])
        self._vocab = lexicon.vocab

    def spans(self, doc: Doc, words: List[_Word]) -> List[Tuple[int, int]]:
        found = []
        for match_id, start, end in self._matcher(doc):
            accents = self._accents[self._vocab.strings[match_id]]
            if DangerLexicon._spelled_alike(words[start:end], accents):
                found.append((start, end))
        return found


def _plain_words_trusted(span: Sequence[_Word], rules: List[Tuple[Set[str], Set[str]]]) -> bool:
    """Set words typed without accents must be in the set's trusted plain subset."""
    for word in span:
        if word.accented:
            continue
        for members, trusted in rules:
            if word.text in members and word.text not in trusted:
                return False
    return True


def _blocked(
    start: int, end: int, blockers: List[Tuple[int, int]], whole_ok: bool = True
) -> bool:
    """A harmless phrase overlapping the signal cancels it, unless the signal is a
    lexicon phrase covering it whole ("ăn hiếp" survives the blocker "ăn hiếp"; "hiếp"
    inside it does not). Patterns, with their gaps, are cancelled by any overlap."""
    for b_start, b_end in blockers:
        overlaps = b_start < end and start < b_end
        covers = whole_ok and start <= b_start and b_end <= end
        if overlaps and not covers:
            return True
    return False


def _drop_shadowed(candidates: List[Tuple[int, int, str, str, str, bool]]):
    """Drops a signal lying inside a stronger (or equal, longer) one: "đánh" in "đánh em"."""
    kept = []
    for cand in candidates:
        start, end, _, _, level, _ = cand
        shadowed = any(
            other is not cand
            and other[0] <= start
            and end <= other[1]
            and (other[1] - other[0]) > (end - start)
            and LEVEL_RANK[other[4]] >= LEVEL_RANK[level]
            for other in candidates
        )
        if not shadowed:
            kept.append(cand)
    # The same span found twice (phrase and pattern): keep the strongest once.
    best: Dict[Tuple[int, int], Tuple[int, int, str, str, str, bool]] = {}
    for cand in kept:
        key = (cand[0], cand[1])
        if key not in best or LEVEL_RANK[cand[4]] > LEVEL_RANK[best[key][4]]:
            best[key] = cand
    return sorted(best.values(), key=lambda c: (c[0], c[1]))


@lru_cache(maxsize=4)
def load_lexicon(path: Optional[str] = None) -> DangerLexicon:
    """The lexicon, loaded once per process (path None = bundled file)."""
    return DangerLexicon.from_file(Path(path) if path else None)
