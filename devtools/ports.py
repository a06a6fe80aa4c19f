"""Listening ports for the servers we start on loopback, handed out so that they cannot collide.

    from devtools.ports import free_port, free_ports
    bot_port = free_port()
    rasa_port, actions_port, bot_port = free_ports(2, 1, 2)   # runs: RASA_PORT, +1; BOT_PORT, +1

The contract:

- Every port handed out lies outside the kernel's ephemeral range
  (/proc/sys/net/ipv4/ip_local_port_range), the only range the kernel takes the
  source port of an outgoing connection from. So no connection of this machine
  (to PostgreSQL, Redis, a Rasa server, ...) holds the port now or can take it
  between the moment it is handed out and the moment the server binds it.
  Binding port 0 instead picks from that very range, and Linux gives bind(0)
  odd ports and connect() even ones: the port after a bind(0) port is the
  kind an outgoing connection takes next (issue #17).
- Candidates come from PREFERRED (20000-31999) less any overlap with the
  ephemeral range; if nothing is left, every port from 10000 up outside it.
- `free_ports(*runs)` hands out runs of consecutive ports (a stack with two Rasa
  servers uses RASA_PORT and RASA_PORT + 1); each port of a run is free: a plain
  bind of 127.0.0.1:<port> succeeds (no SO_REUSEADDR, so a port that any socket
  still holds, even in TIME_WAIT, is skipped).
- No port is handed out twice while the process that received it runs: not in
  one process (a set), not across processes running at the same time (an
  exclusive flock on one file per port in a directory under the temp dir, held
  until the process exits). Each process starts its search at a random place,
  so concurrent test processes rarely even meet on the same lock.
- A server that binds and keeps its socket in this process (the fake platforms,
  the fake Rasa) may bind port 0: its socket holds the port from the start.
  Whatever picks a number to hand to another process, or to bind later, takes
  it from here.

Standard library only: the engine's environment (Rasa) imports it too.
"""

from __future__ import annotations

import fcntl
import os
import random
import socket
import tempfile
import threading
from pathlib import Path

HOST = "127.0.0.1"
PREFERRED = range(20000, 32000)
FALLBACK = range(10000, 65536)
EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
# Where the file is missing (not Linux): wide enough for Linux's and the IANA (BSD, macOS) defaults.
DEFAULT_EPHEMERAL = (32768, 65535)


class PortError(RuntimeError):
    """No run of free ports of the length asked for; the message says where it looked."""


def ephemeral_range(path: Path = EPHEMERAL_RANGE_FILE) -> tuple[int, int]:
    """The kernel's range for the source ports of outgoing connections, both ends included."""
    try:
        low, high = (int(part) for part in path.read_text().split())
    except (OSError, ValueError):
        return DEFAULT_EPHEMERAL
    return low, high


def candidate_ports(ephemeral: tuple[int, int]) -> list[int]:
    """The ports this module may hand out, in order: PREFERRED outside `ephemeral`, else FALLBACK outside it."""
    low, high = ephemeral
    for pool in (PREFERRED, FALLBACK):
        ports = [port for port in pool if not low <= port <= high]
        if ports:
            return ports
    return []


def bindable(port: int) -> bool:
    """Whether a server could bind 127.0.0.1:<port> now (nothing listens, connects from or lingers on it)."""
    with socket.socket() as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


class PortAllocator:
    """Hands out runs of consecutive free ports from `candidates`; see the module for the contract."""

    def __init__(self, candidates: list[int], lock_dir: Path, *, start: int | None = None) -> None:
        self.candidates = candidates
        self._allowed = set(candidates)
        self.lock_dir = lock_dir
        self._start = random.randrange(len(candidates)) if start is None and candidates else (start or 0)
        self._held: dict[int, int] = {}  # port -> descriptor of its locked file
        self._mutex = threading.Lock()

    @property
    def held(self) -> frozenset[int]:
        return frozenset(self._held)

    def free_ports(self, *runs: int) -> list[int]:
        """The first port of each run of `length` consecutive free ports; runs never overlap."""
        with self._mutex:
            return [self._take_run(length) for length in runs]

    def _take_run(self, length: int) -> int:
        if length < 1:
            raise ValueError(f"a run of at least one port, not {length}")
        count = len(self.candidates)
        for offset in range(count):
            first = self.candidates[(self._start + offset) % count]
            if self._try_run(first, length):
                self._start = (self._start + offset + length) % count
                return first
        raise PortError(f"no {length} consecutive free ports among {count} candidates "
                        f"({self.candidates[0] if count else '-'}-{self.candidates[-1] if count else '-'}, "
                        f"outside the ephemeral range); locks in {self.lock_dir}")

    def _try_run(self, first: int, length: int) -> bool:
        run = range(first, first + length)
        if any(port not in self._allowed or port in self._held for port in run):
            return False
        taken: list[int] = []
        for port in run:
            descriptor = self._lock(port)
            if descriptor is None or not bindable(port):
                if descriptor is not None:
                    os.close(descriptor)
                for other in taken:
                    os.close(self._held.pop(other))
                return False
            self._held[port] = descriptor
            taken.append(port)
        return True

    def _lock(self, port: int) -> int | None:
        self.lock_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Not inherited by the servers we start (Python's descriptors are close-on-exec):
        # the lock lasts as long as the process that was handed the port.
        descriptor = os.open(self.lock_dir / f"{port}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(descriptor)
            return None
        return descriptor


def default_lock_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"tre-em-ports-{os.getuid()}"


_allocator: PortAllocator | None = None
_allocator_mutex = threading.Lock()


def allocator() -> PortAllocator:
    """This process's allocator, made on first use."""
    global _allocator
    with _allocator_mutex:
        if _allocator is None:
            _allocator = PortAllocator(candidate_ports(ephemeral_range()), default_lock_dir())
        return _allocator


def free_ports(*runs: int) -> list[int]:
    """The first port of each run of consecutive free ports outside the ephemeral range, runs not overlapping."""
    return allocator().free_ports(*runs)


def free_port() -> int:
    """One free port outside the ephemeral range, handed out to no one else while this process runs."""
    return free_ports(1)[0]
