"""What the gateway and the action server may import of each other (docs/architecture.md):
the action server only `bot.settings`; the gateway only the knowledge base's library
(`actions.knowledge_base`), from the console's knowledge pages, and never an action module
or rasa-sdk."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
KNOWLEDGE_PAGES = REPO / "bot" / "console" / "knowledge.py"


def _imports(root: Path) -> list[tuple[Path, str]]:
    found = []
    for path in sorted(root.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found += [(path, alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.append((path, node.module))
    return found


def test_the_gateway_uses_only_the_knowledge_base_library_and_only_in_its_knowledge_pages() -> None:
    crossing = [(path.relative_to(REPO), name) for path, name in _imports(REPO / "bot")
                if name == "actions" or name.startswith("actions.")]
    assert crossing, "the console's knowledge pages use the knowledge base"
    assert {path for path, _ in crossing} == {KNOWLEDGE_PAGES.relative_to(REPO)}
    assert all(name.startswith("actions.knowledge_base") for _, name in crossing), crossing


def test_the_action_server_imports_only_the_settings_of_the_gateway() -> None:
    crossing = {name for _, name in _imports(REPO / "actions") if name == "bot" or name.startswith("bot.")}
    assert crossing == {"bot.settings"}


def test_the_gateway_loads_no_action_module_and_no_rasa_sdk() -> None:
    probe = ("import json, sys; import bot.app, bot.console.knowledge; "
             "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('actions', 'rasa_sdk')))))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert [m for m in loaded if m == "rasa_sdk" or m.startswith("rasa_sdk.")] == []
    assert [m for m in loaded if m.startswith("actions.") and not m.startswith("actions.knowledge_base")] == []
