"""Build the real-text precision benchmark from raw corpora (run once, by hand).

    python scripts/build_real_text.py RAW_DIR

RAW_DIR holds one message per line per source, as extracted from the pinned
snapshots listed in docs/real-text.md (`<slug>.txt`). A seeded random sample of
each source (messages of 200 characters at most) is split in two halves,
`tests/data/real_text/dev.yml` (errors may be read and fixed) and
`tests/data/real_text/holdout.yml` (scored once per change, never read line
by line). Reviewed labels are kept in the files themselves; this script
refuses to overwrite them.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "real_text"
# source slug -> messages taken (half to dev, half to holdout)
SAMPLE = {
    "aivivn2019_product_reviews": 1100,
    "uit_vsfc_student_feedback": 700,
    "uit_victsd_news_comments": 900,
    "vimq_medical_questions": 500,
    "tatoeba_vie_sentences": 800,
}
MAX_CHARS = 200
SEED = 20261207


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("raw_dir", type=Path)
    args = parser.parse_args()
    if any((OUT / name).exists() for name in ("dev.yml", "holdout.yml")):
        print(f"{OUT} already holds the benchmark (with reviewed labels): not overwritten", file=sys.stderr)
        return 1
    rng = random.Random(SEED)
    splits: dict[str, list[dict[str, str]]] = {"dev": [], "holdout": []}
    for slug, count in SAMPLE.items():
        lines = (args.raw_dir / f"{slug}.txt").read_text(encoding="utf-8").splitlines()
        pool = [line.strip() for line in lines if 1 < len(line.strip()) <= MAX_CHARS]
        chosen = rng.sample(pool, count)
        for position, text in enumerate(chosen):
            splits["dev" if position % 2 == 0 else "holdout"].append({"text": text, "source": slug})
    OUT.mkdir(parents=True, exist_ok=True)
    for name, messages in splits.items():
        rng.shuffle(messages)
        header = (f"# Real-text precision benchmark, {name} half: real messages nobody wrote for this project\n"
                  "# (sources and licences: docs/real-text.md). Every message is expected to get risk none,\n"
                  "# except those a reviewer labelled `risk:` (a personal disclosure or concern).\n")
        with open(OUT / f"{name}.yml", "w", encoding="utf-8") as handle:
            handle.write(header)
            yaml.safe_dump({"version": 1, "messages": messages}, handle, allow_unicode=True, sort_keys=False, width=200)
        print(f"{name}: {len(messages)} messages")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
