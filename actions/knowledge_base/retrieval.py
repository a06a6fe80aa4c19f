"""Ranks answer cards for a free-text question.

An in-memory TF-IDF index over the canonical form (`text.canonical`: no
accents, teencode expanded), built once per process from the loaded cards:
  * words: syllables, syllable pairs (most Vietnamese words are two syllables:
    "xam hai", "bao luc") and domain concepts (concepts.yml: "tẩy chay" and
    "bắt nạt" meet as one feature);
  * characters: 3-grams inside each syllable, which forgive typos and
    half-typed words, and 4-grams across syllable boundaries (word order).
Each card is scored on its best-matching example question and on the whole
card (questions, titles and answers together); the NLU intent and the audience
add small bonuses and never exclude a card, because the classifier can be wrong.
Cards left nearly tied are then told apart by the query words that distinguish
their example questions (a log-odds contrast between the close cards).

Chosen over SQLite FTS5 / PostgreSQL full-text after measuring (see
tests/kb/compare_retrieval.py): identical on both databases, typo tolerant,
concept-aware, and about a millisecond per question.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import yaml

from actions.knowledge_base.content import Card
from actions.knowledge_base.text import canonical

CONCEPTS_FILE = Path(__file__).resolve().parent / "concepts.yml"


@dataclass(frozen=True)
class Weights:
    # Tuned on the writers' paraphrase sets (tests/kb/test_kb_retrieval.py reports them).
    word: float = 0.6  # words vs characters inside one similarity
    question: float = 0.15  # best example question vs the whole card (answers carry most words)
    second_question: float = 0.2  # a second example question agreeing
    intent: float = 0.04  # times the NLU's confidence, for cards serving that intent (noisy: keep small)
    audience: float = 0.0  # cards written for this audience (measured: any bonus lowered accuracy)
    concept: float = 3.0  # a concept feature counts like this many words
    # Near ties between sibling cards, told apart by the query's words' log-odds between their example
    # questions (measured on both development sets: top-1 +1 and +3 questions; larger weights gained no more).
    contrast: float = 0.02
    contrast_band: float = 0.06  # cards this close to the top one take part
    # A question that leans on the conversation: cards in its topic, and cards close to what was
    # disclosed or asked just before, get these (times that text's own score for the card).
    context: float = 0.08
    context_text: float = 0.3


@dataclass(frozen=True)
class Thresholds:
    # Set on the development paraphrases (tests/kb/dev_paraphrases.yml) with off-topic questions:
    # answering at 0.20 (margin 0.05) answers ~93% of them at ~98% precision; below the line the
    # top cards are offered as buttons. Out-of-scope questions ("cách làm bánh flan") mostly score
    # 0.08-0.17 and get topic buttons instead. (The cross-syllable 4-grams lowered every score by
    # ~0.04, so these sit 0.04 under the earlier 0.24 / 0.20.)
    answer: float = 0.20  # confidence at or above: answer
    margin: float = 0.05  # a runner-up closer than this lowers the confidence by the shortfall
    clarify: float = 0.16  # top score at or above: ask which of the top cards was meant
    clarify_band: float = 0.08  # cards this close to the top one are offered too (2 to 3 buttons)


@dataclass(frozen=True)
class ScoredCard:
    card_id: str
    score: float
    question_score: float
    card_score: float
    bonus: float
    best_question: str


@dataclass(frozen=True)
class Decision:
    kind: str  # "answer" | "clarify" | "topics"
    card_ids: tuple[str, ...]
    confidence: float


# ----------------------------------------------------------------------------- features


def canonical_form(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", canonical(text)))


class ConceptLexicon:
    """Phrases (canonical syllable sequences) mapped to concept names."""

    def __init__(self, groups: dict[str, list[str]]) -> None:
        self.phrases: dict[tuple[str, ...], str] = {}
        for concept, phrases in groups.items():
            for phrase in phrases:
                key = tuple(canonical_form(str(phrase)).split())
                if key:
                    self.phrases.setdefault(key, concept)
        self.longest = max((len(k) for k in self.phrases), default=0)

    @classmethod
    def from_file(cls, path: Path = CONCEPTS_FILE) -> ConceptLexicon:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return cls(data.get("concepts") or {})

    def find(self, syllables: Sequence[str]) -> list[str]:
        found = []
        for start in range(len(syllables)):
            for length in range(min(self.longest, len(syllables) - start), 0, -1):
                concept = self.phrases.get(tuple(syllables[start:start + length]))
                if concept:
                    found.append(concept)
                    break
        return found


@lru_cache(maxsize=1)
def default_lexicon() -> ConceptLexicon:
    return ConceptLexicon.from_file()


def word_features(form: str, lexicon: ConceptLexicon | None = None, concept_weight: float = 1.0) -> Counter[str]:
    syllables = form.split()
    features: Counter[str] = Counter(syllables)
    features.update(f"{a}_{b}" for a, b in zip(syllables, syllables[1:], strict=False))
    if lexicon is not None:
        for concept in lexicon.find(syllables):
            features[f"@{concept}"] += concept_weight
    return features


def char_features(form: str) -> Counter[str]:
    features: Counter[str] = Counter()
    for syllable in form.split():
        padded = f"<{syllable}>"
        features.update(padded[i:i + 3] for i in range(len(padded) - 2))
    # 4-grams across the space join neighbouring syllables ("m_ho", "i_hai"): they reward the
    # same word order, and still forgive a typo where a syllable-pair feature is lost.
    joined = f"<{form.replace(' ', '_')}>"
    features.update(f"~{joined[i:i + 4]}" for i in range(len(joined) - 3))
    return features


class _Space:
    """One TF-IDF vector space with an inverted index: a query only touches its own features.

    (Dropping the most common character 3-grams from the postings made it 3x
    faster but cost 3 points of accuracy: not worth it at ~15 ms a question.)
    """

    def __init__(self, documents: Sequence[Counter[str]]) -> None:
        frequency: Counter[str] = Counter()
        for features in documents:
            frequency.update(features.keys())
        total = len(documents) or 1
        self.idf = {f: math.log((1 + total) / (1 + n)) + 1.0 for f, n in frequency.items()}
        self.postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for number, features in enumerate(documents):
            for feature, weight in self.vector(features).items():
                self.postings[feature].append((number, weight))

    def vector(self, features: Counter[str]) -> dict[str, float]:
        weights = {f: (1.0 + math.log(n)) * self.idf[f] for f, n in features.items() if f in self.idf and n > 0}
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        return {f: w / norm for f, w in weights.items()}

    def similarities(self, features: Counter[str]) -> dict[int, float]:
        scores: dict[int, float] = defaultdict(float)
        for feature, weight in self.vector(features).items():
            for number, document_weight in self.postings.get(feature, ()):
                scores[number] += weight * document_weight
        return scores


# ----------------------------------------------------------------------------- the index


class RetrievalIndex:
    def __init__(self, cards: Iterable[Card], topic_titles: dict[str, str] | None = None,
                 weights: Weights | None = None, thresholds: Thresholds | None = None,
                 lexicon: ConceptLexicon | None = None) -> None:
        self.weights = weights or Weights()
        self.thresholds = thresholds or Thresholds()
        self.lexicon = lexicon if lexicon is not None else default_lexicon()
        self.cards = list(cards)
        topic_titles = topic_titles or {}

        # Units: every example question (owner card kept), then one whole-card text per card.
        self._question_owner: list[int] = []
        self._question_text: list[str] = []
        forms: list[str] = []
        for number, card in enumerate(self.cards):
            for question in card.questions:
                self._question_owner.append(number)
                self._question_text.append(question)
                forms.append(canonical_form(question))
        self._first_card_unit = len(forms)
        for card in self.cards:
            forms.append(canonical_form(" ".join([topic_titles.get(card.topic, ""), card.title or "",
                                                  *card.questions,
                                                  *card.child_answer, *card.parent_answer])))
        self._words = _Space([self._word_features(f) for f in forms])
        # Per card: in how many of its example questions (and its title) each word feature occurs,
        # for telling near-tied sibling cards apart by the words that distinguish their questions.
        self._card_number = {card.id: number for number, card in enumerate(self.cards)}
        self._card_vocabulary: list[Counter[str]] = []
        self._card_examples: list[int] = []
        for card in self.cards:
            texts = [card.title or "", *card.questions]
            vocabulary: Counter[str] = Counter()
            for question in texts:
                vocabulary.update(set(self._word_features(canonical_form(question))))
            self._card_vocabulary.append(vocabulary)
            self._card_examples.append(len(texts))
        self._chars = _Space([char_features(f) for f in forms])

    def _word_features(self, form: str) -> Counter[str]:
        return word_features(form, self.lexicon, self.weights.concept)

    def rank(self, text: str, *, intent: str | None = None, intent_confidence: float = 0.0,
             audience: str | None = None, topic: str | None = None, context: str | None = None,
             context_text: str | None = None, limit: int = 5) -> list[ScoredCard]:
        """Cards for `text`, best first. `topic` keeps only that topic's cards; `context` (the
        conversation's topic) and `context_text` (what was disclosed or asked just before) add a
        bonus to the cards they point at, so that a short follow-up stays in the conversation."""
        around: dict[str, float] = {}
        if context_text:
            around = {s.card_id: s.score for s in self.rank(context_text, audience=audience, limit=len(self.cards))}
        form = canonical_form(text)
        w = self.weights
        query_words = self._word_features(form)
        word_scores = self._words.similarities(query_words)
        char_scores = self._chars.similarities(char_features(form))

        best: dict[int, list[tuple[float, int]]] = defaultdict(list)  # card -> [(similarity, question unit)]
        for unit in set(word_scores) | set(char_scores):
            if unit >= self._first_card_unit:
                continue
            similarity = w.word * word_scores.get(unit, 0.0) + (1 - w.word) * char_scores.get(unit, 0.0)
            best[self._question_owner[unit]].append((similarity, unit))

        scored = []
        for number, card in enumerate(self.cards):
            if topic and card.topic != topic:
                continue
            per_question = sorted(best.get(number, []), reverse=True)
            top_question, top_unit = per_question[0] if per_question else (0.0, -1)
            second = per_question[1][0] if len(per_question) > 1 else 0.0
            unit = self._first_card_unit + number
            whole = w.word * word_scores.get(unit, 0.0) + (1 - w.word) * char_scores.get(unit, 0.0)
            text_score = (w.question * top_question + (1 - w.question) * whole
                          + w.second_question * max(0.0, second - 0.5 * top_question))
            bonus = 0.0
            if intent and intent in card.intents:
                bonus += w.intent * max(0.0, min(1.0, intent_confidence))
            if audience and card.audience in (audience, "both"):
                bonus += w.audience
            if context and card.topic == context:
                bonus += w.context
            bonus += w.context_text * around.get(card.id, 0.0)
            scored.append(ScoredCard(card.id, text_score + bonus, top_question, whole, bonus,
                                     self._question_text[top_unit] if top_unit >= 0 else ""))
        scored.sort(key=lambda s: s.score, reverse=True)
        if w.contrast and len(scored) > 1:
            scored = self._contrast(scored, query_words)
        return scored[:limit]

    def _contrast(self, scored: list[ScoredCard], query: Counter[str]) -> list[ScoredCard]:
        """Re-weigh near-tied cards by the query words that distinguish their example questions.

        Siblings ("bạo lực trẻ em" / "bạo lực gia đình") share most words, so their
        similarities tie; the words one card's questions use and the other's do not
        decide. Each close card gets the mean log-odds of the query's word features in
        its own questions against the other close cards' questions (add-half smoothing),
        centred so the close cards' average score does not move; the rest keep theirs.
        """
        w = self.weights
        number_of = self._card_number
        close = [s for s in scored[:4] if s.score >= scored[0].score - w.contrast_band]
        if len(close) < 2:
            return scored
        features = [f for f in query if not f.startswith("~")]
        if not features:
            return scored
        odds = []
        for candidate in close:
            own = number_of[candidate.card_id]
            others = [number_of[s.card_id] for s in close if s is not candidate]
            n_own = self._card_examples[own]
            n_other = sum(self._card_examples[o] for o in others)
            total = 0.0
            for feature in features:
                c_own = self._card_vocabulary[own].get(feature, 0)
                c_other = sum(self._card_vocabulary[o].get(feature, 0) for o in others)
                total += math.log((c_own + 0.5) / (n_own + 1.0)) - math.log((c_other + 0.5) / (n_other + 1.0))
            odds.append(total / len(features))
        mean = sum(odds) / len(odds)
        adjusted = {s.card_id: replace(s, score=s.score + w.contrast * (o - mean)) for s, o in zip(close, odds)}
        result = [adjusted.get(s.card_id, s) for s in scored]
        result.sort(key=lambda s: s.score, reverse=True)
        return result

    def decide(self, ranking: Sequence[ScoredCard]) -> Decision:
        """Answer only when clearly confident; otherwise clarify between the top cards, or offer topics.

        Confidence is the top score, lowered when the runner-up is too close to
        tell apart: "answer" exactly when it reaches the answer threshold.
        """
        if not ranking:
            return Decision("topics", (), 0.0)
        t = self.thresholds
        top = ranking[0]
        gap = top.score - (ranking[1].score if len(ranking) > 1 else 0.0)
        confidence = round(min(1.0, max(0.0, top.score - max(0.0, t.margin - gap))), 4)
        if confidence >= t.answer:
            return Decision("answer", (top.card_id,), confidence)
        if top.score >= t.clarify:
            close = [s.card_id for s in ranking[:3] if s.score >= top.score - t.clarify_band]
            if len(close) < 2 and len(ranking) > 1:
                close.append(ranking[1].card_id)
            return Decision("clarify", tuple(close), confidence)
        return Decision("topics", (), confidence)
