"""The multi-process stack itself: what it started, where it listens, what Rasa reads.

- a gateway worker that dies is started again (`Stack.revive`, as the command line
  supervises) while the other serves;
- every process (two Rasa servers, the action server, two gateway workers, and any
  process they started) listens on 127.0.0.1 only;
- Rasa's HTTP API refuses requests without its token, on every server;
- Rasa reads the endpoints file the stack wrote: the encrypted tracker store on
  PostgreSQL and the Redis lock store, readable only by the service's user;
- nothing of the run connected outside loopback.
"""

from __future__ import annotations

import os
import signal
import stat
from pathlib import Path

import httpx
import pytest
import yaml

from tests.scale.scale_support import descendants, new_conversation_id
from devtools.stack import GENERATED_ENDPOINTS, LOCK_STORE_CLASS, Stack
from devtools.waiting import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

LOOPBACK = {"127.0.0.1", "::ffff:127.0.0.1"}


def test_the_stack_runs_every_process_it_was_asked_for(scale_stack: Stack) -> None:
    assert set(scale_stack.processes_info()) == {"rasa-0", "rasa-1", "actions", "gateway-0", "gateway-1"}
    assert len(set(scale_stack.rasa_urls)) == 2 and len(set(scale_stack.bot_urls)) == 2
    for url in scale_stack.bot_urls:
        assert httpx.get(f"{url}/readyz", timeout=30, trust_env=False).status_code == 200, url


def test_a_gateway_worker_that_dies_is_started_again_while_the_other_serves(scale_stack: Stack) -> None:
    worker_a, worker_b = scale_stack.bot_urls
    before = scale_stack.processes_info()["gateway-1"]
    os.killpg(before, signal.SIGKILL)
    wait_for(lambda: "gateway-1" not in scale_stack.processes_info(), "the worker's death")
    assert _post(worker_a).status_code == 200  # the other worker serves meanwhile

    assert scale_stack.revive() is None  # both kinds still had a live peer: nothing to stop

    assert scale_stack.processes_info()["gateway-1"] != before
    response = _post(worker_b)
    assert response.status_code == 200 and response.json()["messages"], response.text


def test_every_process_listens_on_loopback_only(scale_stack: Stack) -> None:
    sockets = _listening_sockets()
    for name, pid in scale_stack.processes_info().items():
        inodes = {i for p in {pid} | descendants(pid) for i in _socket_inodes(p)}
        listening = {sockets[i] for i in inodes if i in sockets}
        assert ("127.0.0.1", scale_stack.ports[name]) in listening, (name, listening)
        assert {address for address, _ in listening} <= LOOPBACK, f"the {name} listens on {listening}"


def test_rasa_refuses_its_api_without_the_token(scale_stack: Stack) -> None:
    for url in scale_stack.rasa_urls:
        for params in ({}, {"token": "not-the-token"}):
            for path in ("/status", "/conversations/web:someone-else-entirely/tracker"):
                response = httpx.get(f"{url}{path}", params=params, timeout=30, trust_env=False)
                assert response.status_code == 401, (url, path, params, response.status_code)
        assert httpx.get(f"{url}/status", params={"token": scale_stack.token}, timeout=30,
                         trust_env=False).status_code == 200


def test_rasa_reads_the_endpoints_the_stack_wrote(scale_stack: Stack, redis_key_prefix: str) -> None:
    path = scale_stack.data_dir / GENERATED_ENDPOINTS
    assert scale_stack.endpoints_path == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    endpoints = yaml.safe_load(path.read_text(encoding="utf-8"))
    repository = yaml.safe_load((scale_stack.repo / "endpoints.yml").read_text(encoding="utf-8"))
    tracker, lock = endpoints["tracker_store"], endpoints["lock_store"]
    assert tracker["type"] == repository["tracker_store"]["type"]  # the encrypted store stays
    assert (tracker["dialect"], tracker["url"], tracker["db"]) == \
        ("postgresql", "127.0.0.1", scale_stack.rasa_tracker_url.rsplit("/", 1)[1])
    assert (lock["type"], lock["key_prefix"]) == (LOCK_STORE_CLASS, redis_key_prefix.rstrip(":"))
    for name in ("rasa-0", "rasa-1"):
        assert f"--endpoints {path}" in _command_line(scale_stack.processes_info()[name]), name


def test_nothing_left_the_machine(scale_stack: Stack, scale_netguard_log: Path) -> None:
    assert not scale_netguard_log.exists() or scale_netguard_log.read_text() == ""


def _post(worker: str) -> httpx.Response:
    return httpx.post(f"{worker}/api/webchat/{new_conversation_id()}/messages", json={"text": "xin chào"},
                      timeout=60, trust_env=False)


# ---- /proc -----------------------------------------------------------------------------------------


def _listening_sockets() -> dict[int, tuple[str, int]]:
    """Socket inode -> (local address, port) of every TCP socket in LISTEN state."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], int(fields[9])
            if state == "0A":  # LISTEN
                hex_address, hex_port = local.split(":")
                found[inode] = (_decode(hex_address), int(hex_port, 16))
    return found


def _decode(hex_address: str) -> str:
    raw = bytes.fromhex(hex_address)
    if len(raw) == 4:
        return ".".join(str(b) for b in reversed(raw))
    words = [raw[i:i + 4][::-1] for i in range(0, 16, 4)]  # each 32-bit word is little-endian
    joined = b"".join(words)
    if joined[:12] == b"\0" * 10 + b"\xff\xff":
        return "::ffff:" + ".".join(str(b) for b in joined[12:])
    return ":".join(joined[i:i + 2].hex() for i in range(0, 16, 2))


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = fd.readlink().as_posix()
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    except OSError:
        pass
    return inodes


def _command_line(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
