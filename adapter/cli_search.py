"""``crm-adapter search``: find customers by any key (adapter/queries/search.py).

``adapter.cli`` registers this command, so this module imports the CLI's helpers when the
command runs, not when it is imported: either module may then be imported first.
"""

from __future__ import annotations

from typing import Any

import click

from adapter.queries.search import LIMIT_MAX, SearchCriteria, SearchPage, search
from adapter.store.reading import read_connection


@click.command("search")
@click.option("--name", help="Prefix of the name or of any word of it (2+ letters or digits).")
@click.option("--fuzzy", help="A name with typos allowed (3+ letters or digits).")
@click.option("--address", help="Part of an address line (3+ letters or digits).")
@click.option("--postcode")
@click.option("--city")
@click.option("--birth-date", help="YYYY-MM-DD.")
@click.option("--email")
@click.option("--tin", help="Tax identification number.")
@click.option("--personal-id", help="National identity document number.")
@click.option("--passport", help="Passport number.")
@click.option("--msisdn", help="E.164, with or without the leading '+'.")
@click.option("--imsi")
@click.option("--iccid")
@click.option(
    "--former-holders",
    is_flag=True,
    help="MSISDN/IMSI/ICCID also find deactivated subscribers (a recycled number's past owners).",
)
@click.option("--contract", help="Contract number.")
@click.option("--customer-number")
@click.option("--limit", default=50, show_default=True, help=f"At most this many (1-{LIMIT_MAX}).")
@click.option("--offset", default=0, show_default=True, help="Skip this many matches.")
@click.option("--json", "as_json", is_flag=True)
def search_cmd(
    name: str | None,
    fuzzy: str | None,
    address: str | None,
    postcode: str | None,
    city: str | None,
    birth_date: str | None,
    email: str | None,
    tin: str | None,
    personal_id: str | None,
    passport: str | None,
    msisdn: str | None,
    imsi: str | None,
    iccid: str | None,
    former_holders: bool,
    contract: str | None,
    customer_number: str | None,
    limit: int,
    offset: int,
    as_json: bool,
) -> None:
    """Find customers matching every criterion given, ordered by name (with --fuzzy, closest
    first)."""
    from adapter.cli import _container, _dump, _errors

    criteria = SearchCriteria(
        name=name,
        fuzzy_name=fuzzy,
        address=address,
        postcode=postcode,
        city=city,
        birth_date=birth_date,
        email=email,
        tin=tin,
        personal_id=personal_id,
        passport=passport,
        msisdn=msisdn,
        imsi=imsi,
        iccid=iccid,
        contract_number=contract,
        customer_number=customer_number,
        former_holders=former_holders,
    )
    with _errors(), read_connection(_container().engine) as conn:
        page = search(conn, criteria, limit=limit, offset=offset)
    if as_json:
        _dump(page.as_dict())
    else:
        click.echo(render_page(page))


def render_page(page: SearchPage) -> str:
    """A table of the page's customers and a line "N of TOTAL"."""
    fuzzy = any("similarity" in item for item in page.items)
    header = ["NUMBER", "NAME", "BIRTH DATE", "STATUS", *(["SIMILARITY"] if fuzzy else [])]
    rows = [header] + [_cells(item, fuzzy) for item in page.items]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    shown = f"{len(page.items)} of {page.total}"
    if page.offset and page.items:
        shown += f" (from match {page.offset + 1})"
    return "\n".join([*lines, shown] if page.items else [shown])


def _cells(item: dict[str, Any], fuzzy: bool) -> list[str]:
    born = item["birth_date"]
    cells = [
        item["customer_number"],
        item["name"],
        born.isoformat() if born else "-",
        item["status"],
    ]
    if fuzzy:
        cells.append(f"{item['similarity']:.2f}")
    return cells
