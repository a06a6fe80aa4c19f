"""Summarise the samples bench/profiling/sitecustomize.py wrote: where each process spends its busy time."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

OUR_PACKAGES = ("bot/", "actions/", "nlu/")


@dataclass
class ProcessProfile:
    name: str
    busy: int
    idle: int
    self_counts: Counter[str]
    total_counts: Counter[str]

    def share(self, count: int) -> float:
        return 100.0 * count / self.busy if self.busy else 0.0


def read_profiles(directory: Path) -> dict[str, ProcessProfile]:
    """One profile per process name (replicas of one kind are added together)."""
    merged: dict[str, ProcessProfile] = {}
    for path in sorted(directory.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        profile = merged.setdefault(data["process"], ProcessProfile(data["process"], 0, 0, Counter(), Counter()))
        profile.busy += data["busy"]
        profile.idle += data["idle"]
        profile.self_counts.update(dict(data["self"]))
        profile.total_counts.update(dict(data["total"]))
    return merged


def report(profiles: dict[str, ProcessProfile], top: int = 8) -> str:
    lines = []
    for name in sorted(profiles):
        profile = profiles[name]
        lines.append(f"\n{name}: {profile.busy / 1e6:.1f} CPU s sampled")
        lines.append("  where the CPU time goes (innermost Python function, % of the CPU time sampled):")
        for label, count in profile.self_counts.most_common(top):
            lines.append(f"    {profile.share(count):5.1f}%  {label}")
        ours = [(label, count) for label, count in profile.total_counts.most_common()
                if label.startswith(OUR_PACKAGES)]
        if ours:
            lines.append("  our code, inclusive (% of the CPU time with this function on the stack):")
            for label, count in ours[:top]:
                lines.append(f"    {profile.share(count):5.1f}%  {label}")
    return "\n".join(lines)
