"""Celery workers: the app (``workers.app.create_app``), its configuration derived from
settings (``workers.config``), logging (``workers.logs``) and thin tasks (``workers.tasks``).
Nothing is built at import time."""
