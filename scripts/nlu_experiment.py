#!/usr/bin/env python3
"""Train NLU variants and measure them on the holdout set and the dev sample.

Engine environment, from the repository root:

    RASA_TELEMETRY_ENABLED=false PYTHONPATH=. python scripts/nlu_experiment.py \
        --config config.yml --train --name main
    PYTHONPATH=. python scripts/nlu_experiment.py --model /tmp/nlu-models/main.tar.gz

Reports, overall and per variant (accented / unaccented / teencode / mixed):
intent accuracy, escalation recall (risk high/imminent parsed with risk.escalate),
false-escalation rate on risk-none messages, check-in rate on risk-none messages.
``--show-errors`` lists misses. ``--sweep`` re-runs the triage with other thresholds
on the stored intent rankings (no retraining).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Dict, List

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

DEFAULT_SETS = {
    "holdout": ROOT / "tests" / "data" / "nlu_holdout.yml",
    "dev": Path(os.environ.get("NLU_DEV_SAMPLE", "/work/shared/eval/nlu_dev_sample.yml")),
}


def train(config: Path, name: str, out: Path) -> Path:
    rasa = Path(sys.executable).with_name("rasa")
    started = time.time()
    subprocess.run(
        [str(rasa), "train", "nlu", "--config", str(config), "--nlu", str(ROOT / "nlu" / "data"),
         "--out", str(out), "--fixed-model-name", name],
        check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
    )
    print(f"trained {name} in {time.time() - started:.0f}s")
    return out / f"{name}.tar.gz"


async def parse_all(model: Path, messages: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    from rasa.core.agent import load_agent

    agent = await load_agent(model_path=str(model))
    return [await agent.parse_message(m["text"]) for m in messages]


def metrics(rows: List[Dict[str, Any]]) -> Dict[str, Any]:
    n = len(rows)
    danger = [r for r in rows if r["risk"] in ("high", "imminent")]
    none = [r for r in rows if r["risk"] == "none"]
    return {
        "n": n,
        "intent_acc": sum(r["pred_intent"] == r["intent"] for r in rows) / n if n else None,
        "esc_recall": sum(r["escalate"] for r in danger) / len(danger) if danger else None,
        "n_danger": len(danger),
        "false_esc": sum(r["escalate"] for r in none) / len(none) if none else None,
        "check_in_none": sum(r["check_in"] for r in none) / len(none) if none else None,
        "n_none": len(none),
    }


def fmt(m: Dict[str, Any]) -> str:
    def pct(x):
        return "  -  " if x is None else f"{x:.3f}"

    return (f"n={m['n']:4d}  intent={pct(m['intent_acc'])}  esc_recall={pct(m['esc_recall'])}"
            f" ({m['n_danger']})  false_esc={pct(m['false_esc'])} ({m['n_none']})"
            f"  check_in_none={pct(m['check_in_none'])}")


def report(name: str, rows: List[Dict[str, Any]], show_errors: bool) -> Dict[str, Any]:
    by_variant = defaultdict(list)
    for r in rows:
        by_variant[r.get("variant", "?")].append(r)
    result = {"all": metrics(rows)}
    print(f"== {name}: {fmt(result['all'])}")
    for variant in sorted(by_variant):
        result[variant] = metrics(by_variant[variant])
        print(f"   {variant:10s} {fmt(result[variant])}")
    levels = ("none", "concern", "high", "imminent")
    print("   risk label -> predicted level: " + "; ".join(
        f"{gold}: " + " ".join(
            f"{pred}={sum(1 for r in rows if r['risk'] == gold and r['level'] == pred)}"
            for pred in levels
        )
        for gold in levels
    ))
    if show_errors:
        for r in rows:
            missed = r["risk"] in ("high", "imminent") and not r["escalate"]
            false = r["risk"] == "none" and r["escalate"]
            wrong = r["pred_intent"] != r["intent"]
            if missed or false or wrong:
                tag = "MISS " if missed else ("FALSE" if false else "     ")
                print(f"   {tag} {r['intent']:>18s}->{r['pred_intent']:<18s} "
                      f"{r['conf']:.2f} risk {r['risk']}->{r['level']} | {r['text'][:110]}")
    return result


def rows_for(messages, parsed, triage_config=None, use_lexicon=True):
    from nlu.triage import assess
    from nlu.danger_lexicon import load_lexicon
    from nlu.vietnamese_text import canonical

    rows = []
    for m, p in zip(messages, parsed):
        risk = p.get("risk", {})
        if triage_config is not None:
            ranking = p.get("intent_ranking") or [p.get("intent")]
            signals = load_lexicon().find(m["text"]) if use_lexicon else []
            risk = assess(ranking, canonical(m["text"]), signals, triage_config).as_dict()
        rows.append({
            **m,
            "pred_intent": (p.get("intent") or {}).get("name"),
            "conf": (p.get("intent") or {}).get("confidence") or 0.0,
            "escalate": bool(risk.get("escalate")),
            "check_in": bool(risk.get("check_in")),
            "level": risk.get("level"),
            "ranking": [r for r in p.get("intent_ranking") or [] if r["name"] != "nlu_fallback"],
        })
    # nlu_fallback counts as a wrong intent, as in production.
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", type=Path, default=ROOT / "config.yml")
    ap.add_argument("--name", default="experiment")
    ap.add_argument("--train", action="store_true")
    ap.add_argument("--model", type=Path)
    ap.add_argument("--out", type=Path, default=Path("/tmp/nlu-models"))
    ap.add_argument("--show-errors", action="store_true")
    ap.add_argument("--sweep", action="store_true")
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args()

    model = args.model
    if args.train:
        model = train(args.config, args.name, args.out)
    if model is None:
        ap.error("--model or --train is required")

    results = {}
    for set_name, path in DEFAULT_SETS.items():
        if not path.exists():
            print(f"(no {set_name} set at {path})")
            continue
        messages = yaml.safe_load(path.read_text(encoding="utf-8"))["messages"]
        parsed = asyncio.run(parse_all(model, messages))
        rows = rows_for(messages, parsed)
        results[set_name] = report(f"{set_name} [{model.name}]", rows, args.show_errors)
        model_only = metrics(rows_for(messages, parsed, {}, use_lexicon=False))
        print(f"   model only (no lexicon in triage): {fmt(model_only)}")
        if args.sweep:
            for threshold in (0.2, 0.25, 0.3, 0.35, 0.4):
                correct = 0
                for r in rows:
                    top = r["ranking"][:2]
                    ok = top and top[0]["confidence"] >= threshold and not (
                        len(top) > 1 and top[0]["confidence"] - top[1]["confidence"] < 0.1
                    )
                    correct += bool(ok and top[0]["name"] == r["intent"])
                print(f"   fallback threshold={threshold}: intent={correct / len(rows):.3f}")
            for high in (0.4, 0.5, 0.6):
                for mass in (0.2, 0.3, 0.4):
                    cfg = {"high_confidence": high, "check_in_mass": mass, "confirm_floor": mass}
                    m = metrics(rows_for(messages, parsed, cfg))
                    print(f"   sweep high={high} mass={mass}: {fmt(m)}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
