"""``crm-adapter reconcile``: reconciliation with billing from the command line
(``docs/runbook.md``, "Reconciliation with billing").

``reconcile run`` compares the next batch of customers (or one) with billing now, in this
process (what beat's ``crm.reconcile.run`` does); ``reconcile report`` lists a run and its
findings, personal data masked; ``reconcile repair`` turns open findings into requests;
``reconcile ignore`` closes findings an operator has handled. The CLI's helpers, the gateway
and the mapping engine are imported when a command runs.
"""

from __future__ import annotations

import json
from typing import Any

import click

EXIT_NOT_DONE = 3  # the run stopped (billing unreachable) or a repair did not apply


@click.group("reconcile")
def reconcile_group() -> None:
    """Compare customers with billing, report the drift and repair it."""


@reconcile_group.command("run")
@click.option(
    "--batch", type=click.IntRange(min=1), help="Customers to compare [CRM_RECONCILE_BATCH]."
)
@click.option("--customer", help="Compare only this customer (id or customer number).")
@click.option("--json", "as_json", is_flag=True, help="The run's summary as JSON.")
def reconcile_run(batch: int | None, customer: str | None, as_json: bool) -> None:
    """Compare the next batch of customers billing knows (round robin) with billing, and
    record the drift. Exits 3 when the run could not finish (billing unreachable)."""
    from adapter.cli import _container, _errors
    from adapter.legacy.push import resolve_customer
    from adapter.mapping import load_mappings
    from adapter.reconcile import run_reconciliation
    from adapter.store.reading import read_connection

    container = _container()
    engine = container.engine
    customer_id = None
    with _errors():
        if customer is not None:
            with read_connection(engine) as conn:
                customer_id = resolve_customer(conn, customer)
        size = batch or container.settings.reconcile_batch or 1
        report = run_reconciliation(
            engine, container.gateway, load_mappings(), batch=size, customer_id=customer_id
        )
    summary = report.as_dict()
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False))
    else:
        click.echo(
            f"run {report.run_id}: {report.status}; checked {summary['checked']}, skipped "
            f"{summary['skipped']} (outbox not empty), drift {report.drift}"
        )
        for error in report.errors:
            click.echo(f"  {error}")
    if report.status != "completed":
        raise SystemExit(EXIT_NOT_DONE)


def _value(value: Any) -> str:
    return "-" if value is None else json.dumps(value, ensure_ascii=False)


def render_report(run: dict[str, Any] | None, findings: list[dict[str, Any]]) -> str:
    """A run's summary line, then one line per finding (PII already masked)."""
    lines = []
    if run is not None:
        lines.append(
            f"run {run['id']}  {run['status']}  started {run['started_at']}  checked "
            f"{run['checked']}  skipped {run['skipped']}  drift {run['drift']}"
        )
        if run["error"]:
            lines.append(f"  error: {run['error']}")
    if not findings:
        lines.append("no findings")
    for f in findings:
        entity = f"{f['entity_kind']} {f['entity_id'] or '(billing only)'}"
        legacy = f" [billing {f['legacy_id']}]" if f["legacy_id"] else ""
        line = (
            f"#{f['id']}  {f['state']:<8}  {f['kind']:<18}  customer {f['customer_id']}  "
            f"{entity}{legacy}  {f['field']}: crm {_value(f['crm_value'])}, billing "
            f"{_value(f['billing_value'])}"
        )
        if f["repair_request_id"]:
            line += f"  repair {f['repair_request_id']}"
        lines.append(line)
        if f["note"]:
            lines.append(f"    {f['note']}")
    return "\n".join(lines)


@reconcile_group.command("report")
@click.option("--run", "run_id", type=int, help="This run (default: the latest).")
@click.option(
    "--open",
    "open_only",
    is_flag=True,
    help="Open findings only (of every run unless --run is given).",
)
@click.option("--json", "as_json", is_flag=True)
def reconcile_report(run_id: int | None, open_only: bool, as_json: bool) -> None:
    """A run and the findings it saw; names and identifications are masked."""
    from adapter.cli import EXIT_STATE, _container, _dump, _fail
    from adapter.reconcile import report
    from adapter.store.reading import read_connection

    with read_connection(_container().engine) as conn:
        run = report.run(conn, run_id) if run_id is not None or not open_only else None
        if run_id is not None and run is None:
            _fail(f"no reconciliation run {run_id}", EXIT_STATE)
        scope = run["id"] if run is not None else None
        found = report.findings(conn, run_id=scope, open_only=open_only)
    if as_json:
        _dump({"run": run, "findings": found})
    else:
        click.echo(render_report(run, found))


@reconcile_group.command("repair")
@click.argument("finding_ids", nargs=-1, type=int)
@click.option("--run", "run_id", type=int, help="Every open finding of this run.")
@click.option("--json", "as_json", is_flag=True)
def reconcile_repair(finding_ids: tuple[int, ...], run_id: int | None, as_json: bool) -> None:
    """Repair findings through ordinary requests (actor reconciler, channel reconciliation)
    that make billing match the CRM; the sync then sends them. Exits 3 if one did not apply
    or cannot be repaired automatically."""
    from adapter.cli import EXIT_INPUT, _container, _dump, _errors, _fail
    from adapter.reconcile.repair import repair

    if bool(finding_ids) == (run_id is not None):
        _fail("give finding ids or --run ID (one of them)", EXIT_INPUT)
    with _errors():
        outcomes = repair(_container().engine, finding_ids, run_id=run_id)
    if as_json:
        _dump([o.as_dict() for o in outcomes])
    else:
        if not outcomes:
            click.echo("no open findings")
        for o in outcomes:
            request = o.request_id or "-"
            click.echo(f"#{o.finding_id}  {o.status}  request {request}  {o.message}")
    if any(o.status not in ("applied", "synced", "not_open") for o in outcomes):
        raise SystemExit(EXIT_NOT_DONE)


@reconcile_group.command("ignore")
@click.argument("finding_ids", nargs=-1, type=int, required=True)
@click.option("--note", required=True, help="Why: kept on the finding.")
def reconcile_ignore(finding_ids: tuple[int, ...], note: str) -> None:
    """Close open findings an operator has handled (or accepts) without a repair."""
    from adapter.cli import _container
    from adapter.reconcile.repair import ignore

    changed = ignore(_container().engine, finding_ids, note)
    click.echo(f"{changed} finding(s) ignored")
