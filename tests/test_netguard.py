"""The network guard used by the end-to-end tests really refuses and records
non-loopback traffic (otherwise "the guard log is empty" would prove nothing)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

GUARD_DIR = Path(__file__).parent / "netguard"

PROBE = r"""
import socket
outcomes = []
for attempt in (lambda: socket.create_connection(("203.0.113.7", 443), timeout=1),
                lambda: socket.getaddrinfo("telemetry.example.org", 443)):
    try:
        attempt()
        outcomes.append("went through")
    except (PermissionError, socket.gaierror):
        outcomes.append("refused")
server = socket.socket(); server.bind(("127.0.0.1", 0)); server.listen(1)
socket.create_connection(server.getsockname(), timeout=1).close()
outcomes.append("loopback ok")
print(",".join(outcomes))
"""


def test_guard_refuses_and_records_traffic_leaving_loopback(tmp_path):
    log = tmp_path / "netguard.log"
    env = {**os.environ, "NETGUARD_LOG": str(log), "NETGUARD_MODE": "refuse", "PYTHONPATH": str(GUARD_DIR)}
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "refused,refused,loopback ok"
    recorded = log.read_text().splitlines()
    assert len(recorded) == 2
    assert "203.0.113.7" in recorded[0] and "telemetry.example.org" in recorded[1]


def test_record_mode_notes_traffic_without_refusing_it(tmp_path):
    # The whole `make test` run uses record mode: attempts are logged (and the
    # run then fails) but the guard itself changes nothing a test observes.
    log = tmp_path / "netguard.log"
    env = {**os.environ, "NETGUARD_LOG": str(log), "NETGUARD_MODE": "record", "PYTHONPATH": str(GUARD_DIR)}
    probe = ("import socket\n"
             "try:\n    socket.getaddrinfo('telemetry.example.org', 443)\n"
             "except socket.gaierror:\n    pass  # no DNS here: the lookup itself fails, not the guard\n"
             "print('ran')")
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ran"
    assert "telemetry.example.org" in log.read_text()
