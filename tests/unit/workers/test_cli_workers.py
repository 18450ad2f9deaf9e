"""``crm-adapter worker|beat|flower``: what each hands to Celery, and what it refuses.

Celery itself is not run: ``WorkerApp.start`` is replaced by a recorder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from adapter.cli import main
from adapter.cli_workers import safe_url
from adapter.settings import get_settings
from workers.app import WorkerApp
from workers.config import QUEUES


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in list(os.environ):
        if name.upper().startswith("CRM_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CRM_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The argv of every Celery command started; each "exits" with code 0."""
    calls: list[list[str]] = []

    def record(_app: WorkerApp, argv: list[str]) -> int:
        calls.append(argv)
        return 0

    monkeypatch.setattr(WorkerApp, "start", record)
    return calls


def _run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def test_worker_takes_every_queue_by_default(started: list[list[str]]) -> None:
    """One worker does every kind of work unless told otherwise, at the settings' level."""
    done = _run("worker")
    assert done.exit_code == 0, done.output
    assert started == [
        [
            "worker",
            f"--queues={','.join(QUEUES)}",
            "--loglevel=INFO",
            "--pool=prefork",
        ]
    ]


def test_worker_options_reach_celery(started: list[list[str]]) -> None:
    """Queues, concurrency and node name are passed on as Celery options."""
    done = _run("worker", "--queues", "crm.sync, crm.events", "-c", "3", "-n", "a@%h")
    assert done.exit_code == 0, done.output
    assert started[0][1] == "--queues=crm.sync,crm.events"
    assert started[0][-2:] == ["--concurrency=3", "--hostname=a@%h"]


def test_worker_refuses_an_unknown_queue(started: list[list[str]]) -> None:
    """A misspelt queue would be a worker waiting on a queue nobody sends to."""
    done = _run("worker", "--queues", "crm.request")
    assert done.exit_code == 2
    assert "crm.request: the queues are crm.requests" in done.output
    assert started == []


def test_celery_exit_code_is_the_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker that stops on an unrecoverable error exits non-zero, for its supervisor."""
    monkeypatch.setattr(WorkerApp, "start", lambda _app, _argv: 1)
    assert _run("worker").exit_code == 1


def test_beat_runs_celery_beat(started: list[list[str]]) -> None:
    """Beat's schedule file comes from the configuration (CRM_DATA_DIR), not an option."""
    assert _run("beat").exit_code == 0
    assert started == [["beat", "--loglevel=INFO"]]


def test_beat_creates_the_data_folder_for_its_schedule(
    started: list[list[str]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With a server store and broker nothing else creates CRM_DATA_DIR; beat keeps its
    schedule file there, so it creates the folder rather than failing on start."""
    monkeypatch.setenv("CRM_BROKER_URL", "redis://127.0.0.1:6379/0")
    assert not (tmp_path / "data").exists()
    assert _run("beat").exit_code == 0
    assert (tmp_path / "data").is_dir()


def test_flower_runs_against_redis(
    started: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On Redis, Flower starts on the port and address given."""
    monkeypatch.setenv("CRM_BROKER_URL", "redis://127.0.0.1:6379/0")
    done = _run("flower", "--port", "5555", "--address", "10.0.0.5")
    assert done.exit_code == 0, done.output
    assert started == [["flower", "--port=5555", "--address=10.0.0.5"]]


def test_flower_refuses_the_embedded_broker(started: list[list[str]]) -> None:
    """The embedded broker has no monitoring: say so rather than show an empty Flower."""
    done = _run("flower")
    assert done.exit_code == 2
    assert "Flower needs a Redis or RabbitMQ broker" in done.output
    assert started == []


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:secret@redis:6379/0", "redis://:***@redis:6379/0"),
        ("amqp://crm:secret@rabbit:5672//", "amqp://crm:***@rabbit:5672//"),
        ("redis://redis:6379/0", "redis://redis:6379/0"),
        ("filesystem://localhost//", "filesystem://localhost//"),
    ],
)
def test_broker_urls_are_shown_without_password(url: str, shown: str) -> None:
    """Messages of `ping` name the broker without its password."""
    assert safe_url(url) == shown
