"""Check the pinned dependencies against known vulnerabilities (PyPI's advisory data, from OSV).

    scripts/audit_dependencies.sh                 # both lock files, the allow-list in requirements/
    <python> scripts/audit_dependencies.py requirements/app.lock --allowlist requirements/audit-allowlist.txt

For every `name==version` line of the lock files it asks PyPI's JSON API
(`https://pypi.org/pypi/<name>/<version>/json`, field `vulnerabilities`: the same
data pip-audit's default service uses). Standard library only, so it runs in
either environment without installing anything.

Exit status: 0 no finding outside the allow-list; 1 findings to look at; 2 the
check could not be completed (network, PyPI down): reported as such, never as
"no vulnerabilities". Tests never call it: it needs the network.

Allow-list (requirements/audit-allowlist.txt), one accepted finding a line, with its reason:

    GHSA-xxxx-xxxx-xxxx  package-name  # why it does not affect us, who decided, until when
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

PYPI = "https://pypi.org/pypi/{name}/{version}/json"
PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;#]+)")


@dataclass(frozen=True)
class Finding:
    package: str
    version: str
    vuln_id: str
    aliases: tuple[str, ...]
    fixed_in: tuple[str, ...]
    summary: str


def pins(lock: Path) -> list[tuple[str, str]]:
    found = []
    for line in lock.read_text(encoding="utf-8").splitlines():
        match = PIN.match(line)
        if match:
            found.append((match.group(1).lower(), match.group(2)))
    return found


def load_allowlist(path: Path) -> dict[tuple[str, str], str]:
    """{(vulnerability id, package): reason}. A line without a reason is an error."""
    allowed: dict[tuple[str, str], str] = {}
    if not path.exists():
        return allowed
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        entry, _, reason = line.partition("#")
        parts = entry.split()
        if len(parts) != 2 or not reason.strip():
            raise SystemExit(f"{path}:{number}: expected '<vulnerability id> <package>  # reason'")
        allowed[(parts[0].upper(), parts[1].lower())] = reason.strip()
    return allowed


def check(name: str, version: str, timeout: float) -> list[Finding]:
    request = urllib.request.Request(PYPI.format(name=name, version=version),
                                     headers={"User-Agent": "child-safety-bot-audit/1"})
    # Any error, 404 included (a mirror or proxy without the per-version endpoint), is
    # "could not check": the lock files hold only packages published on PyPI.
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (fixed https URL)
        data = json.load(response)
    return [
        Finding(name, version, str(v.get("id", "")).upper(), tuple(a.upper() for a in v.get("aliases") or ()),
                tuple(v.get("fixed_in") or ()), " ".join(str(v.get("summary") or v.get("details") or "").split())[:160])
        for v in data.get("vulnerabilities") or () if not v.get("withdrawn")
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("locks", nargs="+", type=Path)
    parser.add_argument("--allowlist", type=Path, default=Path("requirements/audit-allowlist.txt"))
    parser.add_argument("--timeout", type=float, default=15.0)
    args = parser.parse_args(argv)

    allowed = load_allowlist(args.allowlist)
    packages = sorted({pin for lock in args.locks for pin in pins(lock)})
    findings: list[Finding] = []
    unreachable: list[str] = []

    def one(pin: tuple[str, str]) -> tuple[tuple[str, str], list[Finding] | Exception]:
        try:
            return pin, check(*pin, timeout=args.timeout)
        except Exception as error:  # noqa: BLE001 (reported below, never hidden)
            return pin, error

    with ThreadPoolExecutor(max_workers=8) as pool:
        for (name, version), result in pool.map(one, packages):
            if isinstance(result, Exception):
                unreachable.append(f"{name}=={version}: {result}")
            else:
                findings.extend(result)

    accepted, open_ = [], []
    for f in findings:
        ids = (f.vuln_id, *f.aliases)
        reason = next((allowed[(i, f.package)] for i in ids if (i, f.package) in allowed), None)
        (accepted if reason else open_).append((f, reason))

    print(f"Checked {len(packages) - len(unreachable)} of {len(packages)} pinned packages "
          f"({', '.join(str(lock) for lock in args.locks)}) against PyPI's advisories.")
    for f, reason in accepted:
        print(f"  accepted  {f.package}=={f.version}  {f.vuln_id}: {reason}")
    for f, _ in open_:
        fixed = ", ".join(f.fixed_in) or "no fixed version listed"
        print(f"  FINDING   {f.package}=={f.version}  {f.vuln_id} ({', '.join(f.aliases) or '-'}); "
              f"fixed in: {fixed}. {f.summary}")
    stale = set(allowed) - {(i, f.package) for f, _ in accepted for i in (f.vuln_id, *f.aliases)}
    for vuln_id, package in sorted(stale):
        print(f"  note      allow-list entry {vuln_id} {package} matched nothing: remove it?")
    if unreachable:
        print(f"COULD NOT CHECK {len(unreachable)} package(s); the result is incomplete:")
        for line in unreachable[:10]:
            print(f"  {line}")
        return 2
    if open_:
        print(f"{len(open_)} finding(s) to fix or to accept in {args.allowlist} with a reason.")
        return 1
    print("No findings outside the allow-list.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
