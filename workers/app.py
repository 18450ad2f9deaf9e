"""The workers' composition root: :func:`create_app` builds the Celery app from settings.

``crm-adapter worker|beat|flower|ping`` call :func:`create_app` with the process's settings.
Importing this module builds nothing: no app, no connection, no folder.

Celery's own command line needs an attribute to point at (``celery -A workers.app inspect
ping``), so the module offers ``app`` too, but lazily: the module's ``__getattr__`` builds it
from ``get_settings()`` (the ``CRM_*`` environment) on first access and keeps it. The one
settings object of the process is read at that moment, exactly as the CLI would read it.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from adapter.bootstrap import Container
from adapter.settings import Settings, get_settings
from workers import config
from workers.logs import connect_signals
from workers.tasks import register_all


class WorkerApp(Celery):
    """A Celery app that keeps the settings it was built from (the logging receivers read
    them from the current app) and the adapter's composition root for its tasks."""

    settings: Settings
    _container: Container | None = None

    @property
    def container(self) -> Container:
        """The store and the billing gateway, as the CLI and the web side build them
        (``adapter.bootstrap.Container``), for tasks. Built on first use, which is in the pool
        process running a task: an engine or a client must not cross a fork."""
        if self._container is None:
            self._container = Container(self.settings)
        return self._container


def create_app(settings: Settings | None = None) -> WorkerApp:
    """A configured Celery app with the adapter's tasks registered; no connection is opened
    until the app is used. With the embedded broker, its folders are created here."""
    settings = settings or get_settings()
    app = WorkerApp("crm-adapter", set_as_current=True)
    app.settings = settings
    app.conf.update(config.celery_config(settings))
    if config.is_embedded(settings):
        folder = config.broker_dir(settings)
        for sub in ("queue", "processed", "control"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
    connect_signals()
    register_all(app)
    return app


_app: WorkerApp | None = None


def __getattr__(name: str) -> Any:
    """``workers.app.app``: the process's app, built on first access (for ``celery -A``)."""
    global _app
    if name == "app":
        if _app is None:
            _app = create_app(get_settings())
        return _app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
