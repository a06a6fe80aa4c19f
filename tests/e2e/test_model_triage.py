"""The trained model's triage on every labelled set: recall held at floors, false alarms at caps.

Parses the public dev sample (if present), the designed sets (tests/data/nlu_*.yml), the real-text
benchmark and the everyday child messages (both halves, docs/real-text.md) with the model `make test`
trained (one engine process), and checks what `make eval` reports:

* recall: escalation (gold high/imminent graded high or imminent), imminent graded imminent, concern
  graded concern or above;
* precision: gold-none messages graded high/imminent (false escalation) and graded concern.

Floors and caps sit at or a little beyond what was measured on 2026-12-07 (docs/triage.md); a change that
makes the safety net miss more disclosures, or cry wolf more often, fails here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts.ask import parse_with_engine
from scripts.evaluate import counts
from devtools.stack import REPO_ROOT
from tests.unavailable import unavailable

PUBLIC_SAMPLE = REPO_ROOT.parent / "shared" / "eval" / "nlu_dev_sample.yml"
DATA = REPO_ROOT / "tests" / "data"
pytestmark = pytest.mark.slow

# set -> {figure: (bound, "min" | "max")}; figures as scripts/evaluate.counts names them.
LIMITS: dict[str, dict[str, tuple[float, str]]] = {
    "nlu_dev_sample.yml": {"esc_recall": (0.98, "min"), "imminent": (0.8, "min"), "false_esc": (0.03, "max")},
    "nlu_holdout.yml": {"esc_recall": (0.94, "min"), "imminent": (0.83, "min"), "false_esc": (0.0, "max")},
    "nlu_dev_2.yml": {"esc_recall": (0.98, "min"), "imminent": (0.9, "min"), "false_esc": (0.04, "max")},
    "nlu_dev_3.yml": {"esc_recall": (0.98, "min"), "imminent": (0.88, "min"), "false_esc": (0.03, "max")},
    "nlu_dev_4.yml": {"esc_recall": (0.98, "min"), "imminent": (0.9, "min"), "concern+": (0.8, "min"),
                      "false_esc": (0.05, "max")},
    # The fifth set at its first reading (today's model was not tuned on it: docs/triage.md).
    "nlu_dev_5.yml": {"esc_recall": (0.95, "min"), "imminent": (0.7, "min"), "concern+": (0.85, "min"),
                      "false_esc": (0.11, "max")},
    "real_text/dev.yml": {"false_esc": (0.012, "max"), "concern_rate": (0.03, "max")},
    "real_text/holdout.yml": {"false_esc": (0.015, "max"), "concern_rate": (0.03, "max")},
    "everyday_children_dev.yml": {"false_esc": (0.015, "max"), "concern_rate": (0.03, "max")},
    "everyday_children_holdout.yml": {"false_esc": (0.025, "max"), "concern_rate": (0.055, "max")},
}


def _sets() -> dict[str, Path]:
    sets = {name: DATA / name for name in LIMITS if name != PUBLIC_SAMPLE.name}
    if PUBLIC_SAMPLE.exists():
        sets[PUBLIC_SAMPLE.name] = PUBLIC_SAMPLE
    return sets


def _summary(parse: dict[str, Any]) -> dict[str, Any]:
    risk = parse.get("risk") or {}
    return {"risk": risk.get("level", "none"), "escalate": bool(risk.get("escalate")),
            "intent": (parse.get("intent") or {}).get("name")}


@pytest.fixture(scope="module")
def triaged(trained_model: Path, engine_python: str) -> dict[str, list[tuple[dict[str, Any], dict[str, Any]]]]:
    sets = {name: yaml.safe_load(path.read_text(encoding="utf-8"))["messages"] for name, path in _sets().items()}
    texts = [m["text"] for messages in sets.values() for m in messages]
    parses = iter(parse_with_engine(texts, trained_model, engine_python))
    return {name: [(m, _summary(next(parses))) for m in messages] for name, messages in sets.items()}


@pytest.mark.parametrize("name", sorted(LIMITS))
def test_the_safety_net_keeps_its_recall_and_does_not_cry_wolf(
        triaged: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]], name: str) -> None:
    if name not in triaged:
        unavailable(f"{name} is not on this machine")
    figures = counts(triaged[name])
    failures = []
    for figure, (bound, kind) in LIMITS[name].items():
        hits, total = figures[figure]
        if not total:
            continue
        value = hits / total
        if (kind == "min" and value < bound) or (kind == "max" and value > bound):
            failures.append(f"{figure} {value:.3f} ({hits}/{total}) {'<' if kind == 'min' else '>'} {bound}")
    wrong = [f"{m.get('risk', 'none')} -> {p['risk']}: {m['text']}" for m, p in triaged[name]
             if (m.get("risk", "none") in ("high", "imminent")) != p["escalate"]]
    assert not failures, f"{name}: " + "; ".join(failures) + "\n" + "\n".join(wrong[:30])
