"""Tasks of reconciliation with billing (``crm.maintenance`` queue, by ``workers.config``).

``crm.reconcile.run`` runs on beat's schedule (``reconcile_interval``, ``reconcile_batch``)
and compares the next batch of customers with billing (``adapter.reconcile``). Not retried:
a run that stops (billing unreachable) is recorded as such, and the next one picks up where
it stopped.
"""

from __future__ import annotations

from typing import Any, Final

from celery import Celery, Task

from adapter.mapping import load_mappings
from adapter.reconcile import run_reconciliation

RUN: Final = "crm.reconcile.run"


def run(task: Task[Any, Any], batch: int, customer_id: str | None = None) -> dict[str, Any]:
    """Compare ``batch`` customers (or only ``customer_id``) with billing."""
    container = task.app.container  # type: ignore[attr-defined]
    report = run_reconciliation(
        container.engine,
        container.gateway,
        load_mappings(),
        batch=batch,
        customer_id=customer_id,
    )
    return report.as_dict()


def register(app: Celery) -> None:
    app.task(name=RUN, bind=True)(run)
