"""A sampling profiler for every Python process of a benchmarked stack (standard library only).

bench/load.py puts this directory first on the stack's PYTHONPATH and sets
BENCH_PROFILE_DIR. Each process then starts one daemon thread that, while the
file $BENCH_PROFILE_DIR/on exists, looks at every other thread's stack every
few milliseconds. Each thread's stack is weighted by the CPU time the thread
used since the previous look (/proc/self/task/<tid>/schedstat, nanoseconds), so
a thread waiting in select, a lock, a queue or time.sleep weighs nothing and
the profile shows where CPU time goes. Counts (microseconds) go to
$BENCH_PROFILE_DIR/<process name>-<pid>.json every 2 s, so a killed process
still leaves its profile. Without BENCH_PROFILE_DIR nothing happens.

BENCH_PROFILE_CLOCK=wall weighs every look by the wall time since the previous
one instead, busy or not: the profile then shows where threads *wait* (a socket,
a lock, a thread pool's queue), which is what explains latency CPU cannot.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path

SAMPLE_SECONDS = 0.005


def _cpu_ns(native_id: int) -> int:
    try:
        with open(f"/proc/self/task/{native_id}/schedstat") as stat:
            return int(stat.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def _label(code) -> str:  # type: ignore[no-untyped-def]
    filename = code.co_filename
    for marker in ("/site-packages/", "/lib/python3.11/"):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
            break
    else:
        root = os.environ.get("BENCH_REPO_ROOT", "")
        if root and filename.startswith(root):
            filename = filename[len(root):].lstrip("/")
    return f"{filename}:{code.co_name}"


def _sampler(directory: Path, name: str) -> None:
    own = threading.get_ident()
    self_counts: Counter[str] = Counter()
    total_counts: Counter[str] = Counter()
    busy = idle = 0  # CPU microseconds seen; looks at a thread that had used none
    last_cpu: dict[int, int] = {}
    wall = os.environ.get("BENCH_PROFILE_CLOCK") == "wall"
    clock = time.monotonic_ns
    last_dump = time.monotonic()
    switch = directory / "on"
    target = directory / f"{name}-{os.getpid()}.json"
    while True:
        if not switch.exists():
            last_cpu.clear()  # CPU used while switched off is not this profile's
            time.sleep(0.2)
        else:
            native_ids = {t.ident: t.native_id for t in threading.enumerate()}
            for ident, frame in sys._current_frames().items():
                native_id = native_ids.get(ident)
                if ident == own or frame is None or native_id is None:
                    continue
                now = clock() if wall else _cpu_ns(native_id)
                used_us = (now - last_cpu.get(native_id, now)) // 1000
                last_cpu[native_id] = now
                if used_us <= 0:
                    idle += 1
                    continue
                busy += used_us
                self_counts[_label(frame.f_code)] += used_us
                seen = set()
                while frame is not None:
                    label = _label(frame.f_code)
                    if label not in seen:
                        total_counts[label] += used_us
                        seen.add(label)
                    frame = frame.f_back
            time.sleep(SAMPLE_SECONDS)
        if time.monotonic() - last_dump > 2 and busy:
            temporary = target.with_suffix(".tmp")
            temporary.write_text(json.dumps({"process": name, "busy": busy, "idle": idle,
                                             "self": self_counts.most_common(60),
                                             "total": total_counts.most_common(200)}))
            temporary.replace(target)
            last_dump = time.monotonic()


def _start() -> None:
    directory = os.environ.get("BENCH_PROFILE_DIR")
    if not directory:
        return
    # A worker a server spawns inherits its parent's name through the environment.
    name = os.environ.get("BENCH_PROFILE_NAME")
    if not name:
        argv = " ".join(sys.orig_argv)
        name = ("gateway" if "uvicorn" in argv else "actions" if "rasa_sdk" in argv
                else "rasa" if "rasa" in argv else "python")
        os.environ["BENCH_PROFILE_NAME"] = name
    threading.Thread(target=_sampler, args=(Path(directory), name), daemon=True, name="bench-profiler").start()


_start()
