"""The Celery configuration, derived from the adapter's settings.

Pure functions of :class:`~adapter.settings.Settings`: nothing here opens a connection or
touches the disk, so the invariants can be checked without a broker
(``tests/unit/workers/test_config.py``). :func:`workers.app.create_app` applies the result.

Why each hardened setting is there is said next to it; ``docs/architecture.md`` ("Workers and
the broker") has the whole picture.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Final

from kombu import Exchange, Queue

from adapter.settings import Settings

#: Queues, one per kind of work, so that a flood of one kind cannot starve another and each
#: can get workers of its own (``crm-adapter worker --queues``). Their names are part of the
#: adapter's interface: provisioning systems that enqueue directly send to ``crm.requests``.
REQUESTS: Final = "crm.requests"
SYNC: Final = "crm.sync"
EVENTS: Final = "crm.events"
MAINTENANCE: Final = "crm.maintenance"
QUEUES: Final = (REQUESTS, SYNC, EVENTS, MAINTENANCE)

#: A task goes to the queue named by the first two parts of its name (``crm.sync.drain`` →
#: ``crm.sync``). Celery's own tasks (``celery.backend_cleanup``…) are maintenance.
ROUTES: Final[dict[str, dict[str, str]]] = {
    **{f"{queue}.*": {"queue": queue} for queue in QUEUES},
    "celery.*": {"queue": MAINTENANCE},
    # Reconciliation with billing is periodic housekeeping (workers/tasks/reconcile.py).
    "crm.reconcile.*": {"queue": MAINTENANCE},
}

#: The gateway caps each wait between billing retries at this many seconds
#: (``adapter.legacy.gateway.Gateway._backoff``); a unit test checks the two agree.
BILLING_BACKOFF_CAP: Final = 30.0

#: Head room of the visibility timeout over the longest time a message may legitimately
#: stay unacknowledged.
VISIBILITY_MARGIN: Final = 1.25

#: How often the embedded broker looks for new messages, in seconds.
EMBEDDED_POLLING_INTERVAL: Final = 0.25


def is_embedded(settings: Settings) -> bool:
    """True when the broker is the embedded filesystem one (no server)."""
    return not settings.broker_url or settings.broker_url.startswith("filesystem:")


def is_redis(url: str) -> bool:
    return url.startswith(("redis://", "rediss://", "redis+socket://", "sentinel://"))


def broker_dir(settings: Settings) -> Path:
    """Folder of the embedded broker: ``queue/`` (messages waiting), ``processed/`` (one file
    per message taken, the journal an operator can replay from) and ``control/`` (exchange
    bindings)."""
    return (settings.data_dir / "broker").resolve()


def broker_url(settings: Settings) -> str:
    # "localhost" only keeps kombu from warning that the URL has no host.
    return settings.broker_url or "filesystem://localhost//"


def result_backend(settings: Settings) -> str:
    """Where the results of the few tasks that keep one (``crm.maintenance.ping``) go.

    The pipeline's own outcomes live in the store (request status), not here."""
    if settings.result_backend:
        return settings.result_backend
    url = broker_url(settings)
    if is_redis(url):
        return url
    if url.startswith(("amqp://", "amqps://", "pyamqp://")):
        return "rpc://"
    return f"db+sqlite:///{(settings.data_dir / 'celery-results.sqlite3').resolve()}"


def longest_billing_retry_delay(settings: Settings) -> float:
    """The longest single wait between two billing attempts inside a task."""
    if settings.billing_retries == 0:
        return 0.0
    return min(
        settings.billing_backoff * 2.0 ** (settings.billing_retries - 1), BILLING_BACKOFF_CAP
    )


def longest_retry_delay(settings: Settings) -> float:
    """The longest delay before a task's work is tried again: a task retry's countdown (at
    most ``task_retry_ceiling``) or a billing retry's wait inside the task."""
    return max(settings.task_retry_ceiling, longest_billing_retry_delay(settings))


def visibility_timeout(settings: Settings) -> int:
    """Seconds Redis waits for an acknowledgement before it hands the message to another
    worker.

    With late acks a message stays unacknowledged while a worker holds it: first, for a
    retry, until its countdown has passed (the worker keeps ETA messages), then while it runs
    (until the hard time limit at worst). A shorter visibility timeout would make Redis
    deliver the same message a second time while the first worker still has it; a longer one
    only delays recovery after a worker is lost."""
    held = longest_retry_delay(settings) + settings.task_time_limit
    return math.ceil(held * VISIBILITY_MARGIN)


def soft_time_limit(settings: Settings) -> float:
    """The soft limit raises ``SoftTimeLimitExceeded`` in the task, leaving it a tenth of the
    hard limit to roll back cleanly before the pool process is killed."""
    return round(settings.task_time_limit * 0.9, 3)


def transport_options(settings: Settings) -> dict[str, Any]:
    url = broker_url(settings)
    if is_embedded(settings):
        folder = broker_dir(settings)
        return {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            # Taken messages are renamed into processed/ on the same disk: the rename is
            # atomic, so two workers never take the same file, and the file stays as a
            # journal (without store_processed kombu copies through the temp folder, which
            # may be another disk, and two workers could read one message).
            "store_processed": True,
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
            "polling_interval": EMBEDDED_POLLING_INTERVAL,
        }
    options: dict[str, Any] = {"visibility_timeout": visibility_timeout(settings)}
    if is_redis(url):
        options.update(
            # Look for messages of lost workers often enough that recovery takes about the
            # visibility timeout, not ten times its sweep interval (kombu's default throttle).
            unacked_restore_interval=max(1, min(10, visibility_timeout(settings) // 10)),
            unacked_restore_throttle=1,
            socket_connect_timeout=5,
            socket_keepalive=True,
        )
        if settings.broker_key_prefix:
            options["global_keyprefix"] = settings.broker_key_prefix
    return options


def task_queues() -> list[Queue]:
    exchange = Exchange("crm", type="direct")
    return [Queue(name, exchange, routing_key=name) for name in QUEUES]


def celery_config(settings: Settings) -> dict[str, Any]:
    """The whole Celery configuration for ``settings`` (lower-case Celery setting names)."""
    embedded = is_embedded(settings)
    backend = result_backend(settings)
    config: dict[str, Any] = {
        "broker_url": broker_url(settings),
        "broker_transport_options": transport_options(settings),
        "result_backend": backend,
        # Wait for the broker when it starts after the worker (compose, reboots) and keep
        # trying when it goes away, rather than exiting.
        "broker_connection_retry_on_startup": True,
        "broker_connection_retry": True,
        "broker_connection_max_retries": None,
        # JSON only: a pickled message from whoever can write to the broker would be code.
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        # Acknowledge after the task ran, and give the message back when the pool process
        # dies under it (OOM, SIGKILL): a lost worker loses no work. Every task must therefore
        # be idempotent (the request id makes the pipeline's tasks so); a task that is not
        # must say acks_late=False.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        # A worker reserves one message per pool process and no more: long tasks do not
        # hold back messages that another, idle worker could run.
        "worker_prefetch_multiplier": 1,
        # When the broker connection drops, the unacknowledged messages go back to the queue
        # (AMQP at once, Redis after the visibility timeout), so stop the tasks running them
        # rather than let them finish while another worker starts them again.
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        # Celery's consumer, except that losing a Redis broker while holding messages does
        # not end the worker (workers/consumer.py says why): it reconnects when Redis is back.
        "worker_consumer": "workers.consumer:Consumer",
        "task_time_limit": settings.task_time_limit,
        "task_soft_time_limit": soft_time_limit(settings),
        "task_track_started": True,
        # Outcomes that matter live in the store; only tasks that say so keep a result.
        "task_ignore_result": True,
        "result_expires": 86_400,
        "task_queues": task_queues(),
        "task_default_queue": MAINTENANCE,
        "task_default_exchange": "crm",
        "task_default_routing_key": MAINTENANCE,
        "task_routes": ROUTES,
        # Logging belongs to adapter.logs (workers/logs.py): Celery must not replace the
        # root logger's handlers, nor turn prints into log records of its own format.
        "worker_hijack_root_logger": False,
        "worker_redirect_stdouts": False,
        # Flower and `celery events` need task events; the embedded broker has no
        # monitoring, and events would only be files nobody reads there.
        "worker_send_task_events": not embedded,
        "task_send_sent_event": not embedded,
        # 0: Celery's default, one pool process per CPU.
        "worker_concurrency": settings.worker_concurrency or None,
        "beat_schedule_filename": str((settings.data_dir / "celerybeat-schedule").resolve()),
        # The outbox sweep: drains what no crm.sync.drain was sent for (docs/architecture.md,
        # "Legacy sync"). The received sweeps: resend requests and billing events whose message
        # was lost (a broker restarted without persistence), once they have stayed received
        # for resume_received_after seconds (adapter/requests/sweep.py); as often as the
        # outbox sweep, since each is one indexed query when there is nothing to do.
        "beat_schedule": {
            "crm.sync.sweep": {"task": "crm.sync.sweep", "schedule": settings.sync_sweep_interval},
            "crm.requests.sweep": {
                "task": "crm.requests.sweep",
                "schedule": settings.sync_sweep_interval,
            },
            "crm.events.sweep": {
                "task": "crm.events.sweep",
                "schedule": settings.sync_sweep_interval,
            },
        },
    }
    # Reconciliation with billing (adapter/reconcile/): a batch of customers per run, round
    # robin; an interval or batch of 0 leaves it to `crm-adapter reconcile run`.
    if settings.reconcile_interval > 0 and settings.reconcile_batch > 0:
        config["beat_schedule"]["crm.reconcile.run"] = {
            "task": "crm.reconcile.run",
            "schedule": settings.reconcile_interval,
            "kwargs": {"batch": settings.reconcile_batch},
        }
    if is_redis(backend) and settings.broker_key_prefix:
        config["result_backend_transport_options"] = {
            "global_keyprefix": settings.broker_key_prefix
        }
    return config
