"""Synthetic BSCS-style customer exports and usage batches, of any size (wsdl/cil-export.xsd).

For import tests and benchmarks: :func:`write_customer_export` streams ``customers`` records
to a file, one record built and written at a time, so memory does not grow with the file.
The same seed gives the same bytes. Codes are translated with the enum tables of the mappings
(the same tables the importer reads them back with), and every record is written in schema
order from the export XSD, so files are valid against it.

Customers look like those of ``crm-adapter seed`` (names and streets from the seeded Faker
locales of :class:`adapter.seed.Generator`, the same customer numbers, number plans and SIM
serials, organisations with hierarchies, one of them now and then more than 50 levels deep)
but are drawn from small per-locale pools, so a 20,000-customer file takes about ten seconds.

With ``bad_fraction`` a deterministic share of records is made wrong in ways the schema
cannot see and the import must reject: an e-mail address that is none, a SIM serial with a
wrong check digit, a service code no enum table knows. :class:`ExportSummary` lists them.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Literal

from adapter.domain.identifiers import complete_iccid
from adapter.mapping import EXPORT_NAMESPACE, Mappings, load_mappings
from adapter.mapping.converters import parse_step
from adapter.mapping.xsd import XsdElement, lexical

NS = EXPORT_NAMESPACE
Profile = Literal["mixed", "lean"]
BAD_KINDS = ("email", "iccid", "service_code")
DEEP_EVERY = 40  # every 40th organisation has a chain of nodes deeper than 50 levels
_FLAG = parse_step("flag")  # a BSCS flag, X or -


@dataclass
class ExportSummary:
    customers: int = 0
    accounts: int = 0
    contracts: int = 0
    services: int = 0
    discounts: int = 0
    bad: dict[str, str] = field(default_factory=dict)  # customer number → what is wrong


@dataclass
class UsageSummary:
    records: int = 0
    contracts: int = 0


@dataclass
class _Pools:
    first: list[str]
    last: list[str]
    streets: list[str]
    cities: list[str]
    postcodes: list[str]
    companies: list[str]
    domains: list[str]
    users: list[str]


class _Customers:
    """Draws customer records (legacy-shaped dicts, as the export XSD lays them out)."""

    def __init__(self, seed: int, as_of: date, mappings: Mappings, lean: bool = False) -> None:
        from adapter.seed import LOCALES, RATE_PLANS, Generator  # Faker is slow to import

        self.rng = random.Random(seed)  # noqa: S311 - synthetic data, reproducible by design
        self.lean = lean
        self.as_of = as_of
        self.month_start = as_of.replace(day=1)
        self.month_end = (self.month_start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        self.map = mappings
        self.rate_plans = RATE_PLANS
        self.countries = LOCALES
        fakers = Generator(seed, as_of).fakers
        self.pools = {
            locale: _Pools(
                first=[f.first_name() for _ in range(60)],
                last=[f.last_name() for _ in range(60)],
                streets=[f.street_address()[:120] for _ in range(40)],
                cities=[f.city()[:120] for _ in range(30)],
                postcodes=[f.postcode()[:16] for _ in range(30)],
                companies=[f.company()[:150] for _ in range(30)],
                domains=sorted({f.free_email_domain() for _ in range(8)}),
                users=[f.user_name() for _ in range(40)],
            )
            for locale, f in fakers.items()
        }
        self.serial = 0  # contracts: numbers, MSISDN, IMSI and ICCID stay unique
        self.node_serial = 0
        self.assign_serial = 0
        self.organisations = 0

    # ------------------------------------------------------------------ helpers

    def code(self, table: str, value: Any) -> Any:
        return self.map.enum(table, value, "outbound")

    def instant(self, days_back: int) -> str:
        day = self.as_of - timedelta(days=days_back)
        moment = datetime.combine(day, time(), UTC) + timedelta(
            seconds=self.rng.randrange(8 * 3600, 22 * 3600)
        )
        return moment.isoformat().replace("+00:00", "Z")

    def pick(self, items: list[str]) -> str:
        return items[self.rng.randrange(len(items))]

    # ------------------------------------------------------------------ a customer

    def chance(self, p: float) -> bool:
        """A random event, which never happens for lean records."""
        return not self.lean and self.rng.random() < p

    def customer(self, index: int, bad: str | None) -> dict[str, Any]:
        rng = self.rng
        locale = self.pick(list(self.countries))
        country = self.countries[locale]
        pool = self.pools[locale]
        organisation = self.chance(0.15)
        number = f"C{index:08d}"
        self.node_serial += 1
        data: dict[str, Any] = {}
        if organisation:
            self.organisations += 1
            data["partyType"] = self.code("party_types", "organization")
            data["companyName"] = f"{self.pick(pool.companies)} {index}"
            if self.chance(0.3):
                data["tradingName"] = f"{self.pick(pool.last)} {self.pick(pool.companies)}"[:200]
            data["legalForm"] = rng.choice(["GmbH", "AG", "SARL", "Sp. z o.o.", "S.L.", "S.r.l."])
        else:
            data["partyType"] = self.code("party_types", "individual")
            if self.chance(0.2):
                data["title"] = rng.choice(["Dr.", "Prof.", "Mag."])
            data["firstName"] = self.pick(pool.first)
            if self.chance(0.1):
                data["middleName"] = self.pick(pool.first)
            data["lastName"] = self.pick(pool.last)
            if self.chance(0.5):
                data["gender"] = self.code("genders", rng.choice(["female", "male", "unknown"]))
            days = rng.randrange(18 * 365, 90 * 365)
            data["birthDate"] = (self.as_of - timedelta(days=days)).isoformat()
            data["nationality"] = country
        data["language"] = locale[:2]
        user = self.pick(pool.users)
        data["email"] = (
            f"{user}.{index}@{self.pick(pool.domains)}" if bad != "email" else f"{user}.{index}"
        )
        if self.chance(0.5):
            data["phone"] = f"49170{index:08d}"
        data["taxNo"] = f"{country}{index:09d}"
        if organisation:
            data["companyRegNo"] = f"{country}-HR{rng.randrange(10**7):07d}"
        else:
            data["idNo"] = f"P{country}{index:08d}"
            if self.chance(0.2):
                data["passportNo"] = f"X{index:08d}"
        data["segment"] = (
            "corporate" if organisation else rng.choice(["residential", "youth", "senior"])
        )
        data.update(self.billing())
        status = "suspended" if self.chance(0.03) else "active"
        data["csStatus"] = self.code("customer_statuses", status)

        record: dict[str, Any] = {
            "csId": 100_000 + index,
            "csIdPub": number,
            "csLevel": 1,
            "paymentResp": self.code("payment_responsibility", True),
            "data": data,
            "addresses": {"address": self.addresses(pool, country, organisation)},
        }
        if organisation:
            record["contactPersons"] = {"contactPerson": self.contact_persons(pool, index)}
        fields = []
        if self.chance(0.3):
            tier = rng.choice(["bronze", "silver", "gold"])
            fields.append({"name": self.code("info_fields", "loyalty_tier"), "value": tier})
        if self.chance(0.05):
            fields.append({"name": "CRM_SYNC", "value": "N"})  # a field the CRM does not map
        if fields:
            record["infoFields"] = {"field": fields}

        nodes = self.nodes(number, organisation, pool, status) if organisation else []
        parents = {n["parentCsIdPub"] for n in nodes}
        leaves = [n for n in nodes if n["csIdPub"] not in parents]
        owners = leaves or [record]
        for owner in owners:
            count = rng.choice([1, 1, 1, 2, 3]) if organisation else rng.choice([1, 1, 2])
            count = 1 if self.lean else count
            contracts = [self.contract(bad) for _ in range(count)]
            owner["contracts"] = {"contract": contracts}
        if organisation and self.chance(0.3):
            record["discounts"] = {
                "discount": [self.discount("CORP_FRAME", "discount", "account", Decimal(10))]
            }
        if nodes:
            record["subCustomers"] = {"subCustomer": nodes}
        return record

    def billing(self) -> dict[str, Any]:
        rng = self.rng
        billing: dict[str, Any] = {
            "billCycle": rng.choice(["01", "08", "15", "22"]),
            "paymentMethod": self.code(
                "payment_methods", rng.choice(["invoice", "direct_debit", "card"])
            ),
        }
        if self.chance(0.2):
            billing["creditLimit"] = {
                "amount": Decimal(rng.choice([100, 250, 500, 1000])),
                "currency": "EUR",
            }
        return billing

    def addresses(self, pool: _Pools, country: str, organisation: bool) -> list[dict[str, Any]]:
        def address(*roles: str) -> dict[str, Any]:
            return {
                "adrRole": [self.code("address_roles", r) for r in roles],
                "adrLine": [self.pick(pool.streets)],
                "adrZip": self.pick(pool.postcodes),
                "adrCity": self.pick(pool.cities),
                "adrCountry": country,
            }

        main = "registration" if organisation else "residence"
        # invoices usually go to the main address: one BSCS address with two roles
        found = (
            [address(main, "billing")]
            if not self.chance(0.3)
            else [
                address(main),
                address("billing"),
            ]
        )
        if self.chance(0.2):
            shipment = address("shipment")
            shipment["validFrom"] = self.month_start.isoformat()
            found.append(shipment)
        if self.chance(0.1):
            found.append(address("contract"))
        return found

    def contact_persons(self, pool: _Pools, index: int) -> list[dict[str, Any]]:
        people = []
        for role in ("authorized_contact", "billing_contact"):
            people.append(
                {
                    "role": self.code("contact_person_roles", role),
                    "firstName": self.pick(pool.first),
                    "lastName": self.pick(pool.last),
                    "email": f"{role}.{index}@{self.pick(pool.domains)}",
                }
            )
        return people

    def nodes(
        self, number: str, organisation: bool, pool: _Pools, status: str
    ) -> list[dict[str, Any]]:
        """The customer nodes below the root, as a flat list that names each node's parent."""
        rng = self.rng
        nodes: list[dict[str, Any]] = []

        def node(parent: str, level: int, name: str) -> dict[str, Any]:
            self.node_serial += 1
            item = {
                "csId": 500_000 + self.node_serial,
                "csIdPub": f"{number}.{len(nodes) + 1}",
                "parentCsIdPub": parent,
                "csLevel": level,
                "paymentResp": self.code("payment_responsibility", rng.random() < 0.15),
                "name": name[:200],
                **self.billing(),
                "csStatus": self.code("account_statuses", "active"),
            }
            nodes.append(item)
            return item

        if self.organisations % DEEP_EVERY == 1:
            parent = number
            for level in range(2, rng.randrange(52, 70)):
                parent = node(parent, level, f"Unit {level}")["csIdPub"]
            return nodes
        frontier = [number]
        for level in range(2, rng.choice([2, 3, 3, 4]) + 1):
            next_frontier = []
            for parent in frontier:
                for _ in range(rng.randrange(1, 4)):
                    child = node(parent, level, f"{self.pick(pool.cities)} {level}")
                    next_frontier.append(child["csIdPub"])
            frontier = next_frontier[:8]  # a group stays a few dozen nodes
        return nodes

    def contract(self, bad: str | None) -> dict[str, Any]:
        rng = self.rng
        self.serial += 1
        serial = self.serial
        started = self.instant(rng.randrange(40, 2000))
        history = [
            {
                "coStatus": self.code("contract_statuses", "active"),
                "validFrom": started,
                "reason": "activated at sale",
            }
        ]
        status, dn_status = "active", "active"
        roll = 1.0 if self.lean else rng.random()
        if roll < 0.04:
            status = "suspended"
            history.append(
                {
                    "coStatus": self.code("contract_statuses", status),
                    "validFrom": self.instant(20),
                    "reason": "unpaid invoice",
                }
            )
        elif roll < 0.07:
            status = dn_status = "deactivated"
            history.append(
                {
                    "coStatus": self.code("contract_statuses", status),
                    "validFrom": self.instant(35),
                    "reason": "terminated by customer",
                }
            )
        iccid = complete_iccid("49", serial)
        if bad == "iccid":
            iccid = iccid[:-1] + str((int(iccid[-1]) + 1) % 10)
        cap = rng.choice([5, 10, 20, 50, 100])
        services = [
            self.service("VOICE", serial),
            self.service("SMS", serial),
            self.service("DATA", serial, {"apn": "internet"}, [("data_cap", cap, "GB")]),
        ]
        if self.chance(0.4):
            services.append(
                self.service(
                    "ROAMING",
                    serial,
                    limits=[("roaming_limit", 50, "EUR"), ("spending_limit", 150, "EUR")],
                )
            )
        if bad == "service_code":
            services.append(
                {
                    "snCode": 99,
                    "snCodePub": "XFAX",
                    "status": self.code("service_statuses", "active"),
                }
            )
        contract: dict[str, Any] = {
            "coId": 1_000_000 + serial,
            "coIdPub": f"CO{serial:09d}",
            "salesApplNo": f"SO{serial:09d}",
            "rpCode": rng.choice(self.rate_plans),
            "coStatus": self.code("contract_statuses", status),
            "dnNum": f"4915{serial:09d}",
            "dnStatus": self.code("subscriber_statuses", dn_status),
            "smNum": iccid,
            "imsi": f"26201{serial:010d}",
            "statusHistory": {"entry": history},
            "services": {"service": services},
        }
        discounts = []
        if self.chance(0.25):
            discounts.append(self.discount("LOYAL10", "discount", "contract", Decimal(10)))
        if self.chance(0.15):
            promotion = self.discount("WELCOME_DATA", "promotion", "subscriber", Decimal(5))
            promotion.update(
                valueType=self.code("discount_value_types", "amount"),
                currency="EUR",
                validFrom=self.month_start.isoformat(),
                validTo=self.month_end.isoformat(),
            )
            discounts.append(promotion)
        if discounts:
            contract["discounts"] = {"discount": discounts}
        if self.chance(0.1):
            model = rng.choice(["Fairphone 5", "Pixel 9", "iPhone 16", "Galaxy S25"])
            contract["infoFields"] = {
                "field": [{"name": self.code("info_fields", "device_model"), "value": model}]
            }
        return contract

    def service(
        self,
        code: str,
        serial: int,
        parameters: dict[str, str] | None = None,
        limits: list[tuple[str, int, str]] | None = None,
    ) -> dict[str, Any]:
        service: dict[str, Any] = {
            "snCode": {"VOICE": 101, "SMS": 102, "DATA": 104, "ROAMING": 105}.get(code, 199),
            "snCodePub": self.code("service_codes", code),
            "status": self.code("service_statuses", "active"),
        }
        if parameters:
            service["parameters"] = {
                "parameter": [{"prmCode": k.upper(), "value": v} for k, v in parameters.items()]
            }
        if limits:
            service["limits"] = {
                "limit": [
                    {"name": name.upper(), "value": Decimal(value), "unit": unit}
                    for name, value, unit in limits
                ]
            }
        return service

    def discount(self, code: str, kind: str, level: str, value: Decimal) -> dict[str, Any]:
        self.assign_serial += 1
        return {
            "assignId": 9_000_000 + self.assign_serial,
            "kind": self.code("discount_kinds", kind),
            "pdCode": code,
            "level": self.code("discount_levels", level),
            "value": value,
            "valueType": self.code("discount_value_types", "percent"),
            "inherited": _FLAG(True),
        }


def _records(
    customers: int,
    seed: int,
    as_of: date,
    bad_fraction: float,
    mappings: Mappings,
    profile: Profile = "mixed",
) -> Iterator[tuple[dict[str, Any], str | None]]:
    source = _Customers(seed, as_of, mappings, lean=profile == "lean")
    faults = random.Random(seed ^ 0x5EED)  # noqa: S311 - which records are bad, reproducibly
    for index in range(1, customers + 1):
        bad = faults.choice(BAD_KINDS) if faults.random() < bad_fraction else None
        yield source.customer(index, bad), bad


def _declaration(mappings: Mappings, root: str, child: str) -> XsdElement:
    return (mappings.export_schema.element(root).children or {})[child]


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _markup(declaration: XsdElement, value: Any, parts: list[str]) -> None:
    """``value`` as XML text in the order the schema declares the children (a record dict
    may list them in any order); a key the schema does not know is a bug here."""
    name = declaration.name
    children = declaration.children
    if children is None:
        parts.append(f"<{name}>{_escape(lexical(value))}</{name}>")
        return
    unknown = value.keys() - children.keys()
    if unknown:
        raise ValueError(f"{name} has no child element {sorted(unknown)}")
    parts.append(f"<{name}>")
    for child in children.values():
        item = value.get(child.name)
        if item is None:
            continue
        if item.__class__ is list:
            for one in item:
                _markup(child, one, parts)
        else:
            _markup(child, item, parts)
    parts.append(f"</{name}>")


@contextmanager
def _document(
    target: str | Path | IO[bytes], root: str, attributes: dict[str, str]
) -> Iterator[Callable[[XsdElement, dict[str, Any]], None]]:
    """A document with ``root`` around the records written through the yielded function,
    one line each. Records are formatted as text: building them as lxml elements for
    ``xmlfile`` costs several times more, and nothing but one record is ever held."""
    with ExitStack() as stack:
        stream: IO[bytes]
        if isinstance(target, str | Path):
            stream = stack.enter_context(Path(target).open("wb"))
        else:
            stream = target
        head = " ".join(f'{k}="{_escape(v)}"' for k, v in attributes.items())
        stream.write(
            f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{NS}" {head}>\n'.encode()
        )

        def write(declaration: XsdElement, record: dict[str, Any]) -> None:
            parts: list[str] = []
            _markup(declaration, record, parts)
            parts.append("\n")
            stream.write("".join(parts).encode())

        yield write
        stream.write(f"</{root}>\n".encode())


def write_customer_export(
    target: str | Path | IO[bytes],
    customers: int,
    *,
    seed: int = 1,
    as_of: date | None = None,
    bad_fraction: float = 0.0,
    profile: Profile = "mixed",
    mappings: Mappings | None = None,
) -> ExportSummary:
    """Write a customer export of ``customers`` records to ``target`` (a path or a binary
    stream). Deterministic: the same arguments give the same bytes.

    ``profile`` "mixed" draws customers like a real base (organisations with hierarchies,
    optional data, discounts, status changes); "lean" makes every customer a person with one
    address and one contract with three services, for volume tests that care about the
    number of records rather than their variety."""
    day = as_of or date(2025, 1, 31)
    maps = mappings or load_mappings()
    declaration = _declaration(maps, "customerExport", "customer")
    summary = ExportSummary()
    exported_at = datetime.combine(day, time(), UTC).isoformat().replace("+00:00", "Z")
    attributes = {"exportedAt": exported_at, "system": "BSCS"}
    with _document(target, "customerExport", attributes) as write:
        for record, bad in _records(customers, seed, day, bad_fraction, maps, profile):
            write(declaration, record)
            _count(summary, record)
            if bad:
                summary.bad[record["csIdPub"]] = bad
    return summary


def _count(summary: ExportSummary, record: dict[str, Any]) -> None:
    summary.customers += 1
    nodes = [record, *record.get("subCustomers", {}).get("subCustomer", [])]
    summary.accounts += len(nodes)
    for node in nodes:
        summary.discounts += len(node.get("discounts", {}).get("discount", []))
        for contract in node.get("contracts", {}).get("contract", []):
            summary.contracts += 1
            summary.services += len(contract["services"]["service"])
            summary.discounts += len(contract.get("discounts", {}).get("discount", []))


def write_usage_batch(
    target: str | Path | IO[bytes],
    customers: int,
    *,
    seed: int = 1,
    as_of: date | None = None,
    per_contract: int = 3,
    mappings: Mappings | None = None,
) -> UsageSummary:
    """Write a usage batch for the live contracts of the customers that
    :func:`write_customer_export` makes with the same ``customers``, ``seed`` and ``as_of``:
    up to ``per_contract`` records each, this month."""
    day = as_of or date(2025, 1, 31)
    maps = mappings or load_mappings()
    declaration = _declaration(maps, "usageBatch", "udr")
    rng = random.Random(seed * 31 + 7)  # noqa: S311 - synthetic data, reproducible by design
    month_start = day.replace(day=1)
    days = max((day - month_start).days, 1)
    summary = UsageSummary()
    deactivated = maps.enum("contract_statuses", "deactivated", "outbound")
    created = datetime.combine(day, time(), UTC).isoformat().replace("+00:00", "Z")
    attributes = {"createdAt": created, "system": "BSCS"}
    with _document(target, "usageBatch", attributes) as write:
        for record, _bad in _records(customers, seed, day, 0.0, maps):
            nodes = [record, *record.get("subCustomers", {}).get("subCustomer", [])]
            for node in nodes:
                for contract in node.get("contracts", {}).get("contract", []):
                    if contract["coStatus"] == deactivated:
                        continue
                    summary.contracts += 1
                    for _ in range(rng.randrange(1, per_contract + 1)):
                        summary.records += 1
                        write(
                            declaration,
                            _udr(rng, maps, record, node, contract, summary, month_start, days),
                        )
    return summary


def _udr(
    rng: random.Random,
    maps: Mappings,
    customer: dict[str, Any],
    node: dict[str, Any],
    contract: dict[str, Any],
    summary: UsageSummary,
    month_start: date,
    days: int,
) -> dict[str, Any]:
    kind = rng.choices(
        ["voice", "sms", "mms", "data", "roaming_voice", "roaming_sms", "roaming_data", "premium"],
        weights=[40, 25, 2, 25, 3, 1, 3, 1],
    )[0]
    start = datetime.combine(month_start + timedelta(days=rng.randrange(days)), time(), UTC)
    start += timedelta(seconds=rng.randrange(8 * 3600, 22 * 3600))
    voice = kind in ("voice", "roaming_voice", "premium")
    data = kind in ("data", "roaming_data")
    roaming = kind.startswith("roaming")
    charge = Decimal(rng.randrange(0, 250)) / 100 if roaming or kind == "premium" else Decimal(0)
    udr: dict[str, Any] = {
        "udrId": 70_000_000 + summary.records,
        "custCode": customer["csIdPub"],
        "csIdPub": node["csIdPub"],
        "coIdPub": contract["coIdPub"],
        "dnNum": contract["dnNum"],
        "startTime": start.isoformat().replace("+00:00", "Z"),
        "usageType": maps.enum("usage_types", kind, "outbound"),
        "direction": maps.enum(
            "usage_directions", "incoming" if rng.random() < 0.3 else "outgoing", "outbound"
        ),
        "charge": {"amount": charge, "currency": "EUR"},
    }
    if not data:
        udr["otherParty"] = f"+49{rng.randrange(10**9, 10**10)}"
    if voice:
        udr["durationSec"] = rng.randrange(5, 1800)
    if data:
        udr["volumeBytes"] = rng.randrange(10**4, 5 * 10**8)
        udr["fuPackId"] = "DATA_MONTH"
        udr["fuConsumed"] = Decimal(udr["volumeBytes"] // 1024 // 1024)
    if roaming:
        udr["roamingCountry"] = rng.choice(["FR", "AT", "IT", "ES"])
    return udr
