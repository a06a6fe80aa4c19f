"""The layout's rules, checked: no module of the project imports itself in a loop, and importing
one module of a package does not start a runtime it does not need (docs/architecture.md)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "actions", "nlu", "engine", "common", "devtools", "scripts", "bench")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            if "migrations" in path.parts:  # Alembic loads these by path, nobody imports them
                continue
            name = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
            found[name] = path
    return found


def _imports_at_load(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Project modules that loading `name` imports (module level, `if TYPE_CHECKING` included:
    a loop a type checker must break is still a loop a reader must follow)."""

    def resolve(dotted: str) -> str | None:
        while dotted and dotted not in modules:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for statement in ast.parse(path.read_text(encoding="utf-8")).body:
        nodes = ast.walk(statement) if isinstance(statement, (ast.If, ast.Try)) else [statement]
        for node in nodes:
            if isinstance(node, ast.Import):
                found.update(filter(None, (resolve(alias.name) for alias in node.names)))
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package[: len(package) - (node.level - 1)]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                for alias in node.names:
                    target = resolve(f"{module}.{alias.name}") if f"{module}.{alias.name}" in modules else resolve(module)
                    if target:
                        found.add(target)
    found.discard(name)
    return found


def import_loops(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    loops: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                loops.append(sorted(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in graph:
        if node not in index:
            visit(node)
    return loops


def test_the_loop_finder_finds_a_loop_of_three_and_ignores_a_chain() -> None:
    assert import_loops({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert import_loops({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_no_module_of_the_project_imports_itself_in_a_loop() -> None:
    modules = _modules()
    assert "bot.relay" in modules and "bot.handoff" in modules
    graph = {name: _imports_at_load(name, path, modules) for name, path in modules.items()}
    assert "bot.handoff" in graph["bot.relay"]  # the relay asks the handoff; never the other way
    assert import_loops(graph) == []


PROBE = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps(sorted(sys.modules)))
"""


@pytest.mark.parametrize("module", ["bot.channels.message_refs", "bot.channels.zalo_windows",
                                    "bot.channels.zalo_tokens", "bot.models"])
def test_importing_a_channel_helper_or_a_table_does_not_load_the_channel_stack(module: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", PROBE, module], capture_output=True, text=True,
                            env=env, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = set(json.loads(result.stdout))
    assert module in loaded
    assert loaded.isdisjoint({"bot.relay", "bot.handoff", "bot.channels.telegram", "bot.channels.push",
                              "bot.outbox", "telegram"})
