"""The Celery configuration's invariants (workers/config.py, workers/app.py), one per test.

Nothing here needs a broker: apps are built, never connected."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import structlog

from adapter.legacy.gateway import Gateway
from adapter.logs import configure_logging
from adapter.settings import Settings
from workers import config
from workers.app import WorkerApp, create_app
from workers.tasks.maintenance import PING

REDIS = "redis://127.0.0.1:6379/0"


def _settings(tmp_path: Path, **values: Any) -> Settings:
    return Settings(data_dir=tmp_path / "data", **values)


@pytest.fixture
def app(tmp_path: Path) -> WorkerApp:
    return create_app(_settings(tmp_path, broker_url=REDIS))


def test_acks_late(app: WorkerApp) -> None:
    """A message is acknowledged after its task ran, so a lost worker loses no work."""
    assert app.conf.task_acks_late is True


def test_reject_on_worker_lost(app: WorkerApp) -> None:
    """A pool process dying under a task gives the message back instead of acking it."""
    assert app.conf.task_reject_on_worker_lost is True


def test_prefetch_one(app: WorkerApp) -> None:
    """A worker reserves no more messages than it has pool processes."""
    assert app.conf.worker_prefetch_multiplier == 1


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"task_retry_ceiling": 1, "task_time_limit": 3, "billing_retries": 0},
        # Billing's own waits dominate: 10 s doubled four times, capped at 30 s.
        {"task_retry_ceiling": 1, "billing_backoff": 10, "billing_retries": 5},
        {"task_retry_ceiling": 86_400, "task_time_limit": 86_400},
    ],
)
def test_visibility_timeout_exceeds_the_longest_retry_delay(
    tmp_path: Path, values: dict[str, Any]
) -> None:
    """Redis never hands a message to a second worker while the first still holds it:
    waiting for a retry's countdown and then running up to the hard time limit."""
    settings = _settings(tmp_path, broker_url=REDIS, **values)
    options = create_app(settings).conf.broker_transport_options
    longest = max(settings.task_retry_ceiling, config.longest_billing_retry_delay(settings))
    assert config.longest_retry_delay(settings) == longest
    assert options["visibility_timeout"] > longest + settings.task_time_limit


def test_longest_billing_retry_delay_follows_the_settings(tmp_path: Path) -> None:
    """backoff x 2^(retries-1), capped; no retries, no delay."""
    assert config.longest_billing_retry_delay(_settings(tmp_path, billing_retries=0)) == 0
    delay = config.longest_billing_retry_delay(
        _settings(tmp_path, billing_backoff=0.5, billing_retries=3)
    )
    assert delay == 2.0


def test_billing_backoff_cap_is_the_gateways(tmp_path: Path) -> None:
    """The cap assumed here is the one the gateway applies (a copy, checked)."""
    fake = SimpleNamespace(
        settings=_settings(tmp_path, billing_backoff=60),
        rng=SimpleNamespace(uniform=lambda _low, high: high),
    )
    longest = Gateway._backoff(fake, SimpleNamespace(attempt_number=10))  # type: ignore[arg-type]
    assert longest == config.BILLING_BACKOFF_CAP


def test_cancel_long_running_tasks_on_connection_loss(app: WorkerApp) -> None:
    """Tasks whose messages go back to the queue when the broker is lost are stopped."""
    assert app.conf.worker_cancel_long_running_tasks_on_connection_loss is True


def test_no_root_logger_hijack(app: WorkerApp) -> None:
    """Celery leaves the root logger's handlers (adapter.logs) alone."""
    assert app.conf.worker_hijack_root_logger is False


def test_json_only(app: WorkerApp) -> None:
    """Messages and results are JSON; nothing else (pickle) is accepted."""
    conf = app.conf
    assert (conf.task_serializer, conf.result_serializer) == ("json", "json")
    assert conf.accept_content == ["json"]
    assert conf.result_accept_content == ["json"]


@pytest.mark.parametrize("queue", config.QUEUES)
def test_routes_send_each_task_prefix_to_its_queue(app: WorkerApp, queue: str) -> None:
    """A task named crm.<kind>.<anything> goes to the queue crm.<kind>."""
    route = app.amqp.router.route({}, f"{queue}.anything", (), {})
    assert route["queue"].name == queue


def test_unrouted_and_celery_tasks_go_to_maintenance(app: WorkerApp) -> None:
    """Celery's own tasks and any unrouted name land on crm.maintenance, never nowhere."""
    for name in ("celery.backend_cleanup", "other.task"):
        assert app.amqp.router.route({}, name, (), {})["queue"].name == config.MAINTENANCE


def test_the_ping_task_is_registered_on_the_maintenance_queue(app: WorkerApp) -> None:
    """create_app registers the tasks; the ping's name routes it to crm.maintenance."""
    assert PING in app.tasks
    assert app.amqp.router.route({}, PING, (), {})["queue"].name == config.MAINTENANCE


def test_time_limits_and_started_state(app: WorkerApp) -> None:
    """Every task has a hard limit and a soft one below it; STARTED is recorded."""
    assert app.conf.task_time_limit == 300
    assert 0 < app.conf.task_soft_time_limit < app.conf.task_time_limit
    assert app.conf.task_track_started is True


def test_broker_connection_retried_on_startup(app: WorkerApp) -> None:
    """A worker started before its broker waits for it instead of exiting."""
    assert app.conf.broker_connection_retry_on_startup is True


def test_nothing_is_built_at_import(tmp_path: Path) -> None:
    """Importing every workers module creates no Celery app, no connection, no folder."""
    data_dir = tmp_path / "untouched"
    code = """
import pkgutil, sys, importlib, workers
for module in pkgutil.walk_packages(workers.__path__, "workers."):
    importlib.import_module(module.name)
from celery import _state
import workers.app
print(len(list(_state._apps)), workers.app._app, "kombu.transport.redis" in sys.modules,
      "kombu.transport.filesystem" in sys.modules)
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
    env["CRM_DATA_DIR"] = str(data_dir)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["0", "None", "False", "False"]
    assert not data_dir.exists()


def test_module_app_is_built_from_settings_on_first_access(tmp_path: Path) -> None:
    """``celery -A workers.app`` finds ``app``, built then from the CRM_* environment."""
    code = (
        "import workers.app as m; a = m.app; "
        "print(a is m.app, a.conf.broker_url, a.conf.broker_transport_options['global_keyprefix'])"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
    env.update(CRM_DATA_DIR=str(tmp_path), CRM_BROKER_URL=REDIS, CRM_BROKER_KEY_PREFIX="x:")
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["True", REDIS, "x:"]


def test_tasks_get_the_adapters_container_built_lazily(app: WorkerApp) -> None:
    """One composition root: tasks reach the store through the same Container as the CLI,
    with the app's settings, built only when first asked for."""
    assert app._container is None
    assert app.container is app.container
    assert app.container.settings is app.settings


def test_embedded_broker_by_default(tmp_path: Path) -> None:
    """No CRM_BROKER_URL: the filesystem broker in data_dir/broker, results in SQLite."""
    settings = _settings(tmp_path)
    app = create_app(settings)
    folder = (tmp_path / "data" / "broker").resolve()
    assert app.conf.broker_url.startswith("filesystem://")
    options = app.conf.broker_transport_options
    assert options["data_folder_in"] == options["data_folder_out"] == str(folder / "queue")
    assert options["store_processed"] is True
    assert options["processed_folder"] == str(folder / "processed")
    assert all((folder / sub).is_dir() for sub in ("queue", "processed", "control"))
    assert app.conf.result_backend.startswith("db+sqlite:///")
    assert app.conf.worker_send_task_events is False


def test_redis_broker_results_and_key_prefix(tmp_path: Path) -> None:
    """On Redis the results go to the same Redis, and one prefix isolates every key."""
    app = create_app(_settings(tmp_path, broker_url=REDIS, broker_key_prefix="t1:"))
    assert app.conf.result_backend == REDIS
    assert app.conf.broker_transport_options["global_keyprefix"] == "t1:"
    assert app.conf.result_backend_transport_options == {"global_keyprefix": "t1:"}
    assert app.conf.worker_send_task_events is True
    assert not (tmp_path / "data").exists()


def test_an_explicit_result_backend_wins(tmp_path: Path) -> None:
    """CRM_RESULT_BACKEND, when set, is used as given."""
    settings = _settings(tmp_path, broker_url=REDIS, result_backend="redis://other:6379/3")
    assert config.result_backend(settings) == "redis://other:6379/3"


def test_rabbitmq_results_come_back_over_rpc(tmp_path: Path) -> None:
    """On RabbitMQ without a result backend, results travel back as messages."""
    settings = _settings(tmp_path, broker_url="amqp://guest:guest@rabbit:5672//")
    assert config.result_backend(settings) == "rpc://"


# --------------------------------------------------------------------------- the ping task


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("INFO", "json")
    handler = next(h for h in logging.getLogger().handlers if getattr(h, "_crm_adapter", False))
    assert isinstance(handler, logging.StreamHandler)
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)
    configure_logging("WARNING", "console")


def test_ping_answers_pong_with_the_worker(app: WorkerApp) -> None:
    """The answer names the worker node and process that ran the ping."""
    answer = app.tasks[PING].apply().get()
    assert (answer["answer"], answer["pid"], answer["redelivered"]) == ("pong", os.getpid(), False)
    assert answer["hostname"]


def test_ping_refuses_a_negative_delay(app: WorkerApp) -> None:
    """A delay outside 0..PING_DELAY_MAX is a caller's error, not a sleep."""
    with pytest.raises(ValueError, match="delay"):
        app.tasks[PING].apply(kwargs={"delay": -1}).get()


def test_task_lines_carry_task_id_and_name_then_context_is_cleared(
    app: WorkerApp, log_lines: io.StringIO
) -> None:
    """Lines logged inside a task carry its id and name; nothing of it remains after."""
    result = app.tasks[PING].apply()
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    started = next(line for line in lines if line["event"] == "ping.started")
    assert (started["task_id"], started["task_name"]) == (result.id, PING)
    assert structlog.contextvars.get_contextvars() == {}


def test_an_eager_task_gets_a_clean_context_and_gives_the_callers_back(
    app: WorkerApp, log_lines: io.StringIO
) -> None:
    """A task applied in-process logs without its caller's context, which is bound again
    once the task is done."""
    structlog.contextvars.bind_contextvars(request_id="req-outer")
    try:
        app.tasks[PING].apply()
        lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
        started = next(line for line in lines if line["event"] == "ping.started")
        assert "request_id" not in started
        assert structlog.contextvars.get_contextvars() == {"request_id": "req-outer"}
    finally:
        structlog.contextvars.clear_contextvars()
