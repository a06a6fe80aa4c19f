"""Retrieval accuracy: fixture paraphrases on both databases, and the writers' paraphrase sets.

The writers' sets (tests/kb/paraphrases_part*.yml) are scored on the bot's real
path. With $MODEL (the Makefile passes the trained model) every question is
first parsed by that model in the engine environment, so the NLU intent counts
as it does live; without it, retrieval works from the words alone. The full
report (per variant, audience and file, and every miss) goes to
results/kb_retrieval.txt.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from actions.knowledge_base.content import read_content
from actions.knowledge_base.evaluation import evaluate, rate, read_paraphrases, report
from actions.knowledge_base.service import KnowledgeBase
from tests.kb.kb_paths import FIXTURES, KB_TESTS, REAL_CONTENT, REPO_ROOT

TOP1_TARGET = 0.90  # the target, on all the held-out sets together
# The held-out sets, measured on 2026-11-29 with the NLU intent (119 cards), each scored once after it
# was written and never used for tuning:
#   part1 + part2 (241): written with the cards by their authors, each question worded away from the
#     card's own examples: top-1 89.6% (part1 94.6%, part2 83.8%: child labour, social assistance and
#     online safety are where retrieval is weakest);
#   part3 (303): written from the card titles and the law reference only, without reading the cards,
#     as children and parents type: top-1 94.7%.
# All 544: top-1 92.5%, one step 95.0%, answered 89.3%. Floors a little under each figure.
TOP1_FLOOR = 0.90
ONE_STEP_FLOOR = 0.93
ANSWER_PRECISION_FLOOR = 0.90
PER_SET_TOP1_FLOOR = {"paraphrases_part1.yml": 0.92, "paraphrases_part2.yml": 0.81, "paraphrases_part3.yml": 0.92}
PARAPHRASE_FILES = sorted(KB_TESTS.glob("paraphrases_part*.yml"))
# The development sets retrieval was tuned on (the held-out sets above are only ever scored), with
# floors about 2-3 points under the measured top-1 (words only, 2026-11-29): dev_paraphrases 96.6%,
# written after reading the cards; dev_paraphrases_2 94.4% and dev_paraphrases_3 94.8% (270), written
# from the card titles only, in children's and parents' own wording (a half without diacritics or in
# teencode).
DEV_SETS = {"dev_paraphrases.yml": 0.94, "dev_paraphrases_2.yml": 0.92, "dev_paraphrases_3.yml": 0.92}
REPORT = REPO_ROOT / "results" / "kb_retrieval.txt"


def test_fixture_paraphrases_are_answered_right_on_both_databases(fixture_kb: KnowledgeBase) -> None:
    outcomes = evaluate(fixture_kb, read_paraphrases([FIXTURES / "paraphrases.yml"]))
    assert rate(outcomes, "answered_right") == 1.0, report(outcomes)


def test_ranking_is_accent_and_teencode_insensitive(yaml_kb: KnowledgeBase) -> None:
    forms = ["Bao nhiêu tuổi thì được gọi là trẻ em?", "bao nhieu tuoi thi duoc goi la tre em",
             "bn tuổi thì đc gọi là trẻ em", "BAO NHIEU TUOI THI DUOC GOI LA TRE EM???"]
    for form in forms:
        top = yaml_kb.index.rank(form, limit=1)[0]
        assert top.card_id == "rights-child-age", form


def test_typos_still_find_the_card(yaml_kb: KnowledgeBase) -> None:
    assert yaml_kb.index.rank("hiep dam tre duoi 16 tuoj bi phat tu bao nhieu nam", limit=1)[0].card_id == \
        "penalty-sexual-abuse"


@pytest.mark.parametrize("name", sorted(DEV_SETS))
def test_development_paraphrases_do_not_regress(name: str) -> None:
    outcomes = evaluate(KnowledgeBase(read_content(REAL_CONTENT).content), read_paraphrases([KB_TESTS / name]))
    assert len(outcomes) >= 150
    assert rate(outcomes, "top1_right") >= DEV_SETS[name], report(outcomes)


def _nlu_parses(questions: list[dict]) -> list[dict] | None:
    model = os.environ.get("MODEL")
    if not model or not Path(model).exists():
        return None
    from scripts.ask import parse_with_engine
    from devtools.stack import default_python

    return parse_with_engine([q["q"] for q in questions], Path(model), default_python("engine"))


@pytest.fixture(scope="module")
def writers_outcomes() -> tuple[list, str]:
    if not PARAPHRASE_FILES:
        pytest.skip("no tests/kb/paraphrases_part*.yml yet")
    kb = KnowledgeBase(read_content(REAL_CONTENT).content)
    questions = read_paraphrases(PARAPHRASE_FILES)
    unknown = sorted({q["expect_card"] for q in questions if q.get("expect_card") and q["expect_card"] not in kb.cards})
    assert not unknown, f"paraphrases expect cards that do not exist: {unknown}"
    assert len(questions) >= 150, f"only {len(questions)} paraphrases (want at least 150)"

    parses = _nlu_parses(questions)
    started = time.perf_counter()
    outcomes = evaluate(kb, questions, parses)
    per_question_ms = 1000 * (time.perf_counter() - started) / len(questions)
    text = (f"{len(questions)} questions, {len(kb.cards)} cards, NLU intent: {'yes' if parses else 'no'}, "
            f"{per_question_ms:.1f} ms per question\n" + report(outcomes))
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(text + "\n", encoding="utf-8")
    return outcomes, text


def test_writers_paraphrases_do_not_regress(writers_outcomes: tuple[list, str]) -> None:
    outcomes, text = writers_outcomes
    assert rate(outcomes, "top1_right") >= TOP1_FLOOR, text
    assert rate(outcomes, "one_step_right") >= ONE_STEP_FLOOR, text
    # never guessing: what it does answer is right far more often than its top-1 overall
    answered = [o for o in outcomes if o.kind == "answer"]
    assert rate(answered, "answered_right") >= ANSWER_PRECISION_FLOOR, text
    for name, floor in PER_SET_TOP1_FLOOR.items():
        assert rate([o for o in outcomes if o.question["source"] == name], "top1_right") >= floor, text


def test_writers_paraphrases_reach_the_target(writers_outcomes: tuple[list, str]) -> None:
    outcomes, text = writers_outcomes
    assert rate(outcomes, "top1_right") >= TOP1_TARGET, text
