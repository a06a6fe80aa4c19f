#!/usr/bin/env bash
# Rasa reads RASA_TELEMETRY_ENABLED (set by the Makefile and devtools/stack.py)
# and, failing that, its global config file. Turn the config off too, so a
# Rasa command started by hand does not phone home either.
set -euo pipefail
engine_python=${1:?engine python}
config="$HOME/.config/rasa/global.yml"
if [ -f "$config" ] && grep -A2 '^metrics:' "$config" | grep -q 'enabled: false'; then
  exit 0
fi
RASA_TELEMETRY_ENABLED=false "$engine_python" -m rasa telemetry disable >/dev/null
