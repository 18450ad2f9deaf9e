"""``crm-adapter``: the command line of the adapter.

Every read command has ``--json``. Every write runs in a unit of work whose actor is the user
given with ``--user`` (default: ``$CRM_USER`` or the login name), principal ``crm-adapter-cli``,
channel ``cli`` and a fresh request id unless ``--request-id`` is given.
"""

from __future__ import annotations

import getpass
import json
import logging
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, NoReturn

import click
import pydantic
from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError, ProgrammingError

from adapter.bootstrap import Container
from adapter.domain import ENTITY_KINDS, Actor
from adapter.domain.errors import DomainError, ValidationFailed
from adapter.logs import configure_logging
from adapter.queries import hierarchy as hierarchy_q
from adapter.queries import history as history_q
from adapter.queries.customers import attribute_definitions, customer_view, resolve
from adapter.queries.effective import effective_for_subscriber
from adapter.queries.history import SUBJECTS
from adapter.service import attributes as attribute_svc
from adapter.service import hierarchy as hierarchy_svc
from adapter.service.customers import create_customer
from adapter.service.restore import restore as restore_entity
from adapter.settings import get_settings
from adapter.store import audit
from adapter.store.database import current_revision, upgrade
from adapter.store.reading import read_connection
from adapter.store.uow import UnitOfWork

EXIT_INPUT = 2  # bad input: the command's arguments or data broke a rule
EXIT_STATE = 3  # the store refused: not found, conflict, audit failure


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _container() -> Container:
    return click.get_current_context().find_object(Container) or Container()


def _dump(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@contextmanager
def _errors() -> Iterator[None]:
    """Turn domain errors into one clear line on stderr and a non-zero exit."""
    try:
        yield
    except ValidationFailed as exc:
        for violation in exc.violations:
            click.echo(f"error: {violation}", err=True)
        sys.exit(EXIT_INPUT)
    except DomainError as exc:
        _fail(str(exc), EXIT_STATE)
    except (OperationalError, ProgrammingError) as exc:
        text = str(exc)
        if "no such table" in text or ("relation" in text and "does not exist" in text):
            _fail("the store has no schema yet; run `crm-adapter db upgrade`", EXIT_STATE)
        raise


def _actor(user: str | None, request_id: str | None) -> Actor:
    return Actor(
        originating_user=user or getpass.getuser(),
        principal="crm-adapter-cli",
        channel="cli",
        request_id=request_id or f"cli-{uuid.uuid4()}",
    )


def actor_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option("--request-id", help="Idempotency key (default: a new one).")(func)
    return click.option(
        "--user", envvar="CRM_USER", help="Originating user recorded on the change."
    )(func)


def _entity_id(conn: Connection, kind: str, ref: str) -> str:
    """The id of KIND:REF: customers, accounts, contracts and subscribers may be named by
    number (or MSISDN); other kinds by id."""
    if kind in SUBJECTS:
        return resolve(conn, kind, ref)
    if kind not in ENTITY_KINDS:
        known = ", ".join(sorted(ENTITY_KINDS))
        raise ValidationFailed.one("entity", "known", f"unknown kind {kind!r}; known: {known}")
    return ref


def _subject(value: str) -> tuple[str, str]:
    kind, sep, ref = value.partition(":")
    if not sep or not ref:
        raise click.BadParameter(
            f"{value!r}: write KIND:REF, for example subscriber:+4917012340001"
        )
    return kind, ref


def _instant(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 instant") from None
    if parsed.tzinfo is None:
        raise click.BadParameter(f"{value!r} has no timezone (add Z or +01:00)")
    return parsed


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log what happens (to stderr).")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    """Telco CRM integration adapter."""
    try:
        settings = get_settings()
    except pydantic.ValidationError as exc:
        for item in exc.errors(include_url=False):
            name = "CRM_" + "_".join(str(p) for p in item["loc"]).upper()
            click.echo(f"error: {name}: {item['msg']}", err=True)
        sys.exit(EXIT_INPUT)
    container = Container(settings)
    ctx.obj = container
    ctx.call_on_close(container.close)
    configure_logging(
        "INFO" if verbose else "WARNING" if settings.log_level == "INFO" else settings.log_level,
        settings.log_format,
    )
    if settings.sql_echo:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)


# ----------------------------------------------------------------------------------- db


@main.group()
def db() -> None:
    """The store's schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the store's schema to the latest revision."""
    engine = _container().engine
    upgrade(engine)
    click.echo(f"store at revision {current_revision(engine)}: {engine.url.render_as_string()}")


# ----------------------------------------------------------------------------- customer


@main.group()
def customer() -> None:
    """Create and show customers."""


@customer.command("create")
@click.option(
    "--file",
    "file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON document of the customer (fields in docs/data-model.md), optionally with "
    '"attributes": {"name": value}.',
)
@click.option("--number", help="Customer number.")
@click.option("--given-name")
@click.option("--family-name")
@click.option("--organization", help="Organisation name (instead of given/family name).")
@click.option("--birth-date", help="YYYY-MM-DD.")
@click.option("--email")
@click.option("--segment", default="residential", show_default=True)
@click.option(
    "--attribute",
    "attributes",
    multiple=True,
    metavar="NAME=VALUE",
    help="A custom attribute value (repeat); required attributes must be given here.",
)
@click.option("--json", "as_json", is_flag=True)
@actor_options
def customer_create(
    file: Path | None,
    number: str | None,
    given_name: str | None,
    family_name: str | None,
    organization: str | None,
    birth_date: str | None,
    email: str | None,
    segment: str,
    attributes: tuple[str, ...],
    as_json: bool,
    user: str | None,
    request_id: str | None,
) -> None:
    """Create a customer from a JSON file or from options."""
    values: dict[str, str] = {}
    for item in attributes:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{item!r}: write NAME=VALUE", param_hint="--attribute")
        values[name.strip()] = value
    if file is not None:
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            _fail(f"{file}: not JSON ({exc})", EXIT_INPUT)
        if not isinstance(data, dict):
            _fail(f"{file}: the document must be a JSON object", EXIT_INPUT)
    else:
        if not number:
            _fail("give --file or at least --number", EXIT_INPUT)
        party: dict[str, Any] = (
            {"kind": "organization", "name": organization}
            if organization
            else {
                "kind": "individual",
                "given_name": given_name,
                "family_name": family_name,
                "birth_date": birth_date,
            }
        )
        data = {
            "customer_number": number,
            "segment": segment,
            "party": party,
            "contact_media": [{"type": "email", "value": email}] if email else [],
        }
    if values:
        given = data.get("attributes") or {}
        data["attributes"] = {**(given if isinstance(given, dict) else {}), **values}
    with _errors(), UnitOfWork(_container().engine, _actor(user, request_id)) as uow:
        created = create_customer(uow, data)
        change = uow.commit("customer.create")
    if as_json:
        _dump(
            {"id": created.id, "customer_number": created.customer_number, "change_id": change.id}
        )
    else:
        click.echo(
            f"created customer {created.customer_number} ({created.id}) in change {change.id}"
        )


@customer.command("show")
@click.argument("ref")
@click.option("--as-of", help="Show the customer record as it was at this ISO instant.")
@click.option("--json", "as_json", is_flag=True)
def customer_show(ref: str, as_of: str | None, as_json: bool) -> None:
    """Show a customer (by id or customer number) with everything under it."""
    at = _instant(as_of)
    with _errors(), read_connection(_container().engine) as conn:
        if at is not None:
            customer_id = resolve(conn, "customer", ref)
            snapshot = history_q.as_of(conn, "customer", customer_id, at)
            if snapshot is None:
                _fail(f"customer {ref} did not exist at {at.isoformat()}", EXIT_STATE)
            view: dict[str, Any] = {"customer": snapshot, "as_of": at.isoformat()}
        else:
            view = customer_view(conn, ref)
    if as_json:
        _dump(view)
    else:
        from adapter.render import render_customer

        click.echo(render_customer(view))


# ------------------------------------------------------------------------------ history


@main.command("history")
@click.argument("subject")
@click.option("--limit", type=click.IntRange(1), help="At most this many entries (default all).")
@click.option("--offset", default=0, type=click.IntRange(0), help="Skip this many entries.")
@click.option("--newest-first", is_flag=True, help="Newest change first.")
@click.option("--json", "as_json", is_flag=True)
def history_cmd(
    subject: str, limit: int | None, offset: int, newest_first: bool, as_json: bool
) -> None:
    """Timeline of SUBJECT: customer:REF, account:REF, contract:REF or subscriber:REF (REF is an
    id, a number, or for a subscriber its MSISDN)."""
    kind, ref = _subject(subject)
    with _errors(), read_connection(_container().engine) as conn:
        entity_id = resolve(conn, kind, ref)
        entries = history_q.timeline(
            conn, kind, entity_id, limit=limit, offset=offset, newest_first=newest_first
        )
    if as_json:
        _dump([e.as_dict() for e in entries])
        return
    from adapter.render import render_timeline

    click.echo(render_timeline(entries))


@main.command("versions")
@click.argument("entity")
@click.option("--json", "as_json", is_flag=True)
def versions_cmd(entity: str, as_json: bool) -> None:
    """The versions of ENTITY (KIND:ID)."""
    kind, ref = _subject(entity)
    with _errors(), read_connection(_container().engine) as conn:
        found = history_q.versions(conn, kind, _entity_id(conn, kind, ref))
    if as_json:
        _dump(
            [
                {
                    **v.__dict__,
                    "valid_from": v.valid_from.isoformat(),
                    "valid_to": v.valid_to.isoformat() if v.valid_to else None,
                }
                for v in found
            ]
        )
        return
    for v in found:
        click.echo(
            f"v{v.version:<4} {v.op:<7} change {v.change_id:<6} "
            f"{v.valid_from.isoformat(timespec='seconds')}  {v.originating_user:<16} "
            f"{v.operation}  [{v.request_id}]"
        )


@main.command("diff")
@click.argument("entity")
@click.argument("old", type=int)
@click.argument("new", type=int)
@click.option("--json", "as_json", is_flag=True)
def diff_cmd(entity: str, old: int, new: int, as_json: bool) -> None:
    """What changed in ENTITY (KIND:ID) between versions OLD and NEW."""
    kind, ref = _subject(entity)
    with _errors(), read_connection(_container().engine) as conn:
        changes = history_q.diff_versions(conn, kind, _entity_id(conn, kind, ref), old, new)
    if as_json:
        _dump(changes)
        return
    from adapter.render import render_diff

    click.echo(render_diff(changes) or "(no difference)")


@main.command("show")
@click.argument("entity")
@click.option("--as-of", help="ISO instant; default now.")
@click.option("--version", "version", type=int, help="A version number instead of an instant.")
def show_cmd(entity: str, as_of: str | None, version: int | None) -> None:
    """Show any entity (KIND:ID) now, as of an instant, or at a version (always JSON)."""
    kind, ref = _subject(entity)
    at = _instant(as_of)
    with _errors(), read_connection(_container().engine) as conn:
        entity_id = _entity_id(conn, kind, ref)
        if version is not None:
            _dump(history_q.version_snapshot(conn, kind, entity_id, version))
            return
        snapshot = history_q.as_of(conn, kind, entity_id, at or datetime.now().astimezone())
    if snapshot is None:
        _fail(f"{kind} {ref} did not exist at that instant", EXIT_STATE)
    _dump(snapshot)


@main.command("restore")
@click.argument("entity")
@click.option("--version", "version", type=int, required=True, help="Version to restore.")
@click.option("--field", help="Restore only this (dotted) field.")
@actor_options
def restore_cmd(
    entity: str, version: int, field: str | None, user: str | None, request_id: str | None
) -> None:
    """Restore ENTITY (KIND:ID), or one field of it, to an old version, as a new change."""
    kind, ref = _subject(entity)
    with _errors(), UnitOfWork(_container().engine, _actor(user, request_id)) as uow:
        entity_id = _entity_id(uow.connection, kind, ref)
        restore_entity(uow, kind, entity_id, version, field)
        change = uow.commit(
            "restore", {"kind": kind, "id": entity_id, "version": version, "field": field}
        )
    if change.outcome == "unchanged":
        click.echo(
            f"{kind} {entity_id} already has version {version}'s values; change {change.id} "
            "records the request"
        )
    else:
        new_version = next(v for k, i, v, _ in change.versions if (k, i) == (kind, entity_id))
        what = f"field {field}" if field else "all fields"
        click.echo(
            f"restored {what} of {kind} {entity_id} from version {version} as version "
            f"{new_version} (change {change.id})"
        )


# --------------------------------------------------------------------------- attributes


@main.group()
def attributes() -> None:
    """Custom attributes: define, list, retire, reinstate, set."""


@attributes.command("define")
@click.argument("name")
@click.option("--label", required=True)
@click.option(
    "--type",
    "type_",
    required=True,
    type=click.Choice(["string", "integer", "decimal", "date", "boolean", "enum"]),
)
@click.option(
    "--entity",
    "entity_kind",
    required=True,
    type=click.Choice(["customer", "account", "contract", "subscriber"]),
)
@click.option("--required", is_flag=True)
@click.option("--pattern", help="Regular expression a string value must match in full.")
@click.option("--enum-value", "enum_values", multiple=True, help="Allowed value (repeat).")
@actor_options
def attributes_define(
    name: str,
    label: str,
    type_: str,
    entity_kind: str,
    required: bool,
    pattern: str | None,
    enum_values: tuple[str, ...],
    user: str | None,
    request_id: str | None,
) -> None:
    """Define a new attribute; it can be set at once, with no migration or restart."""
    with _errors(), UnitOfWork(_container().engine, _actor(user, request_id)) as uow:
        attribute_svc.define_attribute(
            uow,
            {
                "name": name,
                "label": label,
                "type": type_,
                "entity_kind": entity_kind,
                "required": required,
                "pattern": pattern,
                "enum_values": list(enum_values),
            },
        )
        change = uow.commit("attributes.define", {"name": name})
    click.echo(f"defined attribute {name} on {entity_kind} (change {change.id})")


@attributes.command("list")
@click.option("--all", "include_retired", is_flag=True, help="Include retired definitions.")
@click.option("--json", "as_json", is_flag=True)
def attributes_list(include_retired: bool, as_json: bool) -> None:
    """List attribute definitions."""
    with _errors(), read_connection(_container().engine) as conn:
        found = attribute_definitions(conn, include_retired)
    if as_json:
        _dump(found)
        return
    if not found:
        click.echo("no attributes defined")
    for d in found:
        rules = [
            r
            for r in (
                "required" if d["required"] else "",
                f"pattern {d['pattern']}" if d["pattern"] else "",
                f"one of {', '.join(d['enum_values'])}" if d["enum_values"] else "",
            )
            if r
        ]
        click.echo(
            f"{d['name']:<24} {d['entity_kind']:<11} {d['type']:<8} {d['status']:<8} "
            f"{d['label']}{'  (' + '; '.join(rules) + ')' if rules else ''}"
        )


def _lifecycle(action: str, handler: Callable[[UnitOfWork, str], Any]) -> Callable[..., None]:
    @actor_options
    @click.argument("name")
    def command(name: str, user: str | None, request_id: str | None) -> None:
        with _errors(), UnitOfWork(_container().engine, _actor(user, request_id)) as uow:
            handler(uow, name)
            change = uow.commit(f"attributes.{action}", {"name": name})
        click.echo(f"{action}d attribute {name} (change {change.id})")

    command.__doc__ = f"{action.capitalize()} an attribute definition."
    return command


attributes.command("retire")(_lifecycle("retire", attribute_svc.retire_attribute))
attributes.command("reinstate")(_lifecycle("reinstate", attribute_svc.reinstate_attribute))


@attributes.command("set")
@click.argument("entity")
@click.argument("name")
@click.argument("value", required=False)
@click.option("--clear", is_flag=True, help="Remove the value.")
@actor_options
def attributes_set(
    entity: str, name: str, value: str | None, clear: bool, user: str | None, request_id: str | None
) -> None:
    """Set attribute NAME on ENTITY (KIND:REF) to VALUE."""
    kind, ref = _subject(entity)
    if value is None and not clear:
        _fail("give a VALUE or --clear", EXIT_INPUT)
    with _errors(), UnitOfWork(_container().engine, _actor(user, request_id)) as uow:
        entity_id = resolve(uow.connection, kind, ref)
        attribute_svc.set_attribute(uow, kind, entity_id, name, None if clear else value)
        change = uow.commit("attributes.set", {"name": name, "entity": f"{kind}:{entity_id}"})
    click.echo(f"{'cleared' if clear else 'set'} {name} on {kind} {entity_id} (change {change.id})")


# ---------------------------------------------------------------------------- hierarchy


@main.group()
def hierarchy() -> None:
    """The organisation hierarchy: tree, payer, move, payment responsibility."""


def _account_id(conn: Connection, ref: str) -> str:
    return resolve(conn, "account", ref)


@hierarchy.command("show")
@click.argument("account")
@click.option(
    "--depth",
    "max_depth",
    type=click.IntRange(0),
    default=3,
    show_default=True,
    help="Levels below ACCOUNT to draw.",
)
@click.option(
    "--limit",
    type=click.IntRange(1, 100_000),
    default=500,
    show_default=True,
    help="At most this many nodes.",
)
@click.option("--json", "as_json", is_flag=True)
def hierarchy_show(account: str, max_depth: int, limit: int, as_json: bool) -> None:
    """Draw ACCOUNT (id or number) and its subtree with payers marked: [pays] for a payment
    responsible node, otherwise who pays for it."""
    with _errors(), read_connection(_container().engine) as conn:
        tree = hierarchy_q.subtree(
            conn, _account_id(conn, account), max_depth=max_depth, limit=limit
        )
        above = hierarchy_q.ancestors(conn, tree.root.id)
    if as_json:
        _dump({**tree.as_dict(), "ancestors": [n.as_dict() for n in above]})
        return
    from adapter.render import render_tree

    click.echo(render_tree(tree, above))


@hierarchy.command("payer")
@click.argument("account")
@click.option("--json", "as_json", is_flag=True)
def hierarchy_payer(account: str, as_json: bool) -> None:
    """Who pays for ACCOUNT: itself or its nearest payment-responsible ancestor."""
    with _errors(), read_connection(_container().engine) as conn:
        found = hierarchy_q.payer(conn, _account_id(conn, account))
    if as_json:
        _dump(found.as_dict())
    elif found.payer is None:
        click.echo(f"account {found.account.number}: no payer. {found.reason}")
    elif found.levels_up == 0:
        click.echo(f"account {found.account.number} pays for itself")
    else:
        click.echo(
            f"account {found.account.number} is paid for by {found.payer.number} "
            f"({found.payer.name}), {found.levels_up} level(s) up"
        )


@hierarchy.command("move")
@click.argument("account")
@click.option("--under", "parent", help="New parent account (id or number).")
@click.option("--root", "to_root", is_flag=True, help="Make ACCOUNT a root.")
@click.option("--expected-version", type=int, help="Refuse if ACCOUNT changed since.")
@actor_options
def hierarchy_move(
    account: str,
    parent: str | None,
    to_root: bool,
    expected_version: int | None,
    user: str | None,
    request_id: str | None,
) -> None:
    """Move ACCOUNT with its whole subtree under another parent (or make it a root)."""
    if bool(parent) == to_root:
        _fail("give exactly one of --under PARENT or --root", EXIT_INPUT)
    with _errors(), UnitOfWork(_container().engine, _actor(user, request_id)) as uow:
        account_id = _account_id(uow.connection, account)
        parent_id = None if to_root else _account_id(uow.connection, parent or "")
        moved = hierarchy_svc.move_account(uow, account_id, parent_id, expected_version)
        change = uow.commit("account.move", {"account": account_id, "parent": parent_id})
    where = "to the root" if parent_id is None else f"under {parent}"
    click.echo(f"moved account {moved.number} {where} (change {change.id})")


@hierarchy.command("pays")
@click.argument("account")
@click.option(
    "--yes/--no", "responsible", required=True, help="Whether ACCOUNT is payment responsible."
)
@actor_options
def hierarchy_pays(
    account: str, responsible: bool, user: str | None, request_id: str | None
) -> None:
    """Set or clear payment responsibility on ACCOUNT."""
    with _errors(), UnitOfWork(_container().engine, _actor(user, request_id)) as uow:
        account_id = _account_id(uow.connection, account)
        changed = hierarchy_svc.set_payment_responsibility(uow, account_id, responsible)
        change = uow.commit(
            "account.payment_responsibility", {"account": account_id, "responsible": responsible}
        )
    state = "pays" if responsible else "no longer pays"
    click.echo(f"account {changed.number} {state} (change {change.id})")


@main.command("effective")
@click.argument("subscriber")
@click.option("--on", "on", help="Date (YYYY-MM-DD); default today.")
@click.option("--json", "as_json", is_flag=True)
def effective_cmd(subscriber: str, on: str | None, as_json: bool) -> None:
    """Discounts, promotions and listing suppressions that apply to SUBSCRIBER (id or
    MSISDN), and where each comes from."""
    try:
        day = date.fromisoformat(on) if on else datetime.now(UTC).date()
    except ValueError:
        raise click.BadParameter(f"{on!r} is not a date (YYYY-MM-DD)", param_hint="--on") from None
    with _errors(), read_connection(_container().engine) as conn:
        found = effective_for_subscriber(conn, resolve(conn, "subscriber", subscriber), day)
    if as_json:
        _dump(found.as_dict())
        return
    from adapter.render import render_effective

    click.echo(render_effective(found))


# -------------------------------------------------------------------------------- audit


@main.group("audit")
def audit_group() -> None:
    """The tamper-evident change log."""


@audit_group.command("verify")
@click.option("--expect-head", help="SEQ:HASH recorded earlier outside the database.")
@click.option("--json", "as_json", is_flag=True)
def audit_verify(expect_head: str | None, as_json: bool) -> None:
    """Recompute the hash chain; exit 3 if any change, version or usage line was tampered."""
    expected = None
    if expect_head:
        seq, _, digest = expect_head.partition(":")
        if not seq.isdigit() or len(digest) != 64:
            raise click.BadParameter("write SEQ:HASH as printed by `crm-adapter audit head`")
        expected = (int(seq), digest)
    with _errors(), read_connection(_container().engine) as conn:
        report = audit.verify(conn, expected)
    if as_json:
        _dump(report.as_dict())
    else:
        state = "intact" if report.ok else "TAMPERED"
        click.echo(
            f"change log {state}: {report.changes} changes, {report.versions} versions, "
            f"{report.usage_records} usage lines, {report.entities} current rows; "
            f"head {report.head_seq}:{report.head_hash}"
        )
        for problem in report.problems:
            click.echo(f"  - {problem}")
    if not report.ok:
        sys.exit(EXIT_STATE)


@audit_group.command("head")
@click.option("--json", "as_json", is_flag=True)
def audit_head(as_json: bool) -> None:
    """Print SEQ:HASH of the chain's head, to keep outside the database."""
    with _errors(), read_connection(_container().engine) as conn:
        seq, digest = audit.read_head(conn)
    if as_json:
        _dump({"seq": seq, "hash": digest})
    else:
        click.echo(f"{seq}:{digest}")


# --------------------------------------------------------------------------------- seed


@main.command("seed")
@click.option(
    "--customers",
    type=click.IntRange(1, 1_000_000),
    required=True,
    help="How many (at most 1,000,000 per seed: seeds number customers apart).",
)
@click.option(
    "--seed",
    "seed_value",
    type=click.IntRange(0, 99),
    default=1,
    show_default=True,
    help="The same seed makes the same customers.",
)
@click.option(
    "--batch",
    type=click.IntRange(1, 5000),
    default=100,
    show_default=True,
    help="Customers per audited change.",
)
@click.option("--as-of", "as_of", help="Day the data is relative to (YYYY-MM-DD; default today).")
@click.option("--json", "as_json", is_flag=True)
def seed_cmd(customers: int, seed_value: int, batch: int, as_of: str | None, as_json: bool) -> None:
    """Load a reproducible synthetic telco base: individuals and organisations with addresses
    and contact persons, corporate hierarchies (some deeper than 50 levels), contracts,
    subscribers, services with limits, discounts and promotions, balances, free units, a month
    of usage, suppressed listings and custom attributes."""
    from adapter.seed import seed

    try:
        day = date.fromisoformat(as_of) if as_of else None
    except ValueError:
        raise click.BadParameter(f"{as_of!r} is not a date", param_hint="--as-of") from None
    engine = _container().engine
    with (
        _errors(),
        click.progressbar(
            length=customers, label="seeding", file=sys.stderr, show_pos=True, show_eta=True
        ) as bar,
    ):
        report = seed(
            engine,
            customers,
            seed_value,
            as_of=day,
            batch=batch,
            user=getpass.getuser(),
            progress=bar.update,
        )
    if as_json:
        _dump(report.__dict__)
        return
    click.echo(
        f"seeded {report.customers} customers, {report.accounts} accounts, "
        f"{report.contracts} contracts, {report.subscribers} subscribers, "
        f"{report.usage_records} usage lines ({report.entities} versioned entities) in "
        f"{report.changes} changes, {report.seconds:.1f} s; deepest hierarchy "
        f"{report.deepest_hierarchy} levels"
    )


# --------------------------------------------------------------------------------- demo


@main.command("demo")
def demo_cmd() -> None:
    """Create the store, load the demo data through the unit of work, print a customer."""
    from adapter.demo import DEMO_CUSTOMER, DEMO_MSISDN, load_demo
    from adapter.render import render_customer, render_timeline

    container = _container()
    engine = container.engine
    upgrade(engine)
    loaded = load_demo(engine)
    click.echo(
        f"store: {engine.url.render_as_string()} "
        f"({'demo data loaded' if loaded else 'demo data already there'})\n"
    )
    with _errors(), read_connection(engine) as conn:
        view = customer_view(conn, DEMO_CUSTOMER)
        subscriber_id = resolve(conn, "subscriber", DEMO_MSISDN)
        entries = history_q.timeline(conn, "subscriber", subscriber_id)
        report = audit.verify(conn)
    click.echo(render_customer(view))
    click.echo(f"\nHistory of subscriber {DEMO_MSISDN}")
    click.echo(render_timeline(entries))
    click.echo(
        f"\nAudit: {'intact' if report.ok else 'TAMPERED'}, {report.changes} changes, "
        f"head {report.head_seq}:{report.head_hash[:16]}…"
    )
    click.echo(
        "\nTry: crm-adapter history customer:DEMO-1001 | crm-adapter attributes list | "
        "crm-adapter audit verify"
    )


def _register_commands() -> None:
    # Commands kept in modules of their own import this one for its helpers.
    from adapter.cli_api import serve_cmd, users_group
    from adapter.cli_billing import billing_sim_cmd
    from adapter.cli_billing_push import billing
    from adapter.cli_dlq import dlq_group
    from adapter.cli_import import import_group
    from adapter.cli_notifications import notifications_group
    from adapter.cli_reconcile import reconcile_group
    from adapter.cli_requests import requests_group, submit_cmd
    from adapter.cli_search import search_cmd
    from adapter.cli_sync import sync_group
    from adapter.cli_up import up_cmd
    from adapter.cli_workers import beat_cmd, flower_cmd, ping_cmd, worker_cmd

    main.add_command(search_cmd)
    main.add_command(billing_sim_cmd)
    main.add_command(import_group)
    main.add_command(billing)
    main.add_command(submit_cmd)
    main.add_command(requests_group)
    main.add_command(sync_group)
    main.add_command(dlq_group)
    main.add_command(up_cmd)
    main.add_command(notifications_group)
    main.add_command(reconcile_group)
    main.add_command(serve_cmd)
    main.add_command(users_group)
    for command in (worker_cmd, beat_cmd, flower_cmd, ping_cmd):
        main.add_command(command)


_register_commands()

if __name__ == "__main__":  # pragma: no cover
    main()
