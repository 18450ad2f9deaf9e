"""``crm-adapter sync``: the sync to billing from the command line (``docs/runbook.md``).

``sync drain CUSTOMER`` drains one customer's outbox now, in this process (what the
``crm.sync.drain`` task does, without waiting for a message's backoff); ``sync pending`` counts
the messages not yet sent per customer and status. The CLI's helpers, the gateway and the
mapping engine are imported when a command runs.
"""

from __future__ import annotations

import json

import click

EXIT_NOT_SENT = 3  # the drain stopped on a message billing could not take (yet)


@click.group("sync")
def sync_group() -> None:
    """Send the outbox to billing, and see what waits."""


@sync_group.command("drain")
@click.argument("customer")
@click.option("--limit", type=click.IntRange(min=1), default=500, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="The drain report as JSON.")
def sync_drain(customer: str, limit: int, as_json: bool) -> None:
    """Send CUSTOMER's pending outbox messages (id or customer number) to billing, in order.

    Exits 3 when a message stays unsent (billing unreachable, a dead letter, or one that
    blocks the customer)."""
    from adapter.cli import _container
    from adapter.domain.errors import NotFound
    from adapter.legacy.push import resolve_customer
    from adapter.mapping import load_mappings
    from adapter.store.reading import read_connection
    from adapter.sync import SyncPolicy, drain_customer

    container = _container()
    engine = container.engine
    with read_connection(engine) as conn:
        try:
            customer_id = resolve_customer(conn, customer)
        except NotFound:
            customer_id = customer  # maybe deleted since: its messages still go
    report = drain_customer(
        engine,
        container.gateway,
        load_mappings(),
        customer_id,
        limit=limit,
        policy=SyncPolicy.from_settings(container.settings),
        force=True,
    )
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        sent = ", ".join(str(s) for s in report.sent) or "none"
        click.echo(f"{customer_id}: sent {sent}; stopped: {report.stopped}")
        if report.error:
            click.echo(f"  {report.error}")
        if report.retry_at:
            click.echo(f"  due again at {report.retry_at.isoformat()}")
    if report.stopped in ("transient", "fault", "blocked", "busy"):
        raise SystemExit(EXIT_NOT_SENT)


@sync_group.command("pending")
@click.option("--json", "as_json", is_flag=True, help="The counts as JSON.")
def sync_pending(as_json: bool) -> None:
    """Messages not yet sent to billing, per customer and status (pending, failed)."""
    from adapter.cli import _container
    from adapter.sync import pending_counts

    counts = pending_counts(_container().engine)
    if as_json:
        rows = [{"customer_id": c, "status": s, "count": n} for c, s, n in counts]
        click.echo(json.dumps(rows))
        return
    if not counts:
        click.echo("nothing pending")
    for customer_id, status, count in counts:
        click.echo(f"{customer_id}  {status}  {count}")
