"""Parse texts with the trained Rasa model: JSON lines in, JSON lines out.

    printf '%s\n' '"em co quyen gi"' | python scripts/rasa_parse.py --model models/x.tar.gz

Run with the engine environment's python (scripts/ask.py starts it for the app
environment). Each input line is a JSON string or an object with "text"; each
output line is Rasa's parse result for it (intent, intent_ranking, entities,
risk), in input order, one model load for all. Typed text gets the gateway's
neutralisation of a leading "/" unless the line is {"text": ..., "raw": true}
(a button payload). Logs go to stderr: stdout carries only results.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


from common.text_guard import clean, neutralise_leading_slashes  # noqa: E402  (standard library only)


async def parse_typed_text(agent, text: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Parse what a person typed as the live bot does: the gateway drops control
    characters and leading slashes (no forced intents) before Rasa sees it."""
    return await agent.parse_message(neutralise_leading_slashes(clean(text)))


def _json_default(value: Any) -> Any:
    """numpy numbers and other non-JSON scalars in a parse result."""
    for cast in (float, str):
        try:
            return cast(value)
        except (TypeError, ValueError):
            continue
    return None


def load_agent(model: Path):  # type: ignore[no-untyped-def]
    """Load the model as `rasa run` does, logging included: Rasa's structlog logs
    every parsed message's text at debug level unless configured, and what a
    child wrote must never reach a log."""
    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)
    return Agent.load(str(model))


async def serve(model: Path, lines, out) -> int:  # type: ignore[no-untyped-def]
    agent = load_agent(model)
    count = 0
    for line in lines:
        if not line.strip():
            continue
        item = json.loads(line)
        raw = isinstance(item, dict) and bool(item.get("raw"))
        text = item.get("text", "") if isinstance(item, dict) else str(item)
        parse = await (agent.parse_message(text) if raw else parse_typed_text(agent, text))
        out.write(json.dumps(parse, ensure_ascii=False, default=_json_default) + "\n")
        out.flush()  # scripts/ask.py may be waiting for this line
        count += 1
    return count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    # Rasa and TensorFlow print to stdout in places: point fd 1 at stderr and keep
    # the real stdout for results only.
    results = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    count = asyncio.run(serve(args.model, sys.stdin, results))
    results.close()
    print(f"{count} texts parsed", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
