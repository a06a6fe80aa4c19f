"""common/ is standard library only: every runtime (the Rasa engine, the action server,
the gateway) imports it, and their environments share no third-party package."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MODULES = sorted(
    ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
    for path in (REPO / "common").rglob("*.py")
)
PROBE = """
import importlib, json, sys
before = set(sys.modules)
importlib.import_module(sys.argv[1])
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def _allowed(name: str) -> bool:
    top = name.split(".")[0]
    return top == "common" or top in sys.stdlib_module_names


def test_there_is_something_to_check() -> None:
    assert "common" in MODULES and "common.dialogue" in MODULES


@pytest.mark.parametrize("module", MODULES)
def test_a_module_of_common_loads_only_the_standard_library_and_common(module: str) -> None:
    # A fresh interpreter without site (no sitecustomize, no site-packages): what the import loads.
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-S", "-c", PROBE, module], capture_output=True, text=True,
                            env=env, cwd=REPO, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = json.loads(result.stdout)
    assert [name for name in loaded if not _allowed(name)] == []


@pytest.mark.parametrize("module", MODULES)
def test_a_module_of_common_names_only_the_standard_library_and_common(module: str) -> None:
    # Imports inside functions too, which the probe above does not run.
    path = REPO / Path(*module.split("."))
    source = (path / "__init__.py") if path.is_dir() else path.with_suffix(".py")
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""] if node.level == 0 else ["common"]  # relative: inside common
        else:
            continue
        for name in names:
            assert _allowed(name), f"{source.relative_to(REPO)} imports {name}"
