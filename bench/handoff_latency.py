"""How long from a child's disclosure to the case in the counsellor's queue?

    <app python> bench/handoff_latency.py [--model models/x.tar.gz] [--count 100]

Starts the real stack (Rasa, action server, gateway) on free loopback ports
with a fresh DATA_DIR, creates a supervisor with the CLI and signs in to the
console like a browser does: it listens to the console's server-sent events
and, on each notice, fetches the queue. For each of COUNT disclosures (a new
web chat conversation each, imminent danger, so the disclosure itself opens
the case) it measures from sending the child's message to the moment the
case is in the queue JSON the console renders. Prints p50 / p95 / max.
Target: p95 < 1 s. Everything stays on 127.0.0.1; the loop is bounded.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from devtools.ports import free_port  # noqa: E402
from devtools.stack import Stack, default_python, newest_model  # noqa: E402

DISCLOSURE = "em muon chet ngay bay gio, em dang cam dao"
PASSWORD = "do-do-tre-handoff"
TIMEOUT_SECONDS = 10.0


class QueueWatcher:
    """The console's live queue: SSE notices, then a fetch of /console/api/queue."""

    def __init__(self, http: httpx.Client) -> None:
        self._http = http
        self._notices = threading.Condition()
        self._count = 0
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        while True:
            try:
                with self._http.stream("GET", "/console/events", timeout=None) as stream:
                    for line in stream.iter_lines():
                        if line.startswith("event: queue"):
                            with self._notices:
                                self._count += 1
                                self._notices.notify_all()
            except httpx.HTTPError:
                time.sleep(0.2)  # the stream ends every few minutes; reconnect like EventSource

    def seen(self) -> int:
        with self._notices:
            return self._count

    def wait_for_case(self, before: int, known: set[int], deadline: float) -> int:
        """Wait for a queue notice after `before`, then find the new case in the queue JSON."""
        with self._notices:
            self._notices.wait_for(lambda: self._count > before, timeout=max(0.0, deadline - time.monotonic()))
        while time.monotonic() < deadline:
            waiting = self._http.get("/console/api/queue").json()["waiting"]
            new = [c["id"] for c in waiting if c["id"] not in known]
            if new:
                return int(new[0])
            time.sleep(0.01)
        raise TimeoutError("the case did not appear in the queue")


def sign_in(base_url: str) -> httpx.Client:
    http = httpx.Client(base_url=base_url, trust_env=False, timeout=30)
    page = http.get("/console/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    response = http.post("/console/login", data={"username": "bench", "password": PASSWORD, "csrf_token": token},
                         follow_redirects=False)
    if response.status_code != 303:
        raise RuntimeError(f"console login failed: {response.status_code}")
    return http


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="trained model; default: the newest in models/")
    parser.add_argument("--count", type=int, default=100)
    args = parser.parse_args()
    model = Path(args.model) if args.model else newest_model()
    if model is None:
        print("No model: run `make train` first.", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="handoff-bench-") as directory:
        data_dir = Path(directory)
        env = {"APP_DATABASE_URL": f"sqlite:///{data_dir / 'app.db'}", "STAFFED_HOURS": "always",
               "WAIT_LIMIT_IMMINENT_SECONDS": "86400"}
        with Stack(model=model, engine_python=default_python("engine"), data_dir=data_dir, rasa_port=free_port(),
                   actions_port=free_port(), bot_port=free_port(), extra_env=env) as stack:
            subprocess.run([sys.executable, "-m", "bot.users", "create", "bench", "--name", "Bench",
                            "--role", "supervisor", "--password-stdin"], input=PASSWORD + "\n", text=True,
                           check=True, cwd=REPO_ROOT, capture_output=True,
                           env={**os.environ, **env, "DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO_ROOT)})
            console = sign_in(stack.bot_url)
            watcher = QueueWatcher(console)
            child = httpx.Client(base_url=stack.bot_url, trust_env=False, timeout=60)
            child.post(f"/api/webchat/{secrets.token_urlsafe(24)}/messages", json={"text": "xin chào"})  # warm-up
            known: set[int] = set()
            latencies: list[float] = []
            for _ in range(args.count):
                before = watcher.seen()
                started = time.monotonic()
                response = child.post(f"/api/webchat/{secrets.token_urlsafe(24)}/messages", json={"text": DISCLOSURE})
                response.raise_for_status()
                known.add(watcher.wait_for_case(before, known, started + TIMEOUT_SECONDS))
                latencies.append(time.monotonic() - started)

    print(f"disclosure -> case in the console queue, {len(latencies)} disclosures:")
    print(f"  p50 {statistics.median(latencies) * 1000:.0f} ms   p95 {percentile(latencies, 0.95) * 1000:.0f} ms"
          f"   max {max(latencies) * 1000:.0f} ms   (target p95 < 1000 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
