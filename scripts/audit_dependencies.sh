#!/usr/bin/env bash
# Dependency audit: both lock files against PyPI's vulnerability advisories.
# Needs the network; exit 0 clean, 1 findings, 2 could not check. Never part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 scripts/audit_dependencies.py requirements/app.lock requirements/engine.lock \
    --allowlist requirements/audit-allowlist.txt "$@"
