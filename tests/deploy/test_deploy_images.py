"""deploy/*.Dockerfile: built from the lock files the way scripts/setup_env.sh builds the
environments, copy only files that exist, run as a non-root user, bake in no secret."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tests.deploy.deploy_support import DEPLOY, DOCKERFILES, REPO_ROOT, copy_sources, dockerfile_instructions, engine_python

SETUP_ENV = (REPO_ROOT / "scripts" / "setup_env.sh").read_text(encoding="utf-8")


def _runs(kind: str) -> str:
    return "\n".join(i.arguments for i in dockerfile_instructions(DOCKERFILES[kind]) if i.keyword == "RUN")


@pytest.mark.parametrize("kind", sorted(DOCKERFILES))
def test_every_copied_file_exists(kind: str) -> None:
    copies = [i for i in dockerfile_instructions(DOCKERFILES[kind]) if i.keyword in ("COPY", "ADD")]
    assert copies
    for instruction in copies:
        assert instruction.keyword == "COPY", "ADD may fetch URLs; COPY only copies"
        for source in copy_sources(instruction):
            assert (REPO_ROOT / source).exists(), f"{DOCKERFILES[kind].name}: {source} does not exist"


@pytest.mark.parametrize("kind", sorted(DOCKERFILES))
def test_installs_exactly_the_lock_like_setup_env(kind: str) -> None:
    instructions = dockerfile_instructions(DOCKERFILES[kind])
    copied = [s for i in instructions if i.keyword == "COPY" for s in copy_sources(i)]
    assert f"requirements/{kind}.lock" in copied
    runs = _runs(kind)
    assert re.search(rf"pip install [^\n]*--no-deps[^\n]*-r /tmp/{kind}.lock", runs), runs
    assert "--no-deps" in SETUP_ENV and '"pip<25"' in SETUP_ENV and '"pip<25"' in runs
    if kind == "engine":
        assert "--ignore-requires-python" in SETUP_ENV and "--ignore-requires-python" in runs
    base = next(i.arguments for i in instructions if i.keyword == "FROM")
    assert base.startswith("python:3.11"), "the locks are made for Python 3.11"


def test_the_app_image_holds_every_module_the_gateway_and_the_action_server_import(tmp_path: Path) -> None:
    """Only what app.Dockerfile copies, and the app environment: every module of `actions`
    (loaded by the action server) and the gateway's app import there."""
    for instruction in dockerfile_instructions(DOCKERFILES["app"]):
        if instruction.keyword != "COPY":
            continue
        for source in copy_sources(instruction):
            if source.startswith("requirements/"):
                continue
            target = tmp_path / source
            target.parent.mkdir(parents=True, exist_ok=True)
            if (REPO_ROOT / source).is_dir():
                shutil.copytree(REPO_ROOT / source, target, dirs_exist_ok=True)
            else:
                shutil.copy2(REPO_ROOT / source, target)
    script = ("import importlib, pkgutil, actions\n"
              "for m in pkgutil.walk_packages(actions.__path__, 'actions.'):\n"
              "    importlib.import_module(m.name)\n"
              "import bot.app\n"
              "from nlu.moments import find_moment\n"
              "assert find_moment('bạn có giữ bí mật không') is not None\n"
              "print('OK')\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and "OK" in result.stdout, result.stderr[-2000:]


def test_the_engine_image_deletes_rasas_keys_and_disables_telemetry() -> None:
    assert "rm -f /opt/engine/lib/python3.11/site-packages/rasa/keys" in _runs("engine")
    assert "rasa/keys" in SETUP_ENV  # the same step as the development environment
    env = " ".join(i.arguments for i in dockerfile_instructions(DOCKERFILES["engine"]) if i.keyword == "ENV")
    assert "RASA_TELEMETRY_ENABLED=false" in env and "DO_NOT_TRACK=1" in env
    assert "rasa telemetry disable" in _runs("engine")


@pytest.mark.parametrize("kind", sorted(DOCKERFILES))
def test_runs_as_a_non_root_user(kind: str) -> None:
    instructions = dockerfile_instructions(DOCKERFILES[kind])
    users = [(n, i.arguments) for n, i in enumerate(instructions) if i.keyword == "USER"]
    assert users and users[-1][1] not in ("root", "0")
    last_user_at = users[-1][0]
    starts = [n for n, i in enumerate(instructions) if i.keyword in ("CMD", "ENTRYPOINT")]
    assert starts and min(starts) > last_user_at


@pytest.mark.parametrize("kind", sorted(DOCKERFILES))
def test_no_secret_is_baked_into_an_image(kind: str) -> None:
    for instruction in dockerfile_instructions(DOCKERFILES[kind]):
        if instruction.keyword in ("ENV", "ARG"):
            assert not re.search(r"TOKEN|SECRET|PASSWORD|_KEYS?\b|DATABASE_URL|REDIS_URL", instruction.arguments), \
                instruction
        if instruction.keyword == "COPY":
            assert not any(".env" in source or "secrets" in source for source in copy_sources(instruction))
    ignore = (DEPLOY / f"{kind}.Dockerfile.dockerignore").read_text(encoding="utf-8").split()
    for kept_out in ("var", "models", ".git", "deploy/env/*.env", ".env"):
        assert kept_out in ignore


def test_the_gateway_command_matches_the_stacks() -> None:
    """The image starts the gateway as devtools/stack.py does, with two workers."""
    command = next(i.arguments for i in dockerfile_instructions(DOCKERFILES["app"]) if i.keyword == "CMD")
    stack = (REPO_ROOT / "devtools" / "stack.py").read_text(encoding="utf-8")
    for part in ('"uvicorn"', '"--factory"', '"bot.app:create_app"', '"--no-access-log"'):
        assert part in command and part in stack


def test_the_rasa_launcher_refuses_to_start_without_a_token() -> None:
    env = {k: v for k, v in os.environ.items() if k != "RASA_TOKEN"}
    result = subprocess.run([engine_python(), str(REPO_ROOT / "engine" / "launch.py"), "run"], capture_output=True,
                            text=True, env={**env, "PYTHONPATH": str(REPO_ROOT)}, timeout=60)
    assert result.returncode != 0
    assert "RASA_TOKEN is not set" in result.stderr


def test_the_rasa_launcher_hands_rasa_the_token_and_hides_it_from_children() -> None:
    # `rasa run --help` parses our arguments (--auth-token included) without loading a model.
    token = "-starts-with-a-dash-" + "x" * 24
    script = ("import os, runpy, sys\n"
              "sys.argv = [sys.argv[1], 'run', '--help']\n"
              "try:\n    runpy.run_path(sys.argv[0], run_name='__main__')\n"
              "except SystemExit:\n    pass\n"
              "print('ARGV', sys.argv[1:])\n"
              "print('TOKEN-LEFT' if 'RASA_TOKEN' in os.environ else 'TOKEN-GONE')\n")
    result = subprocess.run([engine_python(), "-c", script, str(REPO_ROOT / "engine" / "launch.py")], capture_output=True,
                            text=True, env={**os.environ, "RASA_TOKEN": token, "PYTHONPATH": str(REPO_ROOT),
                                            "RASA_TELEMETRY_ENABLED": "false"}, timeout=120)
    # One argument, `--auth-token=<token>`: a token starting with "-" is not taken for an option.
    assert f"ARGV ['run', '--help', '--auth-token={token}']" in result.stdout, result.stderr[-2000:]
    assert result.stdout.strip().endswith("TOKEN-GONE")
