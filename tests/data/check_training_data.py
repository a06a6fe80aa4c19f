#!/usr/bin/env python3
"""Check the NLU training data and the held-out evaluation set.

Run from anywhere:

    python tests/data/check_training_data.py            # prints the table, exit 1 on failure
    python tests/data/check_training_data.py --quiet    # only failures

What it checks (the data requirements of the NLU):
  * every file in nlu/data/ parses as Rasa 3 NLU YAML (version "3.1", top key "nlu");
  * each file holds only the intents of its topic, and no other intent exists;
  * examples per intent: >= 90 for the danger intents, >= 70 for bullying,
    mental_health and every ask_* intent, >= 50 for the rest;
  * per intent, >= 40 % of examples have no Vietnamese diacritic (any non-ASCII
    letter, including đ/Đ, counts as a diacritic; emoji do not) and >= 20 % use
    teencode (k, ko, hok, j, mk, dc, vs, e, z/v, r, ...) or stretched letters ("quáaaa");
  * no example longer than 300 characters;
  * no duplicate examples within or across intents and files, compared after
    removing entity markup, case, diacritics and punctuation;
  * entity markup is well formed and uses only perpetrator / age / province;
    no surface text is annotated with two entity types; province names from the
    lookup table never appear unannotated; "<em|con|bé...> N tuổi" is annotated;
  * >= 60 disclose_abuse/report_abuse_other examples annotate a perpetrator,
    >= 30 examples annotate an age, >= 20 a province;
  * synonyms: no surface form maps to two values;
  * tests/data/nlu_holdout.yml has the shape of the dev sample, >= 200 messages,
    every intent, >= 25 per danger intent, >= 1/3 unaccented, and no message that
    duplicates or nearly copies a training example;
  * no training or holdout text duplicates or nearly copies the public dev sample
    (/work/shared/eval/nlu_dev_sample.yml, or $NLU_DEV_SAMPLE), if it is present.
"""
from __future__ import annotations

import os
import re
import sys
import unicodedata
from collections import Counter, defaultdict
from functools import lru_cache
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
NLU_DIR = REPO / "nlu" / "data"
HOLDOUT = REPO / "tests" / "data" / "nlu_holdout.yml"
# The public dev sample lives in shared/ beside the repository (CI lays a copy there too).
_DEV_CANDIDATES = [REPO.parent / "shared" / "eval" / "nlu_dev_sample.yml", Path("/work/shared/eval/nlu_dev_sample.yml")]
DEV_SAMPLE = Path(os.environ.get("NLU_DEV_SAMPLE") or next((p for p in _DEV_CANDIDATES if p.exists()), _DEV_CANDIDATES[0]))

FILES = {
    "danger.yml": ["disclose_abuse", "self_harm", "report_abuse_other"],
    # Indirect disclosures and danger with or without immediacy (issue #13).
    "danger_indirect.yml": ["disclose_abuse", "self_harm", "report_abuse_other"],
    "support.yml": ["bullying", "mental_health", "request_human", "quick_exit"],
    "support_feelings.yml": ["bullying", "mental_health"],
    # Everyday messages, the open-set class "nothing for the safety net" (docs/real-text.md).
    "everyday.yml": ["out_of_scope"],
    "everyday_tatoeba.yml": ["out_of_scope"],
    "information.yml": [
        "ask_rights", "ask_law", "ask_reporting", "ask_support_policy",
        "ask_online_safety", "ask_child_labour", "ask_hotline",
    ],
    "chitchat.yml": ["greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "out_of_scope"],
    "entities.yml": [],
}
INTENTS = list(dict.fromkeys(i for intents in FILES.values() for i in intents))
DANGER = {"disclose_abuse", "self_harm", "report_abuse_other"}
MIN_EXAMPLES = {i: 90 for i in DANGER}
MIN_EXAMPLES.update({i: 70 for i in INTENTS if i.startswith("ask_") or i in ("bullying", "mental_health")})
MIN_DEFAULT = 50
MIN_UNACCENTED = 0.40
MIN_TEENCODE = 0.20
MAX_CHARS = 300
ENTITIES = {"perpetrator", "age", "province"}
MIN_PERPETRATOR = 60
MIN_AGE = 30
MIN_PROVINCE = 20

HOLDOUT_MIN = 200
HOLDOUT_MIN_DANGER = 25
RISKS = {"none", "concern", "high", "imminent"}
VARIANTS = {"accented", "unaccented", "teencode", "mixed"}
AUDIENCES = {"child", "parent", "other"}
# Character 4-gram Jaccard similarity above which two texts count as a near copy.
NEAR_COPY = 0.6

TEENCODE = set("""
k ko kh hok hk hong hông hổng hem hum j bít bik mk mik mn mng dc đc dk đk vs bme bm
e z v r rùi ruj oy ùi nhìu wá ng ngta ntn ntin đag dag kiu trc ck vk bn cx thik ny ib
ak uk ukm um oke okela okie hnay hqua bh bjo h ms lm thui tks thx sr pls plz hix huhu
hic cj ns nt bt dt đt ad zậy zui dzậy lun ik iu kq hc ah zô dô
""".split())
ENTITY_RE = re.compile(r"\[([^\[\]]+)\]\(([^()]+)\)")
AGE_WORDS = (
    r"em|e|con|bé|be|cháu|chau|mình|minh|mk|mik|tui|tôi|toi|tao|nó|no|nhỏ|nho|bạn|ban|"
    r"thằng bé|thang be|con bé|con be|cô bé|co be"
)
UNANNOTATED_AGE_RE = re.compile(
    rf"(?<![\w\[])(?:{AGE_WORDS})\s+(?:mới\s+|moi\s+|được\s+|duoc\s+|dc\s+|đc\s+|nay\s+|năm nay\s+|nam nay\s+)?"
    rf"(\d{{1,2}})\s*(?:tuổi|tuoi|t)\b",
    re.IGNORECASE,
)


def plain(text: str) -> str:
    """Example text without entity markup."""
    return ENTITY_RE.sub(lambda m: m.group(1), text)


def has_diacritic(text: str) -> bool:
    return any(ch.isalpha() and ord(ch) > 127 for ch in text)


@lru_cache(maxsize=None)
def fold(text: str) -> str:
    """Lower case, no diacritics, no punctuation: the key for duplicate checks."""
    text = plain(text).lower().replace("đ", "d")
    text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
    return " ".join(re.findall(r"[a-z0-9]+", text))


def tokens(text: str) -> list[str]:
    return re.findall(r"\w+", plain(text).lower())


def is_teencode(text: str) -> bool:
    t = plain(text)
    if re.search(r"([^\W\d])\1\1", t.lower()):  # stretched letters: "quáaaa", "huhuuu"
        return True
    return any(tok in TEENCODE for tok in tokens(t))


@lru_cache(maxsize=None)
def grams(text: str, n: int = 4) -> frozenset[str]:
    s = fold(text)
    return frozenset(s[i:i + n] for i in range(max(1, len(s) - n + 1)))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def parse_examples(block: str) -> list[str]:
    out = []
    for line in block.splitlines():
        line = line.strip()
        if not line:
            continue
        if not line.startswith("- "):
            raise ValueError(f"example line does not start with '- ': {line!r}")
        out.append(line[2:].strip())
    return out


class Report:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def fail(self, msg: str) -> None:
        self.errors.append(msg)


def load_training(rep: Report):
    examples: dict[str, list[tuple[str, str]]] = defaultdict(list)  # intent -> [(file, text)]
    synonyms: dict[str, list[str]] = {}
    lookups: dict[str, list[str]] = {}
    if not NLU_DIR.is_dir():
        rep.fail(f"missing directory {NLU_DIR}")
        return examples, synonyms, lookups
    present = sorted(p.name for p in NLU_DIR.glob("*.yml"))
    for name in present:
        if name not in FILES:
            rep.fail(f"{name}: unexpected file in nlu/data")
    for name, intents in FILES.items():
        path = NLU_DIR / name
        if not path.exists():
            rep.fail(f"{name}: missing")
            continue
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            rep.fail(f"{name}: YAML error: {exc}")
            continue
        if not isinstance(doc, dict) or str(doc.get("version")) != "3.1" or not isinstance(doc.get("nlu"), list):
            rep.fail(f'{name}: needs version: "3.1" and a list under nlu:')
            continue
        for item in doc["nlu"]:
            if "intent" in item:
                intent = item["intent"]
                if intent not in intents:
                    rep.fail(f"{name}: intent {intent!r} does not belong in this file")
                try:
                    for text in parse_examples(item.get("examples", "")):
                        examples[intent].append((name, text))
                except ValueError as exc:
                    rep.fail(f"{name}/{intent}: {exc}")
            elif "synonym" in item:
                value = str(item["synonym"])
                synonyms.setdefault(value, []).extend(parse_examples(item.get("examples", "")))
            elif "lookup" in item:
                lookups.setdefault(item["lookup"], []).extend(parse_examples(item.get("examples", "")))
            else:
                rep.fail(f"{name}: unknown block {list(item)}")
    return examples, synonyms, lookups


def check_entities(rep: Report, examples, lookups) -> Counter:
    counts: Counter = Counter()
    kind_of_surface: dict[str, set[str]] = defaultdict(set)
    provinces = sorted({p.lower() for p in lookups.get("province", [])}, key=len, reverse=True)
    for intent, items in examples.items():
        for _, text in items:
            if re.search(r"[\[\]]", ENTITY_RE.sub("", text)):  # a bracket left over: broken markup
                rep.fail(f"{intent}: malformed entity markup: {text!r}")
            found = set()
            for surface, entity in ENTITY_RE.findall(text):
                if entity not in ENTITIES:
                    rep.fail(f"{intent}: unknown entity {entity!r} in {text!r}")
                kind_of_surface[surface.lower()].add(entity)
                found.add(entity)
            for entity in found:
                counts[entity] += 1
                if entity == "perpetrator" and intent in ("disclose_abuse", "report_abuse_other"):
                    counts["perpetrator_danger"] += 1
            # parts of the text outside any annotation
            outside = ENTITY_RE.sub(" | ", text).lower()
            for prov in provinces:
                if re.search(rf"(?<!\w){re.escape(prov)}(?!\w)", outside):
                    rep.fail(f"{intent}: province {prov!r} not annotated: {text!r}")
            m = UNANNOTATED_AGE_RE.search(outside)
            if m:
                rep.fail(f"{intent}: age not annotated ({m.group(0)!r}): {text!r}")
    for surface, kinds in kind_of_surface.items():
        if len(kinds) > 1:
            rep.fail(f"{surface!r} annotated as several entities: {sorted(kinds)}")
    if counts["perpetrator_danger"] < MIN_PERPETRATOR:
        rep.fail(f"perpetrator annotated in {counts['perpetrator_danger']} danger examples (< {MIN_PERPETRATOR})")
    if counts["age"] < MIN_AGE:
        rep.fail(f"age annotated in {counts['age']} examples (< {MIN_AGE})")
    if counts["province"] < MIN_PROVINCE:
        rep.fail(f"province annotated in {counts['province']} examples (< {MIN_PROVINCE})")
    return counts


def load_holdout(rep: Report) -> list[dict]:
    if not HOLDOUT.exists():
        rep.fail(f"missing {HOLDOUT}")
        return []
    doc = yaml.safe_load(HOLDOUT.read_text(encoding="utf-8"))
    if not isinstance(doc, dict) or doc.get("version") != 1 or not isinstance(doc.get("messages"), list):
        rep.fail("holdout: needs version: 1 and a list under messages:")
        return []
    msgs = doc["messages"]
    for i, m in enumerate(msgs):
        where = f"holdout #{i + 1}"
        if set(m) != {"text", "intent", "risk", "variant", "audience"}:
            rep.fail(f"{where}: keys must be text, intent, risk, variant, audience: {sorted(m)}")
            continue
        if m["intent"] not in INTENTS:
            rep.fail(f"{where}: unknown intent {m['intent']!r}")
        if m["risk"] not in RISKS:
            rep.fail(f"{where}: bad risk {m['risk']!r}")
        if m["variant"] not in VARIANTS:
            rep.fail(f"{where}: bad variant {m['variant']!r}")
        if m["audience"] not in AUDIENCES:
            rep.fail(f"{where}: bad audience {m['audience']!r}")
        if m["variant"] == "unaccented" and has_diacritic(m["text"]):
            rep.fail(f"{where}: marked unaccented but has diacritics: {m['text']!r}")
        if m["variant"] == "accented" and not has_diacritic(m["text"]):
            rep.fail(f"{where}: marked accented but has no diacritics: {m['text']!r}")
        if m["intent"] in DANGER and m["risk"] not in ("high", "imminent", "concern"):
            rep.fail(f"{where}: danger intent with risk {m['risk']!r}")
        if m["intent"].startswith("ask_") and m["risk"] != "none":
            rep.fail(f"{where}: information question with risk {m['risk']!r}")
        if ENTITY_RE.search(m["text"]):
            rep.fail(f"{where}: holdout text must not carry entity markup")
    per_intent = Counter(m.get("intent") for m in msgs)
    if len(msgs) < HOLDOUT_MIN:
        rep.fail(f"holdout: {len(msgs)} messages (< {HOLDOUT_MIN})")
    for intent in INTENTS:
        need = HOLDOUT_MIN_DANGER if intent in DANGER else 1
        if per_intent[intent] < need:
            rep.fail(f"holdout: {per_intent[intent]} messages for {intent} (< {need})")
    unacc = sum(1 for m in msgs if not has_diacritic(str(m.get("text", ""))))
    if msgs and unacc * 3 < len(msgs):
        rep.fail(f"holdout: only {unacc}/{len(msgs)} messages without diacritics (< 1/3)")
    return msgs


def main() -> int:
    quiet = "--quiet" in sys.argv
    rep = Report()
    examples, synonyms, lookups = load_training(rep)

    # per-intent table
    rows = []
    for intent in INTENTS:
        items = examples.get(intent, [])
        n = len(items)
        unacc = sum(1 for _, t in items if not has_diacritic(plain(t)))
        ascii_only = sum(1 for _, t in items if plain(t).isascii())
        teen = sum(1 for _, t in items if is_teencode(t))
        short = sum(1 for _, t in items if len(plain(t).split()) <= 4)
        long_ = sum(1 for _, t in items if len(plain(t).split()) >= 20)
        rows.append((intent, n, unacc, ascii_only, teen, short, long_))
        need = MIN_EXAMPLES.get(intent, MIN_DEFAULT)
        if n < need:
            rep.fail(f"{intent}: {n} examples (< {need})")
        if n and unacc / n < MIN_UNACCENTED:
            rep.fail(f"{intent}: {unacc / n:.0%} without diacritics (< {MIN_UNACCENTED:.0%})")
        if n and teen / n < MIN_TEENCODE:
            rep.fail(f"{intent}: {teen / n:.0%} teencode (< {MIN_TEENCODE:.0%})")
        for _, t in items:
            if len(plain(t)) > MAX_CHARS:
                rep.fail(f"{intent}: example longer than {MAX_CHARS} chars: {t[:60]!r}...")
    for intent in examples:
        if intent not in INTENTS:
            rep.fail(f"unknown intent {intent!r}")

    # duplicates within and across intents/files
    seen: dict[str, tuple[str, str]] = {}
    for intent, items in examples.items():
        for name, text in items:
            key = fold(text)
            if not key:
                rep.fail(f"{intent}: empty example {text!r}")
                continue
            if key in seen:
                rep.fail(f"duplicate: {text!r} ({intent}) ~ {seen[key][1]!r} ({seen[key][0]})")
            else:
                seen[key] = (intent, text)

    # near copies inside the training data (the same sentence with and without accents
    # teaches nothing new): reported as warnings, they do not fail the check
    warnings = []
    flat = [(i, t, grams(t)) for i, items in examples.items() for _, t in items if len(fold(t)) >= 20]
    flat.sort(key=lambda x: len(x[2]))
    for a in range(len(flat)):
        for b in range(a + 1, len(flat)):
            if len(flat[a][2]) < NEAR_COPY * len(flat[b][2]):
                break  # sets this different in size cannot reach the threshold
            sim = jaccard(flat[a][2], flat[b][2])
            if sim >= NEAR_COPY:
                warnings.append(f"near copy ({sim:.2f}): {flat[a][1]!r} ({flat[a][0]}) ~ {flat[b][1]!r} ({flat[b][0]})")

    counts = check_entities(rep, examples, lookups)

    # synonyms: one surface form, one value
    owner: dict[str, str] = {}
    for value, forms in synonyms.items():
        for form in forms:
            f = form.lower()
            if f in owner and owner[f] != value:
                rep.fail(f"synonym {form!r} maps to both {owner[f]!r} and {value!r}")
            owner[f] = value

    # held-out set: shape, coverage, no overlap with training
    holdout = load_holdout(rep)
    train_grams = [(fold(t), grams(t), i) for i, items in examples.items() for _, t in items]
    for m in holdout:
        text = str(m.get("text", ""))
        key = fold(text)
        if key in seen:
            rep.fail(f"holdout duplicates training: {text!r}")
            continue
        g = grams(text)
        best = max(((jaccard(g, tg), t) for t, tg, _ in train_grams), default=(0.0, ""))
        if best[0] >= NEAR_COPY:
            rep.fail(f"holdout near-copies training ({best[0]:.2f}): {text!r} ~ {best[1]!r}")
    hkeys = Counter(fold(str(m.get("text", ""))) for m in holdout)
    for k, c in hkeys.items():
        if c > 1:
            rep.fail(f"holdout duplicate: {k!r}")

    # nothing copied from the public dev sample
    if DEV_SAMPLE.exists():
        dev = [str(m["text"]) for m in yaml.safe_load(DEV_SAMPLE.read_text(encoding="utf-8"))["messages"]]
        dev_grams = [(d, grams(d)) for d in dev]
        ours = [(i, t) for i, items in examples.items() for _, t in items]
        ours += [("holdout:" + str(m.get("intent")), str(m.get("text", ""))) for m in holdout]
        for intent, text in ours:
            g = grams(text)
            for d, dg in dev_grams:
                if fold(d) == fold(text) or jaccard(g, dg) >= NEAR_COPY * 0.75:
                    rep.fail(f"{intent}: too close to the dev sample: {plain(text)!r} ~ {d!r}")

    if not quiet:
        print(f"{'intent':<20}{'n':>5}{'no-diacr':>10}{'ascii':>7}{'teen':>7}{'<=4w':>6}{'>=20w':>7}")
        for intent, n, unacc, ascii_only, teen, short, long_ in rows:
            pct = (lambda x: f"{x / n:.0%}" if n else "-")
            print(f"{intent:<20}{n:>5}{pct(unacc):>10}{pct(ascii_only):>7}{pct(teen):>7}{short:>6}{long_:>7}")
        total = sum(r[1] for r in rows)
        print(f"{'TOTAL':<20}{total:>5}")
        print(f"entities: perpetrator in danger intents {counts['perpetrator_danger']}, "
              f"perpetrator {counts['perpetrator']}, age {counts['age']}, province {counts['province']}")
        print(f"synonym values {len(synonyms)}, lookup province {len(lookups.get('province', []))} entries")
        hc = Counter(m.get("intent") for m in holdout)
        hu = sum(1 for m in holdout if not has_diacritic(str(m.get("text", ""))))
        print(f"holdout: {len(holdout)} messages, {hu} without diacritics; "
              + ", ".join(f"{i}={hc[i]}" for i in INTENTS))
    if warnings and not quiet:
        print(f"\n{len(warnings)} warnings:")
        for w in warnings:
            print("  ~ " + w)
    if rep.errors:
        print(f"\nFAILED ({len(rep.errors)} problems):")
        for e in rep.errors:
            print("  - " + e)
        return 1
    print("\nOK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
