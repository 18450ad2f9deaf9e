"""Celery workers (issue 5). Nothing is built at import time; a composition root will build
the Celery app from settings."""
