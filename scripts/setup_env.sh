#!/usr/bin/env bash
# Create (once) the virtual environment for one of our two Python environments
# and print its python's path on stdout.
#
#   scripts/setup_env.sh engine   # Rasa 3.6.21 (declares Python <3.11; runs on 3.11)
#   scripts/setup_env.sh app      # action server, knowledge base, gateway, tests
#   scripts/setup_env.sh --path engine   # only print where it would be
#
# Each environment lives outside the work tree, keyed by the hash of its lock
# file, so a fresh clone with the same lock reuses it and a changed lock gets a
# new one. Installs are from the pinned lock with --no-deps: the lock is the
# whole truth (Rasa's own metadata cannot be resolved on Python 3.11).
set -euo pipefail

only_path=false
if [ "${1:-}" = "--path" ]; then only_path=true; shift; fi
kind=${1:?usage: setup_env.sh [--path] engine|app}
case "$kind" in engine|app) ;; *) echo "unknown environment: $kind" >&2; exit 2 ;; esac

root=$(cd "$(dirname "$0")/.." && pwd)
lock="$root/requirements/$kind.lock"
home=${TRE_EM_VENV_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/tre-em}
venv="$home/$kind-$(sha256sum "$lock" | cut -c1-12)"

if $only_path || [ -f "$venv/.complete" ]; then
  echo "$venv/bin/python"
  exit 0
fi

mkdir -p "$home"
# Two `make` commands started together (make run in one terminal, make test in another)
# would both build the same environment, each deleting the other's half-built one: the
# second waits here for the first, then finds the environment complete.
exec 9>"$venv.lock"
flock 9
if [ -f "$venv/.complete" ]; then
  echo "$venv/bin/python"
  exit 0
fi

"$root/scripts/install_system_packages.sh" "$kind" >&2

python=${PYTHON:-python3.11}
command -v "$python" >/dev/null || python=python3
"$python" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' \
  || { echo "Python 3.11 is required (found $("$python" --version))" >&2; exit 1; }

echo "Creating the $kind environment in $venv (first time only) ..." >&2
# An interrupted install leaves no .complete marker and is rebuilt from scratch.
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "pip<25" >&2
flags=(--no-deps --disable-pip-version-check --quiet)
# rasa and rasa-sdk 3.6 declare Requires-Python <3.11; nothing else in the lock needs this.
if [ "$kind" = engine ]; then flags+=(--ignore-requires-python); fi
"$venv/bin/python" -m pip install "${flags[@]}" -r "$lock" >&2
if [ "$kind" = engine ]; then
  # Rasa ships Segment and Sentry write keys in rasa/keys and initialises Sentry on
  # every CLI command whether telemetry is enabled or not. Without the file neither
  # can send anything (tests/engine/test_no_telemetry.py checks this).
  rm -f "$venv"/lib/python3.11/site-packages/rasa/keys
fi
touch "$venv/.complete"
echo "$venv/bin/python"
