"""``crm-adapter dlq``: the dead-letter store (failed requests) from the command line —
``list``, ``show``, ``replay``, ``discard`` (``docs/runbook.md``, "Dead letters").

Listings never show an envelope, and ``show`` masks its PII unless ``--unmasked`` is given;
that flag is logged with the acting user, as replays and discards are. Exit codes follow the
rest of the CLI: 2 for bad input (an unknown request id, a request that is not a dead
letter), 3 when a replay fails again. ``adapter.cli`` registers the group; its helpers are
imported when a command runs, not when this module is imported.
"""

from __future__ import annotations

import getpass
import json
import sys
from typing import Any, NoReturn

import click
import structlog

from adapter.domain.errors import NotFound
from adapter.pii import mask, mask_mapping
from adapter.requests import deadletters as dl
from adapter.requests.apply import RequestStatus

log = structlog.get_logger(__name__)

_USER = click.option(
    "--user", envvar="CRM_USER", help="Acting user recorded in the log (default: login name)."
)


def _who(user: str | None) -> str:
    return user or getpass.getuser()


def _unknown(exc: NotFound) -> NoReturn:
    """An unknown request id is bad input here (the operator mistyped it), not a refusal."""
    from adapter.cli import EXIT_INPUT, _fail

    _fail(f"{exc}: not a dead letter (see `crm-adapter dlq list`)", EXIT_INPUT)


def _short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def render_page(page: dl.Page) -> str:
    """A fixed-width table, newest first, then a line saying which rows of how many."""
    header = ("REQUEST", "FAILED AT", "OPERATION", "CUSTOMER", "CODE", "MESSAGE")
    rows = [
        (
            item.request_id,
            (item.failed_at or item.received_at).strftime("%Y-%m-%d %H:%M:%SZ"),
            item.operation,
            item.customer_id or "-",
            item.code + (" (discarded)" if item.discarded else ""),
            _short(item.message, 60),
        )
        for item in page.items
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    lines = [
        "  ".join([*(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)), r[-1]]).rstrip()
        for r in [header, *rows]
    ]
    if page.items:
        first = page.offset + 1
        lines.append(f"{first}-{page.offset + len(page.items)} of {page.total} dead letters")
    else:
        lines.append(f"no dead letters here ({page.total} in all)")
    return "\n".join(lines)


_NAME_KEYS = frozenset({"name", "display_name", "holder_name"})


def masked(data: Any) -> Any:
    """``data`` with PII masked by :func:`adapter.pii.mask_mapping`, and also the ``name`` of
    anything an envelope carries: an individual's account is named after them (``"Ana
    Müller"``) and ``name`` is not a PII key of the project's list, which logs share. A
    masked view hides an organisation's name too; ``--unmasked`` shows it."""
    if isinstance(data, dict):
        return {
            k: mask(v) if k in _NAME_KEYS and isinstance(v, str) else masked(v)
            for k, v in mask_mapping(data).items()
        }
    if isinstance(data, list):
        return [masked(v) for v in data]
    return data


def _dumps(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def render_detail(data: dict[str, Any]) -> str:
    """The request's status line, its reason and history, its outbox rows, then the
    envelope as JSON (masked or not, as the caller prepared ``data``)."""
    lines = [f"{data['request_id']}  {data['status']}  {data['operation']}"]
    lines.append(f"  customer:    {data['customer_id'] or '-'}")
    lines.append(f"  principal:   {data['principal']}")
    lines.append(f"  attempts:    {data['attempts']}")
    for key in ("received_at", "applied_at", "synced_at", "failed_at"):
        if data.get(key):
            lines.append(f"  {key.replace('_at', ' at') + ':':<12} {data[key]}")
    reason = data.get("reason") or {}
    if reason:
        violations = reason.get("violations") or []
        if violations:  # the message is these joined: each on a line of its own instead
            lines.append(f"  reason:      {reason.get('code')}")
            lines.extend(f"    {v['field']}: {v['message']} [{v['rule']}]" for v in violations)
        else:
            lines.append(f"  reason:      {reason.get('code')}: {reason.get('message')}")
        for n, earlier in enumerate(reason.get("history") or [], 1):
            lines.append(
                f"  earlier {n}:   {earlier.get('code')}: {earlier.get('message')}"
                f" (failed {earlier.get('failed_at')}, replayed by {earlier.get('replayed_by')})"
            )
        marker = reason.get("discarded")
        if marker:
            lines.append(f"  discarded:   by {marker['by']} at {marker['at']}: {marker['reason']}")
    for o in data["outbox"]:
        error = f"  {o['last_error']}" if o.get("last_error") else ""
        lines.append(f"  outbox {o['seq']}:    {o['operation']}  {o['status']}{error}")
    lines.append("  envelope:")
    lines.extend("    " + line for line in _dumps(data["envelope"]).splitlines())
    return "\n".join(lines)


@click.group("dlq")
def dlq_group() -> None:
    """Dead letters: failed requests, kept with their original envelope, to inspect, replay
    once the cause is fixed, or discard."""


@dlq_group.command("list")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0, show_default=True)
@click.option("--operation", help="Only this operation, e.g. customer.update.")
@click.option("--customer", help="Only this customer (id or number).")
@click.option("--code", help="Only this reason code, e.g. not_found.")
@click.option("--all", "include_discarded", is_flag=True, help="Include discarded ones.")
@click.option("--json", "as_json", is_flag=True)
def dlq_list(
    limit: int,
    offset: int,
    operation: str | None,
    customer: str | None,
    code: str | None,
    include_discarded: bool,
    as_json: bool,
) -> None:
    """List dead letters, newest first: request id, when it failed, operation, customer,
    reason code and message. No envelope (no personal data) is shown."""
    from adapter.cli import _container, _dump, _errors

    with _errors():
        page = dl.list_dead_letters(
            _container().engine,
            limit=limit,
            offset=offset,
            operation=operation,
            customer=customer,
            code=code,
            include_discarded=include_discarded,
        )
    if as_json:
        _dump(masked(page.as_dict()))
    else:
        click.echo(render_page(page))


@dlq_group.command("show")
@click.argument("request_id")
@click.option("--json", "as_json", is_flag=True)
@click.option(
    "--unmasked",
    is_flag=True,
    help="Show the envelope's personal data raw (logged with the acting user).",
)
@_USER
def dlq_show(request_id: str, as_json: bool, unmasked: bool, user: str | None) -> None:
    """Show a request in full: the original envelope (PII masked unless --unmasked), the
    reason and its history, attempts, timestamps and its outbox rows."""
    from adapter.cli import _container, _dump, _errors

    with _errors():
        try:
            detail = dl.show(_container().engine, request_id)
        except NotFound as exc:
            _unknown(exc)
    data = detail.as_dict()
    if unmasked:
        log.warning("deadletter.shown_unmasked", request_id=request_id, user=_who(user))
        click.echo("warning: personal data shown unmasked; this was logged", err=True)
    else:
        data = masked(data)
    if as_json:
        _dump(data)
    else:
        click.echo(render_detail(data))


def _outcome(status: RequestStatus) -> str:
    from adapter.cli_requests import render_status

    return render_status(status)


@dlq_group.command("replay")
@click.argument("request_id")
@_USER
def dlq_replay(request_id: str, user: str | None) -> None:
    """Try dead letter REQUEST_ID again after its cause was fixed. A request refused before
    it changed anything is applied again; one whose change billing refused has its failed
    outbox rows sent again by the next drain. Exit 3 if it fails again (with the new reason;
    the earlier ones are kept in its history)."""
    from adapter.cli import EXIT_STATE, _container, _errors

    with _errors():
        try:
            status = dl.replay(_container().engine, request_id, user=_who(user))
        except NotFound as exc:
            _unknown(exc)
    click.echo(_outcome(status))
    if status.failed:
        sys.exit(EXIT_STATE)


@dlq_group.command("discard")
@click.argument("request_id")
@click.option("--reason", required=True, help="Why it is given up on (kept in its record).")
@_USER
def dlq_discard(request_id: str, reason: str, user: str | None) -> None:
    """Give up on dead letter REQUEST_ID: it stays failed, with who discarded it, when and
    why, and leaves `dlq list` (shown again with --all)."""
    from adapter.cli import _container, _errors

    with _errors():
        try:
            status = dl.discard(_container().engine, request_id, user=_who(user), reason=reason)
        except NotFound as exc:
            _unknown(exc)
    marker = (status.reason or {}).get("discarded") or {}
    click.echo(f"{status.request_id}  discarded by {marker.get('by')} at {marker.get('at')}")
