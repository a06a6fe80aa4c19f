"""deploy/compose.yaml: every service checked for health, only the gateway published,
every variable it sets read by someone, secrets only from env files."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from tests.deploy.deploy_support import (
    DEPLOY,
    DOCKERFILES,
    ENV_DIR,
    REPO_ROOT,
    compose,
    dockerfile_instructions,
    endpoint_variables,
    env_file_template,
    env_files_of,
    environment,
    long_running,
    services,
)

EXPECTED_SERVICES = {"postgres", "redis", "migrate", "actions", "rasa-1", "rasa-2", "gateway"}
# What each service's health check must exercise (the service's own health endpoint or tool).
HEALTH_PROBES = {
    "postgres": ["pg_isready"],
    "redis": ["redis-cli", "ping"],
    "actions": ["http://127.0.0.1:5055/health"],
    "rasa-1": ["http://127.0.0.1:5005/status?token=", "RASA_TOKEN", "model_file"],
    "rasa-2": ["http://127.0.0.1:5005/status?token=", "RASA_TOKEN", "model_file"],
    "gateway": ["http://127.0.0.1:8000", "/healthz", "/readyz"],
}
# Variables read by an official image's entry point, not by our code.
IMAGE_VARIABLES = {"POSTGRES_PASSWORD": "postgres image: the superuser's password"}
SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|KEYS?$|DATABASE_URL|TRACKER_URL|REDIS_URL")


def test_the_stack_has_every_service() -> None:
    assert set(services()) == EXPECTED_SERVICES


@pytest.mark.parametrize("name", sorted(EXPECTED_SERVICES))
def test_every_long_running_service_has_a_health_check_of_its_own_endpoint(name: str) -> None:
    service = services()[name]
    if not long_running(name, service):
        # A one-shot job: everything after it waits for its successful exit instead.
        dependants = [s for s in services().values() if name in (s.get("depends_on") or {})]
        assert dependants, f"nothing waits for the one-shot {name}"
        for dependant in dependants:
            assert dependant["depends_on"][name]["condition"] == "service_completed_successfully"
        return
    check = service.get("healthcheck")
    assert check and not check.get("disable"), f"{name} has no health check"
    command = " ".join(check["test"]) if isinstance(check["test"], list) else check["test"]
    for probe in HEALTH_PROBES[name]:
        assert probe in command, f"{name}'s health check does not use {probe!r}: {command}"
    assert check["test"][0] in ("CMD", "CMD-SHELL")


def test_dependants_wait_for_health_not_just_start() -> None:
    gateway = services()["gateway"]["depends_on"]
    for needed in ("actions", "rasa-1", "redis"):
        assert gateway[needed]["condition"] == "service_healthy"
    for replica in ("rasa-1", "rasa-2"):
        depends = services()[replica]["depends_on"]
        assert depends["postgres"]["condition"] == depends["redis"]["condition"] == "service_healthy"


def test_only_the_gateway_is_published_and_only_on_loopback() -> None:
    published = {name for name, s in services().items() if s.get("ports")}
    assert published == {"gateway"}
    for mapping in services()["gateway"]["ports"]:
        assert str(mapping).startswith("127.0.0.1:"), "the TLS proxy on the host forwards to loopback"
    for name, service in services().items():
        assert service.get("network_mode") != "host", name


def test_the_backend_network_is_internal_and_only_the_gateway_reaches_out() -> None:
    networks = compose()["networks"]
    assert networks["backend"]["internal"] is True
    for name, service in services().items():
        assert "backend" in service["networks"], name
        outside = set(service["networks"]) - {"backend"}
        if name == "gateway":
            assert outside == {"edge"}  # Telegram and Zalo's APIs
        else:
            assert not outside, f"{name} must not reach the internet"


def test_two_rasa_replicas_behind_the_gateways_failover_list() -> None:
    replicas = sorted(name for name in services() if name.startswith("rasa-"))
    assert len(replicas) >= 2
    urls = environment(services()["gateway"])["RASA_URLS"].split(",")
    assert urls == [f"http://{name}:5005" for name in replicas]
    # Same image, same configuration: a replica differs only by name.
    first, *others = (services()[name] for name in replicas)
    assert all(other == first for other in others)


def test_the_gateway_runs_two_workers() -> None:
    gateway = services()["gateway"]
    command = gateway.get("command") or next(
        i.arguments for i in dockerfile_instructions(DOCKERFILES["app"]) if i.keyword == "CMD")
    text = " ".join(command) if isinstance(command, list) else command
    assert re.search(r'"--workers",\s*"2"|--workers 2', text), text
    assert "bot.app:create_app" in text and "--no-access-log" in text


def test_the_action_server_and_rasa_find_each_other() -> None:
    rasa_env = environment(services()["rasa-1"])
    assert rasa_env["ACTION_SERVER_URL"] == "http://actions:5055/webhook"
    assert "5055" in " ".join(services()["actions"]["command"])


# ---- environment variables ----------------------------------------------------------------


def _reader_sources() -> str:
    """Every file that reads configuration: our settings, the actions, the engine package (plug-ins and launcher)."""
    files = [REPO_ROOT / "bot" / "settings.py",
             *sorted((REPO_ROOT / "actions").rglob("*.py")),
             *sorted((REPO_ROOT / "engine").rglob("*.py"))]
    return "\n".join(path.read_text(encoding="utf-8") for path in files if path.is_file())


def _is_read(name: str, sources: str) -> bool:
    if re.search(rf"""["']{name}["']""", sources):
        return True
    if name in endpoint_variables():  # Rasa substitutes these into its endpoints file
        return True
    script = (DEPLOY / "postgres" / "init-databases.sh").read_text(encoding="utf-8")
    if re.search(rf"\$\{{?{name}\b", script):
        return True
    # A container's own command reading it from its environment ($$ = a literal $ in Compose).
    commands = [" ".join(s.get("command") or []) + " ".join((s.get("healthcheck") or {}).get("test") or [])
                for s in services().values()]
    return any(f"$${name}" in command or f"$${{{name}}}" in command for command in commands)


def _set_variables() -> dict[str, set[str]]:
    """Variable name -> where it is set (compose `environment:` or an env file template)."""
    where: dict[str, set[str]] = {}
    for name, service in services().items():
        for variable in environment(service):
            where.setdefault(variable, set()).add(f"compose:{name}")
    for template in sorted(ENV_DIR.glob("*.env.example")):
        for variable in env_file_template(template.name.removesuffix(".env.example")):
            where.setdefault(variable, set()).add(template.name)
    return where


def test_every_variable_set_is_one_that_something_reads() -> None:
    sources = _reader_sources()
    unread = {name: sorted(places) for name, places in _set_variables().items()
              if name not in IMAGE_VARIABLES and not _is_read(name, sources)}
    assert not unread, f"set but read by nothing (typo, or a setting that does not exist): {unread}"


def test_secrets_only_come_from_env_files_never_from_the_compose_file() -> None:
    for name, service in services().items():
        for variable in environment(service):
            assert not SECRET_NAME.search(variable), f"{name} sets {variable} in compose.yaml: use its env file"
    for name, service in services().items():
        assert env_files_of(service), f"{name} reads no env file"


def test_every_endpoint_variable_reaches_rasa() -> None:
    rasa = services()["rasa-1"]
    provided = set(environment(rasa))
    for template in env_files_of(rasa):
        provided |= set(env_file_template(template))
    missing = endpoint_variables() - provided
    assert not missing, f"Rasa would refuse to start: {sorted(missing)} unset"


def test_production_secrets_are_in_the_app_env_file() -> None:
    app_template = env_file_template("app")
    for required in ("RASA_TOKEN", "CASE_ENCRYPTION_KEYS", "APP_DATABASE_URL", "KB_DATABASE_URL",
                     "RASA_TRACKER_URL", "REDIS_URL"):
        assert required in app_template
    for service in ("gateway", "actions", "migrate"):
        assert env_files_of(services()[service]) == ["app"]
        assert environment(services()[service])["BOT_ENV"] == "production"
    assert "RASA_TOKEN" in env_file_template("rasa") and "TRACKER_ENCRYPTION_KEYS" in env_file_template("rasa")


def _compose_command() -> list[str] | None:
    """`docker compose` (the plugin) or `docker-compose`, whichever this machine has."""
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    standalone = shutil.which("docker-compose")
    return [standalone] if standalone else None


def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    """Client-side validation by Compose itself (no Docker engine needed), when it is installed."""
    command = _compose_command()
    if command is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed; the tests above check the file")
    copy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, copy, ignore=shutil.ignore_patterns("*.env"))
    subprocess.run([str(copy / "generate-env.sh")], check=True, capture_output=True)
    result = subprocess.run([*command, "-f", str(copy / "compose.yaml"), "config", "--quiet"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
