"""Reading deploy/ the way Docker would: the compose file, the Dockerfiles, the env file templates."""

from __future__ import annotations

import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = REPO_ROOT / "deploy"
COMPOSE_FILE = DEPLOY / "compose.yaml"
ENDPOINTS_FILE = DEPLOY / "endpoints.production.yml"
ENV_DIR = DEPLOY / "env"
DOCKERFILES = {"engine": DEPLOY / "engine.Dockerfile", "app": DEPLOY / "app.Dockerfile"}


def compose() -> dict[str, Any]:
    """The compose file with YAML merge keys (<<) resolved, as Compose resolves them."""
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's `environment:` (map or list form) as a dict."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def env_file_template(name: str) -> dict[str, str]:
    """deploy/env/<name>.env.example as name -> value (comments and blank lines skipped)."""
    values: dict[str, str] = {}
    for line in (ENV_DIR / f"{name}.env.example").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def env_files_of(service: dict[str, Any]) -> list[str]:
    """The template names (`rasa`, `app`, ...) of a service's env_file entries."""
    files = service.get("env_file") or []
    files = [files] if isinstance(files, str) else files
    names = []
    for entry in files:
        path = entry["path"] if isinstance(entry, dict) else entry
        names.append(Path(path).name.removesuffix(".env"))
    return names


def long_running(name: str, service: dict[str, Any]) -> bool:
    return str(service.get("restart", "")) != "no"


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


def dockerfile_instructions(path: Path) -> list[Instruction]:
    """Instructions with continuation lines joined and comments dropped."""
    joined: list[str] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        joined.append(pending + stripped)
        pending = ""
    if pending:
        joined.append(pending)
    return [Instruction(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
            for line in joined]


def copy_sources(instruction: Instruction) -> list[str]:
    """The source paths of a COPY instruction (JSON or shell form, no --from)."""
    arguments = instruction.arguments
    words = yaml.safe_load(arguments) if arguments.startswith("[") else shlex.split(arguments)
    words = [w for w in words if not w.startswith("--")]
    return words[:-1]


ENV_REFERENCE = re.compile(r"\$\{([A-Z0-9_]+)\}")


def endpoint_variables() -> set[str]:
    """The ${VAR} Rasa substitutes into the endpoints file (comments excluded)."""
    lines = (line.split("#", 1)[0] for line in ENDPOINTS_FILE.read_text(encoding="utf-8").splitlines())
    return set(ENV_REFERENCE.findall("\n".join(lines)))


def engine_python() -> str:
    found = subprocess.run([str(REPO_ROOT / "scripts" / "setup_env.sh"), "--path", "engine"],
                           capture_output=True, text=True, check=True)
    return found.stdout.strip()
