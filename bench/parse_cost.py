"""CPU time per parse: two trained models side by side, in one process, on the same messages.

    <engine python> bench/parse_cost.py --model models/new.tar.gz \
        --baseline models/old.tar.gz --baseline-checkout ../old-checkout [--rounds 3]

Parses the messages of the real-text and everyday development halves and the fourth NLU development
set (about 2,500) with each model in turn, alternating rounds so that whatever else the machine does
falls on both, and reports the CPU time (time.process_time) per parse of each, their difference and
ratio. A model runs with the components of the checkout it was trained with (the baseline's in
--baseline-checkout, e.g. a `git worktree` of the older commit): one engine process per model and
round, model loading not counted. A benchmark, not a test: docs/performance.md records the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

import yaml  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SETS = ("tests/data/real_text/dev.yml", "tests/data/everyday_children_dev.yml", "tests/data/nlu_dev_4.yml")


async def cpu_per_parse(agent, texts: list[str]) -> float:
    started = time.process_time()
    for text in texts:
        await parse_typed_text(agent, text)
    return (time.process_time() - started) / len(texts)


def measure(model: Path, checkout: Path) -> float:
    """CPU seconds per parse of every message, in a process running `checkout`'s code."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", str(model)]
    env = {**os.environ, "PYTHONPATH": str(checkout), "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(command, cwd=checkout, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


async def child(model: Path) -> int:
    from scripts.rasa_parse import load_agent, parse_typed_text

    texts = [m["text"] for name in SETS for m in yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))["messages"]]
    import nlu  # noqa: F401 - the checkout's components, from PYTHONPATH

    print(f"components from {Path(nlu.__file__).parent}", file=sys.stderr)
    agent = load_agent(model)
    for text in texts[:50]:  # warm caches (lexicon, vectorizers) before measuring
        await parse_typed_text(agent, text)
    started = time.process_time()
    for text in texts:
        await parse_typed_text(agent, text)
    print((time.process_time() - started) / len(texts))
    return 0


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        return asyncio.run(child(Path(sys.argv[2]).resolve()))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, type=Path)
    parser.add_argument("--baseline", required=True, type=Path)
    parser.add_argument("--baseline-checkout", required=True, type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    runs = {"baseline": (args.baseline.resolve(), args.baseline_checkout.resolve()),
            "new": (args.model.resolve(), ROOT)}
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, (model, checkout) in runs.items():
            samples[name].append(measure(model, checkout))
    base, new = statistics.median(samples["baseline"]), statistics.median(samples["new"])
    count = sum(len(yaml.safe_load((ROOT / n).read_text(encoding="utf-8"))["messages"]) for n in SETS)
    print(f"{count} messages, {args.rounds} alternating rounds, median CPU time per parse:")
    print(f"  baseline {args.baseline.name}: {base * 1000:.2f} ms")
    print(f"  new      {args.model.name}: {new * 1000:.2f} ms")
    print(f"  difference {(new - base) * 1000:+.2f} ms, ratio {new / base:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
