"""CPU seconds and peak memory of the stack's processes, read from /proc.

Each named process counts with its whole process tree (Sanic and uvicorn may
fork workers). A background thread samples every `interval` seconds; a phase
is bracketed by `begin()` / `end()`, which return CPU seconds used and the
peak resident memory (sum over the tree) seen in between.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class ProcessUsage:
    cpu_seconds: float
    peak_rss_mib: float


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces: split after it.
    return raw[raw.rindex(")") + 2:].split()


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def process_tree(root: int, children: Mapping[int, list[int]] | None = None) -> list[int]:
    children = _children_map() if children is None else children
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending.extend(children.get(pid, []))
    return tree


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields:
            total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / CLOCK_TICKS


def rss_mib(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields:
            total += int(fields[21]) * PAGE_BYTES  # rss in pages
    return total / 2**20


class StackSampler:
    """Samples the processes `pids()` names (name -> root pid) until `close()`."""

    def __init__(self, pids: Callable[[], Mapping[str, int]], interval: float = 0.5) -> None:
        self._pids = pids
        self._interval = interval
        self._lock = threading.Lock()
        self._peak: dict[str, float] = {}
        self._cpu_at_begin: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="stack-sampler")
        self._thread.start()

    def _trees(self) -> dict[str, list[int]]:
        children = _children_map()
        return {name: process_tree(pid, children) for name, pid in self._pids().items()}

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            sample = {name: rss_mib(tree) for name, tree in self._trees().items()}
            with self._lock:
                for name, value in sample.items():
                    self._peak[name] = max(self._peak.get(name, 0.0), value)

    def begin(self) -> None:
        trees = self._trees()
        with self._lock:
            self._peak = {name: rss_mib(tree) for name, tree in trees.items()}
            self._cpu_at_begin = {name: cpu_seconds(tree) for name, tree in trees.items()}

    def end(self) -> dict[str, ProcessUsage]:
        trees = self._trees()
        with self._lock:
            return {name: ProcessUsage(cpu_seconds(tree) - self._cpu_at_begin.get(name, 0.0),
                                       max(self._peak.get(name, 0.0), rss_mib(tree)))
                    for name, tree in trees.items()}

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()


def this_process_cpu() -> float:
    times = os.times()
    return times.user + times.system
