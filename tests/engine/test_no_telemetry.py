"""A children's service sends nothing to third parties: Rasa's telemetry
(Segment) and error reporting (Sentry) must be impossible, not just off."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import rasa.telemetry

ROOT = Path(__file__).resolve().parents[2]


def test_the_environment_switches_telemetry_off():
    # The Makefile exports it to every process; devtools/stack.py sets it too.
    assert os.environ.get("RASA_TELEMETRY_ENABLED") == "false"
    assert rasa.telemetry.is_telemetry_enabled() is False


def test_the_user_config_switches_telemetry_off_too():
    # `make setup` runs `rasa telemetry disable`, so a Rasa command started by
    # hand without our environment stays quiet as well.
    env = {k: v for k, v in os.environ.items() if k != "RASA_TELEMETRY_ENABLED"}
    code = "import rasa.telemetry as t; print(t.is_telemetry_enabled())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_no_write_keys_ship_with_the_engine():
    # Rasa initialises Sentry on every CLI command, telemetry or not, using the
    # DSN in rasa/keys; setup removes that file so there is nothing to send to.
    assert rasa.telemetry.sentry_write_key() is None
    assert rasa.telemetry.telemetry_write_key() is None


def test_error_reporting_initialisation_sets_up_no_sentry_client():
    import sentry_sdk

    rasa.telemetry.initialize_error_reporting()
    assert sentry_sdk.Hub.current.client is None
