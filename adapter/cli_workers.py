"""``crm-adapter worker|beat|flower|ping``: run and check the Celery side (``workers/``).

``adapter.cli`` registers these commands; ``workers`` and Celery are imported when a command
runs, so the rest of the CLI starts without them. Each command builds the app with
:func:`workers.app.create_app` from the process's settings and hands over to Celery's own
command (``app.start([...])``), so Celery's signal handling (warm shutdown on SIGTERM,
cold on a second one) and exit codes apply unchanged.
"""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from workers.app import WorkerApp

EXIT_INPUT = 2  # as adapter.cli: bad arguments or settings
EXIT_NO_WORKER = 4  # as `billing call`: the other side did not answer in time


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _app() -> WorkerApp:
    from adapter.settings import get_settings
    from workers.app import create_app

    return create_app(get_settings())


def _run(app: WorkerApp, argv: list[str]) -> NoReturn:
    """Run Celery's command ARGV on APP and exit with its exit code."""
    code: int | None = app.start(argv)
    sys.exit(code or 0)


def safe_url(url: str) -> str:
    """A broker URL without its password, for messages."""
    head, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not sep or not at:
        return url
    user = credentials.split(":")[0]
    return f"{head}://{user}:***@{host}" if ":" in credentials else url


def _queues(value: str) -> list[str]:
    from workers.config import QUEUES

    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in QUEUES]
    if not names or unknown:
        raise click.BadParameter(
            f"{', '.join(unknown) or 'none given'}: the queues are {', '.join(QUEUES)}",
            param_hint="--queues",
        )
    return names


@click.command("worker")
@click.option(
    "--queues",
    "-Q",
    default="crm.requests,crm.sync,crm.events,crm.maintenance",
    show_default=True,
    help="Comma-separated queues this worker takes messages from.",
)
@click.option(
    "--concurrency",
    "-c",
    type=click.IntRange(1, 256),
    help="Pool processes (default: CRM_WORKER_CONCURRENCY; 0 there means one per CPU).",
)
@click.option(
    "--hostname",
    "-n",
    help="Node name, unique per worker (default celery@%h; %h is the host name).",
)
@click.option(
    "--pool",
    type=click.Choice(["prefork", "threads", "solo"]),
    default="prefork",
    show_default=True,
    help="Pool kind; prefork isolates tasks in processes (and enforces hard time limits).",
)
def worker_cmd(queues: str, concurrency: int | None, hostname: str | None, pool: str) -> None:
    """Run a Celery worker on the configured broker (CRM_BROKER_URL; the embedded filesystem
    broker in CRM_DATA_DIR when unset). Stop with Ctrl-C or SIGTERM: running tasks finish
    first (a second Ctrl-C stops at once; the unfinished tasks' messages are not acknowledged
    and run again)."""
    names = _queues(queues)
    app = _app()
    argv = [
        "worker",
        f"--queues={','.join(names)}",
        f"--loglevel={app.settings.log_level}",
        f"--pool={pool}",
    ]
    if concurrency:
        argv.append(f"--concurrency={concurrency}")
    if hostname:
        argv.append(f"--hostname={hostname}")
    _run(app, argv)


@click.command("beat")
def beat_cmd() -> None:
    """Run Celery beat, which sends the periodic tasks (one beat per deployment). Its
    schedule state is kept in CRM_DATA_DIR/celerybeat-schedule."""
    app = _app()
    # The schedule file lives there even when the store and broker are servers (PostgreSQL,
    # Redis) and nothing else has created the folder.
    app.settings.ensure_data_dir()
    _run(app, ["beat", f"--loglevel={app.settings.log_level}"])


@click.command("flower")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=5555, show_default=True, help="HTTP port."
)
@click.option(
    "--address",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (0.0.0.0 in a container).",
)
def flower_cmd(port: int, address: str) -> None:
    """Run Flower, the web monitor of workers, queues and tasks, against the broker. It
    needs a Redis or RabbitMQ broker: the embedded one has no monitoring. Flower shows task
    arguments: put it behind authentication (FLOWER_BASIC_AUTH=user:password) wherever it
    is reachable by others."""
    from workers.config import is_embedded

    app = _app()
    if is_embedded(app.settings):
        _fail(
            "Flower needs a Redis or RabbitMQ broker (set CRM_BROKER_URL, e.g. "
            "redis://127.0.0.1:6379/0); the embedded filesystem broker has no monitoring",
            EXIT_INPUT,
        )
    _run(app, ["flower", f"--port={port}", f"--address={address}"])


@click.command("ping")
@click.option(
    "--timeout",
    type=click.FloatRange(0.1, 600),
    default=10.0,
    show_default=True,
    help="Seconds to wait for an answer.",
)
@click.option("--json", "as_json", is_flag=True)
def ping_cmd(timeout: float, as_json: bool) -> None:
    """Send crm.maintenance.ping through the broker and wait for a worker's answer: exit 0
    with the worker's name, or exit 4 if none answers in time (the unanswered ping expires
    and is dropped by a worker that starts later)."""
    from celery.exceptions import TimeoutError as CeleryTimeout
    from kombu.exceptions import OperationalError

    from workers.config import broker_url
    from workers.tasks.maintenance import PING

    app = _app()
    where = safe_url(broker_url(app.settings))
    started = time.monotonic()
    with app:
        try:
            # Fail fast on a broker that is down: publishing and the result backend would
            # otherwise retry for tens of seconds before giving up.
            with app.connection_for_write() as connection:
                connection.ensure_connection(
                    max_retries=1, interval_start=0, timeout=max(1, int(min(timeout, 5)))
                )
            result = app.send_task(PING, expires=timeout)
        except OperationalError as exc:
            _fail(f"broker {where} unreachable: {exc}", EXIT_NO_WORKER)
        try:
            answer: dict[str, Any] = result.get(timeout=timeout, interval=0.1)
        except CeleryTimeout:
            _fail(f"no worker answered within {timeout:g} s (broker {where})", EXIT_NO_WORKER)
        finally:
            result.forget()
    seconds = time.monotonic() - started
    if as_json:
        click.echo(json.dumps({**answer, "seconds": round(seconds, 3), "broker": where}))
    else:
        click.echo(
            f"{answer['answer']} from {answer['hostname']} (pid {answer['pid']}) "
            f"in {seconds:.2f} s via {where}"
        )
