"""The trained model's safety triage on the labelled message sets: no regression in escalation.

Parses every message of the public dev sample (if present), the held-out set and the NLU
development sets with the model `make test` trained (one engine process), and checks the
escalation figures `make eval` reports against floors at or a little under what was measured
on 2026-11-29. Escalation = risk high or imminent, the level that opens a case.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts.ask import parse_with_engine
from scripts.evaluate import ESCALATING
from scripts.stack import REPO_ROOT

PUBLIC_SAMPLE = REPO_ROOT.parent / "shared" / "eval" / "nlu_dev_sample.yml"
DATA = REPO_ROOT / "tests" / "data"
pytestmark = pytest.mark.slow

# set -> (minimum escalation recall, maximum false escalation of risk-none messages)
FLOORS = {
    "nlu_dev_sample.yml": (1.0, 0.0),  # 24/24, 0/37
    "nlu_holdout.yml": (0.98, 0.0),  # 86/87, 0/97
    "nlu_dev_2.yml": (0.99, 0.05),  # 117/117, 4/104 (tuned on it)
    "nlu_dev_3.yml": (0.99, 0.08),  # 107/107, 5/76 (tuned on it)
}


def _sets() -> dict[str, Path]:
    sets = {path.name: path for path in (DATA / "nlu_holdout.yml", DATA / "nlu_dev_2.yml", DATA / "nlu_dev_3.yml")}
    if PUBLIC_SAMPLE.exists():
        sets[PUBLIC_SAMPLE.name] = PUBLIC_SAMPLE
    return sets


@pytest.fixture(scope="module")
def triaged(trained_model: Path, engine_python: str) -> dict[str, list[tuple[dict[str, Any], dict[str, Any]]]]:
    sets = {name: yaml.safe_load(path.read_text(encoding="utf-8"))["messages"] for name, path in _sets().items()}
    texts = [m["text"] for messages in sets.values() for m in messages]
    parses = iter(parse_with_engine(texts, trained_model, engine_python))
    return {name: [(m, next(parses)) for m in messages] for name, messages in sets.items()}


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_escalation_does_not_regress(triaged: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]],
                                     name: str) -> None:
    if name not in triaged:
        pytest.skip(f"{name} is not on this machine")
    min_recall, max_false = FLOORS[name]
    pairs = triaged[name]
    dangerous = [(m, p) for m, p in pairs if m["risk"] in ESCALATING]
    harmless = [(m, p) for m, p in pairs if m["risk"] == "none"]
    missed = [m["text"] for m, p in dangerous if not p["risk"]["escalate"]]
    raised = [m["text"] for m, p in harmless if p["risk"]["escalate"]]
    assert 1 - len(missed) / len(dangerous) >= min_recall, f"disclosures not escalated: {missed}"
    assert len(raised) / len(harmless) <= max_false, f"everyday messages escalated: {raised}"
