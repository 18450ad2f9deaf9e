"""Reading reconciliation runs and findings (``crm-adapter reconcile report``).

Values of fields that hold personal data (names, identifications: :func:`adapter.pii.is_pii_key`)
are masked here, in every listing; the CRM's own views show them to those allowed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from adapter.pii import is_pii_key, mask
from adapter.store import tables as t


def _instant(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _run(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "status": row.status,
        "started_at": _instant(row.started_at),
        "finished_at": _instant(row.finished_at),
        "batch": row.batch,
        "customer_id": row.customer_id,
        "checked": row.checked,
        "skipped": row.skipped,
        "drift": row.drift,
        "error": row.error,
        "last_customer": row.last_customer,
        "principal": row.principal,
    }


def runs(conn: Connection, *, limit: int = 20) -> list[dict[str, Any]]:
    """The latest runs, newest first."""
    r = t.reconcile_run.c
    return [
        _run(row)
        for row in conn.execute(select(t.reconcile_run).order_by(r.id.desc()).limit(limit))
    ]


def run(conn: Connection, run_id: int | None) -> dict[str, Any] | None:
    """One run (the latest when ``run_id`` is None), or None."""
    r = t.reconcile_run.c
    query = select(t.reconcile_run)
    query = query.order_by(r.id.desc()).limit(1) if run_id is None else query.where(r.id == run_id)
    row = conn.execute(query).first()
    return _run(row) if row is not None else None


def masked(field: str, value: Any) -> Any:
    return mask(value) if value is not None and is_pii_key(field) else value


def findings(
    conn: Connection, *, run_id: int | None = None, open_only: bool = False
) -> list[dict[str, Any]]:
    """Findings a run saw (found then or still seen), or all; only open ones if asked; with
    PII values masked."""
    f = t.reconcile_finding.c
    query = select(t.reconcile_finding).order_by(f.id)
    if run_id is not None:
        query = query.where((f.run_id == run_id) | (f.last_run_id == run_id))
    if open_only:
        query = query.where(f.state == "open")
    return [
        {
            "id": row.id,
            "run_id": row.run_id,
            "last_run_id": row.last_run_id,
            "customer_id": row.customer_id,
            "entity_kind": row.entity_kind,
            "entity_id": row.entity_id,
            "legacy_id": row.legacy_id,
            "field": row.field,
            "kind": row.kind,
            "crm_value": masked(row.field, row.crm_value),
            "billing_value": masked(row.field, row.billing_value),
            "state": row.state,
            "repair_request_id": row.repair_request_id,
            "found_at": _instant(row.found_at),
            "updated_at": _instant(row.updated_at),
            "note": row.note,
        }
        for row in conn.execute(query)
    ]
