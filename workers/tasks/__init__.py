"""Thin Celery tasks: each decodes its message and calls the adapter.

Tasks are registered on the app that :func:`workers.app.create_app` builds, by
:func:`register_all`, rather than with decorators on a global app at import time. A task's
name says its queue (``workers.config.ROUTES``).
"""

from __future__ import annotations

from celery import Celery

from workers.tasks import events, maintenance, reconcile, requests, sync


def register_all(app: Celery) -> None:
    events.register(app)
    maintenance.register(app)
    reconcile.register(app)
    requests.register(app)
    sync.register(app)
