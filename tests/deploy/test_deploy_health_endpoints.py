"""The endpoints the compose health checks call exist in the code each service runs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.deploy.deploy_support import REPO_ROOT, engine_python

from bot.app import create_app
from bot.settings import load_settings


def test_the_gateway_serves_liveness_and_readiness(tmp_path: Path) -> None:
    app = create_app(load_settings({"DATA_DIR": str(tmp_path), "RASA_TOKEN": "x" * 40}))
    paths = {getattr(route, "path", None) for route in app.routes}
    assert {"/healthz", "/readyz"} <= paths


def test_the_action_server_serves_health() -> None:
    from rasa_sdk.endpoint import create_app as create_action_app
    from rasa_sdk.executor import ActionExecutor

    app = create_action_app(ActionExecutor())
    assert "/health" in {"/" + route.path.strip("/") for route in app.router.routes}


def test_rasa_serves_status_and_root() -> None:
    script = ("import json\nfrom rasa.server import create_app\n"
              "app = create_app(auth_token='t' * 40)\n"
              "print(json.dumps(sorted('/' + r.path.strip('/') for r in app.router.routes)))\n")
    result = subprocess.run([engine_python(), "-c", script], capture_output=True, text=True, cwd=REPO_ROOT,
                            timeout=180, env={"RASA_TELEMETRY_ENABLED": "false", "PATH": "/usr/bin:/bin",
                                              "HOME": str(Path.home())})
    assert result.returncode == 0, result.stderr[-2000:]
    paths = set(json.loads(result.stdout.strip().splitlines()[-1]))
    assert {"/", "/status"} <= paths
