"""Score predictions (from scripts/predict.py) against labelled YAML files.

    python scripts/evaluate.py GOLD.yml PREDICTIONS.jsonl [GOLD.yml PREDICTIONS.jsonl ...]

For each file, overall and per `variant` (or `source`, for the real-text benchmark):

- intent accuracy and macro-F1 (messages with a gold intent);
- escalation recall: gold risk high or imminent that the bot escalated (high or imminent);
- imminent recall: gold imminent graded imminent;
- concern recall: gold concern graded concern or above;
- false escalation: gold risk none graded high or imminent (the false alarm that opens the
  safety response);
- concern rate: gold risk none graded concern (a needless check-in).

A message without a `risk` key counts as risk none (the real-text benchmark labels only
its exceptions).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import yaml

from common.dialogue import RISK_RANK as RANK

ESCALATING = {"high", "imminent"}
COLUMNS = ("n", "intent_acc", "macro_f1", "esc_recall", "imminent", "concern+", "false_esc", "concern_rate")


def gold_risk(message: dict) -> str:
    return str(message.get("risk") or "none")


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


def counts(rows: list[tuple[dict, dict]]) -> dict[str, tuple[int, int]]:
    """Each figure as (hits, total), so callers can apply floors without parsing text."""
    pairs = [(g["intent"], p["intent"]) for g, p in rows if g.get("intent")]
    danger = [p for g, p in rows if gold_risk(g) in ESCALATING]
    imminent = [p for g, p in rows if gold_risk(g) == "imminent"]
    concern = [p for g, p in rows if gold_risk(g) == "concern"]
    calm = [p for g, p in rows if gold_risk(g) == "none"]
    return {
        "intent_acc": (sum(1 for g, p in pairs if g == p), len(pairs)),
        "esc_recall": (sum(1 for p in danger if p["escalate"]), len(danger)),
        "imminent": (sum(1 for p in imminent if p["risk"] == "imminent"), len(imminent)),
        "concern+": (sum(1 for p in concern if RANK.get(p["risk"], 0) >= RANK["concern"]), len(concern)),
        "false_esc": (sum(1 for p in calm if p["escalate"]), len(calm)),
        "concern_rate": (sum(1 for p in calm if p["risk"] == "concern"), len(calm)),
    }


def score(rows: list[tuple[dict, dict]]) -> dict[str, str]:
    pairs = [(g["intent"], p["intent"]) for g, p in rows if g.get("intent")]
    figures = {name: ratio(*hits_total) for name, hits_total in counts(rows).items()}
    return {"n": str(len(rows)), "macro_f1": f"{macro_f1(pairs):.3f}" if pairs else "n/a", **figures}


def load_rows(gold_path: Path, predictions_path: Path) -> list[tuple[dict, dict]]:
    gold = yaml.safe_load(gold_path.read_text(encoding="utf-8"))["messages"]
    predicted = [json.loads(line) for line in predictions_path.read_text(encoding="utf-8").splitlines() if line]
    if len(gold) != len(predicted):
        raise SystemExit(f"{gold_path}: {len(gold)} gold messages but {len(predicted)} predictions")
    return list(zip(gold, predicted))


def print_table(title: str, rows: list[tuple[dict, dict]]) -> None:
    groups: dict[str, list] = defaultdict(list)
    for g, p in rows:
        groups[str(g.get("variant") or g.get("source") or "unknown")].append((g, p))
    table = [("overall", score(rows))]
    if len(groups) > 1:
        table += [(name, score(groups[name])) for name in sorted(groups)]
    print(title)
    width = max(12, *(len(name) + 2 for name, _ in table))
    print(f"{'':<{width}}" + "".join(f"{c:>18}" for c in COLUMNS))
    for name, figures in table:
        print(f"{name:<{width}}" + "".join(f"{figures[c]:>18}" for c in COLUMNS))
    print()


def print_errors(rows: list[tuple[dict, dict]]) -> None:
    for g, p in rows:
        wrong_level = gold_risk(g) != p["risk"]
        if (g.get("intent") and g["intent"] != p["intent"]) or wrong_level:
            print(f"- gold {g.get('intent', '-')}/{gold_risk(g)} got {p['intent']}/{p['risk']}"
                  f" ({p['confidence']}): {g['text']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pairs", nargs="+", type=Path, metavar="GOLD.yml PREDICTIONS.jsonl")
    parser.add_argument("--errors", action="store_true", help="also list every wrong prediction")
    args = parser.parse_args()
    if len(args.pairs) % 2:
        parser.error("give gold files and prediction files in pairs")
    for gold_path, predictions_path in zip(args.pairs[::2], args.pairs[1::2]):
        rows = load_rows(gold_path, predictions_path)
        print_table(str(gold_path), rows)
        if args.errors:
            print_errors(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
