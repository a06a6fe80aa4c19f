"""Train the Rasa model only when its inputs changed; print the model's path.

Run with the engine environment's python. The model file is named after a
hash of everything that shapes it (config, domain, training data, our NLU
components, the engine lock), so an unchanged tree reuses the cached model.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INPUTS = ["config.yml", "domain.yml", "nlu", "stories", "requirements/engine.lock"]
TRAINING_DATA = ["nlu/data", "stories"]


def content_hash(root: Path = ROOT) -> str:
    digest = hashlib.sha256()
    for entry in INPUTS:
        path = root / entry
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if "__pycache__" in file.parts or file.suffix == ".pyc":
                continue
            digest.update(str(file.relative_to(root)).encode())
            digest.update(b"\0")
            digest.update(file.read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()[:16]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="models", help="model directory")
    args = parser.parse_args()
    out = (ROOT / args.out).resolve()
    name = f"tre-em-{content_hash()}"
    model = out / f"{name}.tar.gz"
    if model.exists():
        print(model)
        return 0
    out.mkdir(parents=True, exist_ok=True)
    print(f"Training the model ({name}) ...", file=sys.stderr)
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "rasa", "train", "--config", "config.yml", "--domain", "domain.yml",
               "--data", *TRAINING_DATA, "--out", str(out), "--fixed-model-name", name]
    # Training output goes to stderr: stdout carries only the model path.
    result = subprocess.run(command, cwd=ROOT, env=env, stdout=sys.stderr)
    if result.returncode != 0 or not model.exists():
        print("Training failed.", file=sys.stderr)
        return 1
    print(model)
    return 0


if __name__ == "__main__":
    sys.exit(main())
