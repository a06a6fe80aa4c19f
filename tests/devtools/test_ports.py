"""devtools/ports.py: listening ports that no outgoing connection and no other test process can hold.

The first test is run against today's way too (bind port 0, then use the port
after it for a second server, as devtools/stack.py does), where it must fail.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devtools.ports import PortAllocator, PortError, bindable, candidate_ports, ephemeral_range, free_ports

REPO = Path(__file__).resolve().parents[2]
BURST = 300  # outgoing loopback connections held open at once


def bind_zero_run(length: int) -> int:
    """Today's choice: the kernel's pick for port 0; a stack then uses the ports after it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def allocator_run(length: int) -> int:
    return free_ports(length)[0]


@contextlib.contextmanager
def outgoing_burst(count: int) -> Iterator[list[int]]:
    """`count` connections to a loopback listener, held open; yields their source ports."""
    with contextlib.ExitStack() as held:
        listener = held.enter_context(socket.socket())
        listener.bind(("127.0.0.1", 0))
        listener.listen(count + 16)  # the kernel completes them all without accept()
        sources = []
        for _ in range(count):
            client = held.enter_context(socket.create_connection(listener.getsockname(), timeout=5))
            sources.append(client.getsockname()[1])
        yield sources


@pytest.mark.parametrize("take_run", [
    pytest.param(allocator_run, id="devtools.ports"),
    pytest.param(bind_zero_run, id="bind-port-0", marks=pytest.mark.xfail(
        strict=True, reason="today's choice: its ports are in the range outgoing connections take theirs from")),
])
def test_no_outgoing_connection_can_hold_a_port_handed_out_for_a_server(take_run: Callable[[int], int]) -> None:
    low, high = ephemeral_range()
    with outgoing_burst(BURST) as sources:
        # The kernel's rule this rests on: an outgoing connection's port is from the ephemeral range.
        assert all(low <= port <= high for port in sources)
        ports = [port for _ in range(20) for first in [take_run(2)] for port in (first, first + 1)]
        in_range = sorted(port for port in ports if low <= port <= high)
        assert not in_range, (f"{len(in_range)} of {len(ports)} ports handed out are in the ephemeral range "
                              f"{low}-{high}, where {len(sources)} outgoing connections hold ports right now "
                              f"(e.g. {sorted(sources)[:5]}): any of them could be taken before its server starts")
        assert not set(ports) & set(sources)
        assert all(bindable(port) for port in ports)


def test_runs_are_consecutive_bindable_and_never_handed_out_twice_in_one_process(tmp_path: Path) -> None:
    low, high = ephemeral_range()
    allocator = PortAllocator(candidate_ports((low, high)), tmp_path / "locks")
    handed = []
    for _ in range(30):
        for first, length in zip(allocator.free_ports(2, 1, 3), (2, 1, 3)):
            handed.extend(range(first, first + length))
    assert len(handed) == len(set(handed)) == 30 * 6
    assert all(bindable(port) and not low <= port <= high for port in handed)


CHILD = """
import sys
from pathlib import Path
from devtools.ports import PortAllocator, candidate_ports, ephemeral_range
allocator = PortAllocator(candidate_ports(ephemeral_range()), Path(sys.argv[1]), start=0)
print(" ".join(str(first + i) for first in allocator.free_ports(*[2] * 20) for i in range(2)), flush=True)
sys.stdin.read()  # hold the ports until the test has heard from every process
"""


def test_processes_running_at_the_same_time_never_get_the_same_port(tmp_path: Path) -> None:
    # Every process starts its search at the same port: the worst case for the locks.
    processes = [subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path / "locks")], cwd=REPO,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for _ in range(4)]
    try:
        handed = [[int(port) for port in process.stdout.readline().split()] for process in processes]  # type: ignore[union-attr]
    finally:
        for process in processes:
            process.communicate(timeout=30)
    assert [len(ports) for ports in handed] == [40] * 4
    every = [port for ports in handed for port in ports]
    assert len(set(every)) == len(every)


def test_a_port_a_server_already_listens_on_is_skipped(tmp_path: Path) -> None:
    candidates = candidate_ports(ephemeral_range())
    busy = PortAllocator(candidates, tmp_path / "other-locks").free_ports(1)[0]
    with socket.socket() as server:  # not ours: no lock in our directory, only a listening socket
        server.bind(("127.0.0.1", busy))
        server.listen()
        allocator = PortAllocator(candidates, tmp_path / "locks", start=candidates.index(busy))
        first = allocator.free_ports(1)[0]
        assert first != busy and bindable(first)


def test_the_candidates_leave_out_the_ephemeral_range_whatever_it_is(tmp_path: Path) -> None:
    assert candidate_ports((32768, 60999)) == list(range(20000, 32000))
    assert candidate_ports((25000, 60999)) == list(range(20000, 25000))
    assert candidate_ports((15000, 25000)) == list(range(25001, 32000))
    # The whole preferred range is ephemeral: anything from 10000 up outside it.
    assert candidate_ports((10000, 40000)) == list(range(40001, 65536))
    assert candidate_ports((1024, 65535)) == []
    with pytest.raises(PortError, match="no 1 consecutive free ports"):
        PortAllocator([], tmp_path / "locks").free_ports(1)
    (tmp_path / "range").write_text("40000\t50000\n")
    assert ephemeral_range(tmp_path / "range") == (40000, 50000)
    assert ephemeral_range(tmp_path / "missing") == (32768, 65535)
