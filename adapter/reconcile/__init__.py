"""Reconciliation with billing: compare customers with what billing holds, record the drift,
and repair it through ordinary requests (docs/runbook.md, "Reconciliation with billing").

:func:`run_reconciliation` compares a batch (:mod:`adapter.reconcile.run`),
:mod:`adapter.reconcile.compare` holds the comparison, :mod:`adapter.reconcile.repair` turns
open findings into requests and :mod:`adapter.reconcile.report` reads runs and findings.
"""

from adapter.reconcile.run import RECONCILER, RunReport, run_reconciliation

__all__ = ["RECONCILER", "RunReport", "run_reconciliation"]
