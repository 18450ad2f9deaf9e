"""``crm-adapter submit`` and ``crm-adapter requests``: provisioning requests from the command
line (``docs/requests.md``).

``submit`` receives and applies each envelope of a file at once, as the Celery task
``crm.requests.apply`` does for a queued one: both call :func:`adapter.requests.apply.submit`.
A file whose first non-blank character is ``<`` is a BSCS-style XML request document
(``wsdl/requests.xsd``), mapped into its envelope by :mod:`adapter.requests.xmldoc` first.
``adapter.cli`` registers these commands; this module imports the CLI's helpers when a command
runs, not when it is imported.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from adapter.domain.errors import ValidationFailed
from adapter.requests.apply import RequestStatus, request_status, submit

CLI_PRINCIPAL = "crm-adapter-cli"


def read_envelopes(text: str) -> list[Any]:
    """The envelopes of a file: one JSON value (an object, or an array of them) or JSON
    Lines (one envelope per non-blank line). Raises ValueError naming the bad line."""
    try:
        whole = json.loads(text)
    except json.JSONDecodeError as first:
        lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
        if len(lines) < 2:
            raise ValueError(f"not JSON: {first}") from None
        found: list[Any] = []
        for number, line in lines:
            try:
                found.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"line {number}: not JSON ({exc})") from None
        return found
    return whole if isinstance(whole, list) else [whole]


def render_status(status: RequestStatus) -> str:
    """One line per request, then one per reason (field, rule, message)."""
    parts = [status.request_id, status.status, status.operation]
    if status.change_id is not None:
        parts.append(f"change {status.change_id}")
    if status.outbox:
        pending = sum(1 for e in status.outbox if e.status == "pending")
        parts.append(f"outbox {len(status.outbox)} ({pending} pending)")
    lines = ["  ".join(parts)]
    if status.result:
        lines.append("  result: " + json.dumps(status.result, ensure_ascii=False, sort_keys=True))
    if status.legacy_ids:
        legacy = json.dumps(status.legacy_ids, ensure_ascii=False, sort_keys=True)
        lines.append(f"  legacy ids: {legacy}")
    if status.reason:
        violations = status.reason.get("violations") or []
        if violations:
            lines.extend(
                f"  {status.reason['code']}: {v['field']}: {v['message']} [{v['rule']}]"
                for v in violations
            )
        else:
            lines.append(f"  {status.reason['code']}: {status.reason['message']}")
    return "\n".join(lines)


def read_file(data: bytes) -> list[Any]:
    """The envelopes of a file: one mapped from an XML request document (first non-blank
    character ``<``), else those of :func:`read_envelopes`. Raises ValueError (among them
    :class:`~adapter.requests.xmldoc.DocumentRejected`, naming the line) or
    UnicodeDecodeError."""
    from adapter.requests.xmldoc import is_xml, to_envelope

    if is_xml(data):
        return [to_envelope(data)]
    return read_envelopes(data.decode("utf-8"))


@click.command("submit")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the statuses as a JSON array.")
def submit_cmd(file: Path, as_json: bool) -> None:
    """Receive and apply the requests in FILE, in order, and print each request's status.
    FILE holds a JSON envelope, a JSON array of them or JSON Lines, or one BSCS-style XML
    request document (wsdl/requests.xsd). Exit 2 if the input is bad (not JSON, an XML
    document refused, an envelope refused by the schema), else 3 if a request failed."""
    from adapter.cli import EXIT_INPUT, EXIT_STATE, _container, _dump, _errors, _fail

    try:
        envelopes = read_file(file.read_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        _fail(f"{file}: {exc}", EXIT_INPUT)
    engine = _container().engine
    shown: list[dict[str, Any]] = []
    bad_input = failed = False
    with _errors():
        for number, envelope in enumerate(envelopes, 1):
            try:
                status = submit(engine, envelope, principal=CLI_PRINCIPAL)
            except ValidationFailed as exc:  # no usable request id: nothing to record it under
                bad_input = True
                reason = {
                    "code": "invalid_envelope",
                    "message": str(exc),
                    "violations": [v.__dict__ for v in exc.violations],
                }
                shown.append({"request_id": None, "status": "refused", "reason": reason})
                if not as_json:
                    click.echo(f"envelope {number}: refused (no usable request_id)")
                    for v in exc.violations:
                        click.echo(f"  invalid_envelope: {v}")
                continue
            if status.failed:
                reason_code = (status.reason or {}).get("code")
                bad_input |= reason_code == "invalid_envelope"
                failed = True
            shown.append(status.as_dict())
            if not as_json:
                click.echo(render_status(status))
    if as_json:
        _dump(shown)
    if bad_input:
        sys.exit(EXIT_INPUT)
    if failed:
        sys.exit(EXIT_STATE)


@click.group("requests")
def requests_group() -> None:
    """Provisioning requests: status and schema."""


@requests_group.command("status")
@click.argument("request_id")
@click.option("--json", "as_json", is_flag=True)
def requests_status(request_id: str, as_json: bool) -> None:
    """Where request REQUEST_ID stands: received, applied, synced, or failed with the reason;
    the change it made and, once synced, billing's ids."""
    from adapter.cli import _container, _dump, _errors

    with _errors():
        status = request_status(_container().engine, request_id)
    if as_json:
        _dump(status.as_dict())
    else:
        click.echo(render_status(status))


@requests_group.command("schema")
@click.option(
    "--xml",
    "as_xml",
    is_flag=True,
    help="Print the XML Schema of BSCS-style request documents (wsdl/requests.xsd) instead.",
)
def requests_schema(as_xml: bool) -> None:
    """Print the JSON Schema of a request envelope (every operation and its payload), or with
    --xml the XML Schema of request documents."""
    if as_xml:
        from adapter.requests.xmldoc import REQUESTS_XSD

        click.echo(REQUESTS_XSD.read_text(encoding="utf-8"), nl=False)
        return
    from adapter.requests.envelope import envelope_schema

    click.echo(json.dumps(envelope_schema(), indent=2, ensure_ascii=False))
