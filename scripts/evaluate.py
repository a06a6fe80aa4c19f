"""Score predictions (from scripts/predict.py) against a labelled YAML file.

    python scripts/evaluate.py GOLD.yml PREDICTIONS.jsonl

Prints intent accuracy, macro-F1, escalation recall (gold risk high or
imminent that the bot escalated) and false-escalation rate (gold risk none
that it escalated), overall and per `variant`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import yaml

ESCALATING = {"high", "imminent"}


def macro_f1(pairs: list[tuple[str, str]]) -> float:
    labels = {gold for gold, _ in pairs}
    scores = []
    for label in labels:
        tp = sum(1 for g, p in pairs if g == label and p == label)
        fp = sum(1 for g, p in pairs if g != label and p == label)
        fn = sum(1 for g, p in pairs if g == label and p != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return sum(scores) / len(scores) if scores else 0.0


def ratio(hits: int, total: int) -> str:
    return f"{hits / total:.3f} ({hits}/{total})" if total else "n/a"


def score(rows: list[tuple[dict, dict]]) -> dict[str, str]:
    labelled = [(g, p) for g, p in rows if g.get("intent")]
    pairs = [(g["intent"], p["intent"]) for g, p in labelled]
    danger = [(g, p) for g, p in rows if g.get("risk") in ESCALATING]
    calm = [(g, p) for g, p in rows if g.get("risk") == "none"]
    return {
        "n": str(len(rows)),
        "intent_acc": ratio(sum(1 for g, p in pairs if g == p), len(pairs)),
        "macro_f1": f"{macro_f1(pairs):.3f}" if pairs else "n/a",
        "esc_recall": ratio(sum(1 for _, p in danger if p["escalate"]), len(danger)),
        "false_esc": ratio(sum(1 for _, p in calm if p["escalate"]), len(calm)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("gold", type=Path)
    parser.add_argument("predictions", type=Path)
    parser.add_argument("--errors", action="store_true", help="also list every wrong prediction")
    args = parser.parse_args()
    gold = yaml.safe_load(args.gold.read_text(encoding="utf-8"))["messages"]
    predicted = [json.loads(line) for line in args.predictions.read_text(encoding="utf-8").splitlines() if line]
    if len(gold) != len(predicted):
        print(f"{len(gold)} gold messages but {len(predicted)} predictions", file=sys.stderr)
        return 1
    rows = list(zip(gold, predicted))
    groups: dict[str, list] = defaultdict(list)
    for g, p in rows:
        groups[g.get("variant", "unknown")].append((g, p))
    table = [("overall", score(rows))] + [(name, score(groups[name])) for name in sorted(groups)]
    columns = ["n", "intent_acc", "macro_f1", "esc_recall", "false_esc"]
    print(f"{'':<12}" + "".join(f"{c:>20}" for c in columns))
    for name, figures in table:
        print(f"{name:<12}" + "".join(f"{figures[c]:>20}" for c in columns))
    if args.errors:
        for g, p in rows:
            wrong_escalation = (g.get("risk") in ESCALATING) != p["escalate"]
            if g.get("intent") != p["intent"] or wrong_escalation:
                print(f"- gold {g.get('intent')}/{g.get('risk')} got {p['intent']}/{p['risk']}"
                      f" ({p['confidence']}): {g['text']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
