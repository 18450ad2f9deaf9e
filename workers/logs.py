"""Worker logging: Celery's records and the adapter's go through ``adapter.logs``.

Celery would otherwise configure logging its own way: a handler of its own on the root
logger (unless ``worker_hijack_root_logger`` is off), and a separate, non-propagating
handler with its own format on the task logger. Answering Celery's ``setup_logging`` signal
tells it logging is taken care of, so every line, Celery's, zeep's and the adapter's, leaves
through the one structlog chain (JSON with ``CRM_LOG_FORMAT=json``, PII masked).

Each task runs with ``task_id`` and ``task_name`` bound in structlog's context variables,
cleared before and after, so that no line of one task carries another's context (a pool
process runs task after task in the same context). A task run eagerly (``apply()``, tests)
gets its caller's context back afterwards.
"""

from __future__ import annotations

from typing import Any

import structlog
from celery import Task, signals

from adapter.logs import configure_logging
from adapter.settings import Settings, get_settings

_UID = "crm-adapter.workers.logs"


def connect_signals() -> None:
    """Connect the receivers once per process (Celery's signals are process-wide; connecting
    again with the same ``dispatch_uid`` is a no-op)."""
    signals.setup_logging.connect(_setup_logging, weak=False, dispatch_uid=f"{_UID}.setup")
    signals.task_prerun.connect(_bind_task, weak=False, dispatch_uid=f"{_UID}.prerun")
    signals.task_postrun.connect(_unbind_task, weak=False, dispatch_uid=f"{_UID}.postrun")


def _current_settings() -> Settings:
    """The settings of the app the worker runs (the current app), else the process's."""
    from celery import current_app  # a proxy: attributes are looked up on the current app

    settings = getattr(current_app, "settings", None)
    return settings if isinstance(settings, Settings) else get_settings()


def _setup_logging(**_: Any) -> None:
    settings = _current_settings()
    configure_logging(settings.log_level, settings.log_format)


#: The caller's context of each eager task running, by task id, restored after it.
_callers: dict[str, dict[str, Any]] = {}


def _bind_task(task_id: str = "", task: Task[Any, Any] | None = None, **_: Any) -> None:
    if task is not None and task.request.is_eager:
        _callers[task_id] = structlog.contextvars.get_contextvars()
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(
        task_id=task_id, task_name=task.name if task is not None else None
    )


def _unbind_task(task_id: str = "", **_: Any) -> None:
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(**_callers.pop(task_id, {}))
