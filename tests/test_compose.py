"""docker-compose.yml and the Dockerfile describe a stack that can actually run.

These tests read the files only; they need neither Docker nor the services."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from sqlalchemy.engine import make_url

from adapter.cli import main

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"

EXPECTED_SERVICES = {
    "postgres",
    "redis",
    "migrate",
    "demo",
    "billing-sim",
    "worker",
    "beat",
    "flower",
    "api",
    "notifications",
}
# Services that run Celery against the Redis broker.
CELERY_SERVICES = ("worker", "beat", "flower")
# Adapter services that keep no data in the store (the simulator has its own).
STORE_FREE = {"billing-sim"}
# Backing services and the port each one listens on in its official image.
BACKING_SERVICES = {"postgres": 5432, "redis": 6379}


def _services() -> dict[str, dict[str, Any]]:
    document = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    services: dict[str, dict[str, Any]] = document["services"]
    return services


SERVICES = _services()
ADAPTER_SERVICES = sorted(name for name in SERVICES if name not in BACKING_SERVICES)


def _words(command: str | list[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(w) for w in command]


def _container_ports(service: dict[str, Any]) -> set[int]:
    """Container ports a service publishes, from short ("5432:5432", "127.0.0.1:5432:5432")
    or long ({"target": 5432, "published": 5432}) syntax."""
    found: set[int] = set()
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            if entry.get("published") is not None:
                found.add(int(entry["target"]))
            continue
        parts = str(entry).split("/")[0].split(":")
        if len(parts) >= 2:
            found.add(int(parts[-1]))
    return found


def _depends_on(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    raw = service.get("depends_on", {})
    if isinstance(raw, list):
        return {name: {} for name in raw}
    return {name: (spec or {}) for name, spec in raw.items()}


def _environment(service: dict[str, Any]) -> dict[str, str]:
    raw = service.get("environment", {})
    if isinstance(raw, list):
        return dict(str(item).partition("=")[::2] for item in raw)
    return {str(k): str(v) for k, v in raw.items()}


def _resolve(words: list[str]) -> click.Command | None:
    """The click command that ``crm-adapter WORDS…`` runs, or None if there is none.

    Walks ``main.commands`` and each group's ``.commands`` by the words; flags given to a group
    (``-v``) are skipped; the walk ends at the first command that is not a group, whose own
    arguments follow."""
    current: click.Command = main
    for word in words:
        if not isinstance(current, click.Group):
            break
        if word.startswith("-"):
            continue
        child = current.commands.get(word)
        if child is None:
            return None
        current = child
    return None if isinstance(current, click.Group) else current


def test_expected_services_exist() -> None:
    """The stack has PostgreSQL, Redis, the schema migration, the demo, the billing
    simulator, Celery workers, beat, Flower and the CRM API."""
    assert set(SERVICES) >= EXPECTED_SERVICES


@pytest.mark.parametrize("name", sorted(BACKING_SERVICES))
def test_backing_service_uses_an_image(name: str) -> None:
    """PostgreSQL and Redis run from their official images, not from a build."""
    service = SERVICES[name]
    assert str(service.get("image", "")).startswith(f"{name}:")
    assert "build" not in service


@pytest.mark.parametrize(("name", "port"), sorted(BACKING_SERVICES.items()))
def test_backing_service_publishes_its_standard_port(name: str, port: int) -> None:
    """PostgreSQL is reachable on 5432 and Redis on 6379 from the host."""
    assert port in _container_ports(SERVICES[name])


@pytest.mark.parametrize("name", sorted(BACKING_SERVICES))
def test_backing_service_has_a_healthcheck(name: str) -> None:
    """Backing services say when they are ready, so dependants can wait for them."""
    assert SERVICES[name].get("healthcheck", {}).get("test")


@pytest.mark.parametrize("name", ADAPTER_SERVICES)
def test_adapter_service_is_built_from_the_project(name: str) -> None:
    """A service that runs the adapter uses the image built from this repository."""
    assert SERVICES[name].get("build")


@pytest.mark.parametrize("name", ADAPTER_SERVICES)
def test_adapter_service_runs_crm_adapter(name: str) -> None:
    """A service that runs the adapter starts the ``crm-adapter`` command."""
    command = SERVICES[name].get("command")
    assert command, f"{name} has no command"
    assert _words(command)[0] == "crm-adapter"


@pytest.mark.parametrize("name", ADAPTER_SERVICES)
def test_adapter_service_command_exists_in_the_cli(name: str) -> None:
    """Each adapter command names a real command of the ``crm-adapter`` click group."""
    words = _words(SERVICES[name]["command"])
    assert _resolve(words[1:]) is not None, f"{name}: {' '.join(words)} is not a CLI command"


def test_resolve_rejects_a_command_the_cli_lacks() -> None:
    """The command walk used above does not accept any words it is given."""
    assert _resolve(["no-such-command"]) is None
    assert _resolve(["users", "no-such-subcommand"]) is None
    assert _resolve(["db"]) is None  # a group alone runs nothing
    assert _resolve(["db", "upgrade"]) is not None


@pytest.mark.parametrize("name", [n for n in ADAPTER_SERVICES if n not in STORE_FREE])
def test_adapter_service_uses_the_compose_postgres(name: str) -> None:
    """Adapter services point CRM_DATABASE_URL at the postgres service, not at SQLite."""
    url = make_url(_environment(SERVICES[name])["CRM_DATABASE_URL"])
    assert url.get_backend_name() == "postgresql"
    assert url.host in SERVICES


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_depends_on_names_existing_services(name: str) -> None:
    """depends_on refers only to services defined in the same file."""
    assert set(_depends_on(SERVICES[name])) <= set(SERVICES)


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_waiting_for_health_needs_a_healthcheck(name: str) -> None:
    """A service that waits for another to be healthy waits for one that has a healthcheck."""
    for other, spec in _depends_on(SERVICES[name]).items():
        if spec.get("condition") == "service_healthy":
            assert SERVICES[other].get("healthcheck"), f"{name} waits on {other}'s health"


def test_demo_waits_for_the_migration_to_succeed() -> None:
    """The demo starts only after the schema migration has exited successfully."""
    spec = _depends_on(SERVICES["demo"]).get("migrate", {})
    assert spec.get("condition") == "service_completed_successfully"


def test_dockerfile_installs_the_project() -> None:
    """The image copies the repository and pip-installs it, which provides ``crm-adapter``."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^COPY\s+\.\s", text, re.MULTILINE)
    assert re.search(r"^RUN\s+pip install\b[^\n]*\s\.(\s|$)", text, re.MULTILINE)


def test_dockerfile_runs_as_a_non_root_user() -> None:
    """The container's processes do not run as root."""
    users = re.findall(r"^USER\s+(\S+)", DOCKERFILE.read_text(encoding="utf-8"), re.MULTILINE)
    assert users
    assert users[-1] not in {"root", "0"}


def test_billing_simulator_listens_on_all_interfaces_on_its_published_port() -> None:
    """Inside a container, 127.0.0.1 would be unreachable from the other services."""
    words = _words(SERVICES["billing-sim"]["command"])
    port = int(words[words.index("--port") + 1])
    assert words[words.index("--host") + 1] == "0.0.0.0"  # noqa: S104 - what is checked
    assert port in _container_ports(SERVICES["billing-sim"])


def test_billing_simulator_keeps_its_state_in_a_volume() -> None:
    words = _words(SERVICES["billing-sim"]["command"])
    data_dir = words[words.index("--data-dir") + 1]
    mounts = [str(v).split(":") for v in SERVICES["billing-sim"].get("volumes", [])]
    assert any(target == data_dir for _, target, *_ in mounts)


def test_billing_simulator_has_a_healthcheck_on_its_health_endpoint() -> None:
    check = " ".join(SERVICES["billing-sim"]["healthcheck"]["test"])
    assert "/admin/health" in check


def test_the_image_finds_the_wsdl_and_mappings_it_copies() -> None:
    """``pip install .`` leaves wsdl/ and mappings/ behind in /app: CRM_HOME points there."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    home = re.search(r"^ENV CRM_HOME=(\S+)", text, re.MULTILINE)
    copied = re.search(r"^COPY \. (\S+)", text, re.MULTILINE)
    assert home and copied and home.group(1) == copied.group(1)
    assert (ROOT / "wsdl" / "cil.wsdl").is_file() and (ROOT / "mappings" / "enums.yaml").is_file()


def test_crm_home_moves_the_data_folders(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "from adapter import paths; print(paths.CIL_WSDL)"],
        env={**os.environ, "CRM_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == str(tmp_path / "wsdl" / "cil.wsdl")


@pytest.mark.parametrize("name", CELERY_SERVICES)
def test_celery_service_uses_the_compose_redis_as_broker(name: str) -> None:
    """Workers, beat and Flower share the Redis service as broker (not the embedded one,
    which would be a separate folder in each container)."""
    url = _environment(SERVICES[name])["CRM_BROKER_URL"]
    assert url.startswith("redis://")
    assert url.split("://", 1)[1].split(":")[0].split("/")[0] == "redis"


@pytest.mark.parametrize("name", CELERY_SERVICES)
def test_celery_service_waits_for_redis_to_be_healthy(name: str) -> None:
    spec = _depends_on(SERVICES[name]).get("redis", {})
    assert spec.get("condition") == "service_healthy"


@pytest.mark.parametrize("name", ["worker", "beat"])
def test_workers_wait_for_the_migration_to_succeed(name: str) -> None:
    """Tasks write to the store: they start once the schema is in place."""
    spec = _depends_on(SERVICES[name]).get("migrate", {})
    assert spec.get("condition") == "service_completed_successfully"


def test_flower_publishes_5555_and_listens_on_all_interfaces() -> None:
    words = _words(SERVICES["flower"]["command"])
    assert words[1] == "flower"
    assert int(words[words.index("--port") + 1]) == 5555
    assert words[words.index("--address") + 1] == "0.0.0.0"  # noqa: S104 - what is checked
    assert 5555 in _container_ports(SERVICES["flower"])


def test_flower_has_a_healthcheck_on_its_health_endpoint() -> None:
    check = " ".join(SERVICES["flower"]["healthcheck"]["test"])
    assert "5555/healthcheck" in check


def test_worker_healthcheck_pings_its_own_node() -> None:
    """The worker's node name carries the container's host name, which its health check
    asks for, so one worker's health is not answered by another."""
    words = _words(SERVICES["worker"]["command"])
    node = words[words.index("--hostname") + 1]
    check = " ".join(SERVICES["worker"]["healthcheck"]["test"])
    assert node.endswith("@%h")
    assert f"--destination {node.replace('%h', '$$HOSTNAME')}" in check
    assert "celery -A workers.app inspect ping" in check


# ---------------------------------------------------------------------------- the API


def test_api_serves_on_all_interfaces_on_its_published_port() -> None:
    """``crm-adapter serve`` on 0.0.0.0:8080 (127.0.0.1 would be unreachable from outside
    the container), and 8080 is published."""
    words = _words(SERVICES["api"]["command"])
    assert words[1] == "serve"
    assert words[words.index("--host") + 1] == "0.0.0.0"  # noqa: S104 - what is checked
    assert int(words[words.index("--port") + 1]) == 8080
    assert 8080 in _container_ports(SERVICES["api"])


def test_api_uses_the_same_image_as_the_workers() -> None:
    """One image runs every adapter part: the API is built like the worker."""
    api, worker = SERVICES["api"], SERVICES["worker"]
    assert (api.get("build"), api.get("image")) == (worker.get("build"), worker.get("image"))


def test_api_waits_for_the_store_the_broker_and_the_migration() -> None:
    """The API reads and writes the store (migrated first) and sends the billing sync of
    its writes to the broker."""
    needs = _depends_on(SERVICES["api"])
    assert needs.get("postgres", {}).get("condition") == "service_healthy"
    assert needs.get("redis", {}).get("condition") == "service_healthy"
    assert needs.get("migrate", {}).get("condition") == "service_completed_successfully"


def test_api_sends_its_sync_to_the_compose_redis() -> None:
    url = _environment(SERVICES["api"])["CRM_BROKER_URL"]
    assert url.split("://", 1)[1].split(":")[0].split("/")[0] == "redis"


def test_api_has_a_healthcheck_on_its_health_endpoint() -> None:
    """The health check asks the API's own /health (no token needed) on its port."""
    check = " ".join(str(w) for w in SERVICES["api"]["healthcheck"]["test"])
    assert "127.0.0.1:8080/health" in check


# ---------------------------------------------------------------------------- push endpoint


def test_push_endpoint_serves_on_all_interfaces_on_its_published_port() -> None:
    """``crm-adapter notifications serve`` on 0.0.0.0:8089, published: billing reaches it
    from outside the container."""
    words = _words(SERVICES["notifications"]["command"])
    assert words[1:3] == ["notifications", "serve"]
    assert words[words.index("--host") + 1] == "0.0.0.0"  # noqa: S104 - what is checked
    assert int(words[words.index("--port") + 1]) == 8089
    assert 8089 in _container_ports(SERVICES["notifications"])


def test_push_endpoint_stores_in_postgres_and_enqueues_on_redis() -> None:
    """Events are stored in the compose PostgreSQL before the acknowledgement, then sent to
    the workers through the compose Redis; it waits for both and for the migration."""
    env = _environment(SERVICES["notifications"])
    assert "@postgres:" in env["CRM_DATABASE_URL"]
    assert env["CRM_BROKER_URL"].startswith("redis://redis:")
    needs = _depends_on(SERVICES["notifications"])
    assert needs.get("migrate", {}).get("condition") == "service_completed_successfully"
    assert needs.get("redis", {}).get("condition") == "service_healthy"


def test_push_endpoint_has_a_healthcheck_on_its_health_endpoint() -> None:
    check = " ".join(str(w) for w in SERVICES["notifications"]["healthcheck"]["test"])
    assert "127.0.0.1:8089/health" in check


def test_redis_keeps_queued_messages_across_a_restart() -> None:
    """Append-only persistence on a volume: a message no worker has taken yet survives a
    restart of the broker."""
    redis = SERVICES["redis"]
    assert "--appendonly yes" in " ".join(_words(redis["command"]))
    assert any(str(v).endswith(":/data") for v in redis.get("volumes", []))
