"""Network guard for tests: every Python process started with this directory
on PYTHONPATH and NETGUARD_LOG set refuses, and records, any attempt to open a
connection or resolve a name outside the loopback range.

Python imports `sitecustomize` at start-up, so the Rasa server, the action
server and the gateway started by the end-to-end tests are all covered
without touching their code. The tests then assert the log is empty.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys

LOG = os.environ.get("NETGUARD_LOG")
# "record": note the attempt and let it fail on its own (used for the whole
# `make test` run, so the guard cannot change what a test observes); anything
# else: refuse it too (the end-to-end stacks).
RECORD_ONLY = os.environ.get("NETGUARD_MODE") == "record"
# The machine's own name resolves from /etc/hosts and leaves nothing.
LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback",
               socket.gethostname().lower()}


def _is_local_host(host) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    host = str(host).strip("[]")
    if host.lower() in LOCAL_NAMES or host == "":
        return True
    try:
        address = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False  # a name other than localhost: resolving it is already leaving the machine
    return address.is_loopback or address.is_unspecified


def _is_address_literal(host) -> bool:
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    try:
        ipaddress.ip_address(str(host).strip("[]").split("%")[0])
    except ValueError:
        return False
    return True


def _record(what: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(LOG)), exist_ok=True)
    with open(LOG, "a", encoding="utf-8") as log:
        log.write(f"{os.getpid()} {' '.join(sys.argv[:2])}: {what}\n")


def _audit(event: str, args) -> None:
    if event == "socket.connect":
        sock, address = args
        if getattr(sock, "family", None) in (socket.AF_INET, socket.AF_INET6):
            if not _is_local_host(address[0]):
                _record(f"connect {address!r}")
                if RECORD_ONLY:
                    return
                raise PermissionError(f"netguard: connection to {address!r} refused")
    elif event == "socket.getaddrinfo":
        host = args[0]
        # An address literal resolves without the network; its connect is checked above.
        if not _is_local_host(host) and not _is_address_literal(host):
            _record(f"getaddrinfo {host!r}")
            if RECORD_ONLY:
                return
            raise socket.gaierror(socket.EAI_NONAME, f"netguard: name lookup of {host!r} refused")


if LOG:
    sys.addaudithook(_audit)
