"""``crm-adapter billing``: push a stored customer to billing, or send one raw CIL call.

``adapter.cli`` registers the group; the CLI's helpers, the gateway (zeep) and the mapping
engine are imported when a command runs, so that starting any other command stays cheap and
either module may be imported first.

Exit codes: 0 done; 2 bad input (unknown customer, unreadable ``--input``, unknown operation,
a request zeep cannot build); 3 billing refused a call (a business fault, ``CMS.…``) or the
stored data cannot be mapped (``ADAPTER.…``); 4 billing unreachable (transient failures after
the retries, or the circuit breaker open): try again later.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from adapter.legacy.push import Call, PushReport

EXIT_FAULT = 3  # billing refused, or the stored data does not map (same code as EXIT_STATE)
EXIT_UNREACHABLE = 4  # billing did not answer after the retries, or the breaker is open


@click.group("billing")
def billing() -> None:
    """The billing system at CRM_BILLING_URL: push a customer, send one raw call.

    Exit codes: 2 bad input, 3 billing refused (business fault), 4 billing unreachable."""


# ------------------------------------------------------------------------------------ push


@billing.command("push")
@click.argument("customer")
@click.option("--json", "as_json", is_flag=True, help="The report as JSON.")
def billing_push(customer: str, as_json: bool) -> None:
    """Send CUSTOMER (id, customer number or MSISDN) to billing: its accounts top-down, info
    fields, contracts with their numbers, services and discounts, and statuses. Safe to run
    again after a failure: what billing already has is read back, not created twice."""
    from adapter.cli import EXIT_INPUT, _container, _dump, _errors, _fail
    from adapter.domain.errors import NotFound, ValidationFailed
    from adapter.legacy.push import PushFailed, push_customer
    from adapter.mapping import load_mappings

    container = _container()
    with _errors():
        try:
            report = push_customer(container.engine, container.gateway, load_mappings(), customer)
        except (NotFound, ValidationFailed) as exc:
            _fail(str(exc), EXIT_INPUT)
        except PushFailed as failed:
            code = EXIT_UNREACHABLE if failed.transient else EXIT_FAULT
            if as_json:
                error = {
                    "operation": failed.operation,
                    "subject": failed.subject.as_dict(),
                    "code": failed.code,
                    "message": failed.detail,
                    "transient": failed.transient,
                }
                _dump({**failed.report.as_dict(), "error": error})
            else:
                _print_report(failed.report)
            hint = "; run the push again later" if failed.transient else ""
            _fail(f"{failed}{hint}", code)
    if as_json:
        _dump(report.as_dict())
        return
    _print_report(report)
    click.echo(_summary(report))


def _print_report(report: PushReport) -> None:
    for number, call in enumerate(report.calls, start=1):
        click.echo(_call_line(number, call))
    for skipped in report.skipped:
        click.echo(f"skipped {skipped.subject.label}: {skipped.reason}")
    for unverified in report.unverified:
        click.echo(f"check   {unverified.subject.label}: {unverified.reason}")


def _call_line(number: int, call: Call) -> str:
    outcome = f"{call.outcome} {call.code}" if call.code else call.outcome
    ids = " ".join(f"{k}={_ids_text(v)}" for k, v in call.legacy_ids.items())
    return f"{number:>4} {call.operation:<22} {call.subject.label:<48} {outcome:<28} {ids}".rstrip()


def _ids_text(value: Any) -> str:
    """Legacy ids compactly: a list of services as CODE:snCode pairs."""
    if isinstance(value, list):
        return ",".join(
            f"{item.get('service_code')}:{item.get('sn_code')}"
            if isinstance(item, dict)
            else str(item)
            for item in value
        )
    return str(value)


def _summary(report: PushReport) -> str:
    def count(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"

    parts = [
        count(len(report.accounts), "account"),
        count(len(report.contracts), "contract"),
        count(len(report.services), "service"),
        count(len(report.discounts), "discount"),
    ]
    text = (
        f"pushed customer {report.customer_number}: {', '.join(parts)} in billing after "
        f"{count(len(report.calls), 'call')}"
    )
    if report.unverified:
        text += f"; {count(len(report.unverified), 'discount')} to check in billing"
    return text


# ------------------------------------------------------------------------------------ call


@billing.command("call")
@click.argument("operation")
@click.option(
    "--input",
    "input_text",
    default="{}",
    show_default=True,
    metavar="JSON|@FILE",
    help="The request's inputAttributes as JSON (decimals kept exact), or @FILE to read it.",
)
@click.option("--json", "as_json", is_flag=True, help="The response as JSON.")
def billing_call(operation: str, input_text: str, as_json: bool) -> None:
    """Send one raw CIL OPERATION (CustomerRead, ContractWrite…, see
    docs/legacy-interface.md) through the gateway and print billing's answer. For operators:
    no mapping, no store; retries, timeout and circuit breaker as for every call."""
    from adapter.cli import EXIT_INPUT, _container, _dump, _fail
    from adapter.legacy import BusinessFault, TransientFailure

    inputs = _read_input(input_text)
    gateway = _container().gateway
    if operation not in gateway.operations:
        known = ", ".join(sorted(gateway.operations))
        _fail(f"{operation!r} is not a CIL operation; known: {known}", EXIT_INPUT)
    try:
        response = gateway.call(operation, inputs)
    except BusinessFault as fault:
        code = EXIT_INPUT if fault.code == "ADAPTER.INVALID_REQUEST" else EXIT_FAULT
        _fail(f"{operation} refused: {fault.code} {fault.fault_message}", code)
    except TransientFailure as failure:
        _fail(
            f"{operation}: billing unreachable ({failure.reason}: {failure.message}) after "
            f"{failure.attempts} attempt(s)",
            EXIT_UNREACHABLE,
        )
    if as_json:
        _dump(response)
        return
    lines = list(_flatten(response))
    click.echo("\n".join(lines) if lines else f"{operation}: done (empty response)")


def _read_input(text: str) -> dict[str, Any]:
    from adapter.cli import EXIT_INPUT, _fail

    source = "--input"
    if text.startswith("@"):
        path = Path(text[1:])
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            _fail(f"{path}: cannot read ({exc.strerror or exc})", EXIT_INPUT)
    try:
        data = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        _fail(f"{source}: not JSON ({exc})", EXIT_INPUT)
    if not isinstance(data, dict):
        _fail(f"{source}: the inputAttributes must be a JSON object", EXIT_INPUT)
    return data


def _flatten(value: Any, path: str = "") -> Any:
    """``path = value`` lines of a nested response, list items numbered; empty values left
    out (zeep gives every optional element, mostly None)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _flatten(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _flatten(item, f"{path}[{index}]")
    elif value is not None:
        yield f"{path} = {value}"
