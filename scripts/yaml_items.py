"""Reading the batch files of `make predict` and `make ask-batch`: a YAML file
with a top-level list of items, each with a text field (PyYAML only, so both
environments can use it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def read_items(path: Path, list_key: str, text_key: str) -> list[dict[str, Any]]:
    """The items of `list_key`, each checked to carry a string `text_key`; a
    clear message (and exit) naming the file and the item otherwise."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    items = data.get(list_key) if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise SystemExit(f"{path}: expected a top-level list '{list_key}'")
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict) or not isinstance(item.get(text_key), str):
            raise SystemExit(f"{path}: item {number} of '{list_key}' has no '{text_key}' text")
    return items
