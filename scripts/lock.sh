#!/usr/bin/env bash
# Rebuild requirements/*.lock from requirements/*.in in throw-away venvs.
# Rasa and its rasa-sdk 3.6 are added with --no-deps (they declare Python <3.11).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
header() { echo "# Generated from $1.in by 'make lock' (pip freeze of a clean install). Installed with --no-deps${2:-}."; }

python3.11 -m venv "$work/engine"
"$work/engine/bin/pip" install -q --upgrade "pip<25"
"$work/engine/bin/pip" install -q -r "$root/requirements/engine.in"
"$work/engine/bin/pip" install -q --ignore-requires-python --no-deps rasa==3.6.21 rasa-sdk==3.6.2
{ header engine " --ignore-requires-python"; "$work/engine/bin/pip" freeze --all | grep -v '^pip=='; } > "$root/requirements/engine.lock"

python3.11 -m venv "$work/app"
"$work/app/bin/pip" install -q --upgrade "pip<25"
"$work/app/bin/pip" install -q -r "$root/requirements/app.in"
{ header app; "$work/app/bin/pip" freeze --all | grep -v '^pip=='; } > "$root/requirements/app.lock"
echo "Locks written; commit requirements/*.lock."
