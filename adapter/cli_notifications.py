"""``crm-adapter notifications``: the billing push endpoint (``serve``) and the events it
stored (``apply``, ``status``).

``adapter.cli`` registers the group; the endpoint, uvicorn and the store are imported when a
command runs, so that starting any other command stays cheap.
"""

from __future__ import annotations

import click


@click.group("notifications")
def notifications_group() -> None:
    """The billing push endpoint: POST /soap/notifications (docs/legacy-interface.md)."""


@notifications_group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8089,
    show_default=True,
    help="Port (0: any free one).",
)
def serve_cmd(host: str, port: int) -> None:
    """Serve POST /soap/notifications (WSDL at ?wsdl) until Ctrl-C. Billing authenticates
    with CRM_NOTIFY_USER / CRM_NOTIFY_PASSWORD; every stored event is sent to the workers as
    crm.events.apply (unless CRM_NOTIFY_ENQUEUE=false). The store must be migrated."""
    from adapter.logs import configure_logging
    from adapter.notifications.server import serve
    from adapter.settings import get_settings

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    serve(settings, host, port, announce=lambda url: click.echo(f"notifications: {url}"))


@notifications_group.command("apply")
@click.argument("event_ids", nargs=-1)
def apply_cmd(event_ids: tuple[str, ...]) -> None:
    """Apply the named events now, or every event still received (no workers needed); each
    outcome is printed as JSON."""
    from adapter.cli import _container, _dump, _errors
    from adapter.notifications.apply import apply_event, pending_events

    engine = _container().engine
    with _errors():
        ids = list(event_ids) or pending_events(engine)
        results = []
        for event_id in ids:
            status = apply_event(engine, event_id)
            results.append({"event_id": event_id, "status": status.status, "reason": status.reason})
    _dump(results)


@notifications_group.command("status")
@click.argument("event_id")
def status_cmd(event_id: str) -> None:
    """Where one event stands: received, applied (with its change), rejected or failed (with
    the reason)."""
    from adapter.cli import _container, _dump, _errors
    from adapter.notifications.apply import event_status

    with _errors():
        status = event_status(_container().engine, event_id)
    _dump(
        {
            "event_id": status.event_id,
            "operation": status.operation,
            "status": status.status,
            "reason": status.reason,
            "change_id": status.change_id,
        }
    )
