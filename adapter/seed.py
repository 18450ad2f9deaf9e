"""A reproducible synthetic telco customer base (``crm-adapter seed``).

The same ``--seed`` gives the same customers, numbers and trees (instants are relative to the
``as_of`` day). Data goes in through the unit of work like any other write: one audited change
per batch of customers, with a version row for every entity and the usage lines covered by the
change's digest.
"""

from __future__ import annotations

import os
import random
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from faker import Faker
from sqlalchemy import Engine

from adapter.background import ahead
from adapter.domain import Actor, Entity
from adapter.domain.attributes import AttributeDefinition, AttributeValue
from adapter.domain.errors import Conflict
from adapter.domain.identifiers import complete_iccid
from adapter.domain.model import (
    Account,
    Address,
    AssignmentLevel,
    Balance,
    ContactMedium,
    ContactPerson,
    Contract,
    ContractStatus,
    ContractStatusChange,
    Customer,
    DiscountAssignment,
    FreeUnitBucket,
    Identification,
    Individual,
    ListingSuppression,
    Money,
    Organization,
    ServiceAssignment,
    ServiceLimit,
    Subscriber,
    SuppressionScope,
    UsageRecord,
    UsageType,
)
from adapter.store.bulk import PreparedEntity, few_collections, pack, prepare, unpack
from adapter.store.database import after_load, analyze
from adapter.store.uow import DuplicateRequest, UnitOfWork, utcnow

LOCALES = {"de_DE": "DE", "fr_FR": "FR", "pl_PL": "PL", "es_ES": "ES", "it_IT": "IT"}
RATE_PLANS = ("RP_S", "RP_M", "RP_L", "RP_XL", "RP_BUSINESS", "RP_PREPAID")
BOARD_GROUP = "BOARD"
BOARD_SUPPRESSION_ID = "00000000-0000-4000-8000-00000000b0a2"  # one per store, whatever seed
# The definitions' ids are fixed too, so that the same seed makes the same store, hashes and all.
LOYALTY_TIER_ID = "00000000-0000-4000-8000-0000000a0001"
DEVICE_MODEL_ID = "00000000-0000-4000-8000-0000000a0002"
PARALLEL_FROM = 1000  # customers; below, starting a second process costs more than it saves
# Usage kinds drawn by weight (40, 25, 2, 25, 3, 1, 3, 1), summed once: ``choices`` with
# cumulative weights draws exactly what it draws with the weights.
USAGE_TYPES = list(UsageType)
USAGE_CUM_WEIGHTS = [40, 65, 67, 92, 95, 96, 99, 100]
ROAMING_USAGE = frozenset(k for k in UsageType if k.value.startswith("roaming"))
DEEP_EVERY = 40  # the 1st, 41st, 81st… organisation gets a hierarchy deeper than 50 levels


@dataclass
class SeedReport:
    customers: int = 0
    accounts: int = 0
    contracts: int = 0
    subscribers: int = 0
    usage_records: int = 0
    entities: int = 0
    changes: int = 0
    deepest_hierarchy: int = 0
    seconds: float = 0.0
    samples: dict[str, str] = field(default_factory=dict)  # one value per search key


@dataclass
class _Bundle:
    entities: list[Entity]
    usage: list[UsageRecord]
    depth: int


@dataclass
class _Tally:
    """What one customer adds to the report (counted where the customer is made)."""

    entities: int
    usage: int
    depth: int
    accounts: int
    contracts: int
    subscribers: int
    customer_number: str | None
    msisdn: str | None


@dataclass
class _Batch:
    """One batch of customers, as entities (the normal path) or prepared (the bulk path)."""

    tallies: list[_Tally]
    bundles: list[_Bundle] | None = None
    prepared: list[PreparedEntity] | None = None

    def __reduce__(self) -> tuple[typing.Any, ...]:
        # Prepared records travel as plain tuples (see ``adapter.store.bulk.pack``).
        packed = None if self.prepared is None else pack(self.prepared)
        return (_rebuilt, (self.tallies, self.bundles, packed))


def _rebuilt(
    tallies: list[_Tally],
    bundles: list[_Bundle] | None,
    packed: list[tuple[typing.Any, ...]] | None,
) -> _Batch:
    return _Batch(tallies, bundles, None if packed is None else unpack(packed))


def _stable_lists(fake: Faker) -> None:
    """Sort the word lists that a provider builds from a set (Faker's Italian cities): set
    order follows the process's string hash seed, so the same seed would make other data in
    another process."""
    for provider in fake.get_providers():
        cities = getattr(provider, "cities", None)
        if isinstance(cities, list):
            provider.cities = sorted(cities)


class Generator:
    """Builds customers one at a time from a seeded random source."""

    def __init__(self, seed: int, as_of: date, first_serial: int = 0) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - synthetic data, reproducible by design
        self.fakers = {loc: Faker(loc) for loc in LOCALES}
        for i, fake in enumerate(self.fakers.values()):
            fake.seed_instance(seed * 7919 + i)
            _stable_lists(fake)
        self.as_of = as_of
        self.month_start = as_of.replace(day=1)
        self.month_end = (self.month_start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        self.serial = first_serial  # numbers subscribers: MSISDN, IMSI and ICCID stay unique
        self.account_serial = 0
        self.organisations = 0
        self.ids = 0
        self.midnight = datetime.combine(as_of, time(), UTC)  # of the as-of day
        self.id_epoch_ms = int(self.midnight.timestamp() * 1000)
        # One charge object for every free listing line (nine in ten): validating a new one for
        # each was a tenth of a line's cost, and listing lines are never changed.
        self.no_charge = Money(amount=Decimal(0), currency="EUR")

    def _id(self) -> str:
        """A time-ordered id laid out as a UUIDv7 (RFC 9562), as ``new_id`` makes them, but
        reproducible: a millisecond clock that starts at the as-of day and advances by one
        every 4,096 ids, a 12-bit counter, then random bits. Ids made later sort later, so
        every index on an id column (the primary keys, the owners' keys of every row, the
        version rows' keys) grows at its end instead of taking each new key on a random page:
        at 100,000 customers those indexes no longer fit in PostgreSQL's buffers, and random
        inserts made it rewrite pages all over them (745 s for 100,000 customers with random
        ids, 447 s with these). The random source advances by 128 bits per id, as it did with
        random ids, so a seed makes the same customers as before."""
        self.ids += 1
        clock = self.id_epoch_ms + self.ids // 4096
        random_bits = self.rng.getrandbits(128) & (1 << 62) - 1
        value = clock << 80 | 0x7 << 76 | (self.ids % 4096) << 64 | 0b10 << 62 | random_bits
        # What str(uuid.UUID(int=value)) gives, without building a UUID (a fifth of the time).
        digits = f"{value:032x}"
        return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"

    def _instant(self, days_back: int) -> datetime:
        seconds = self.rng.randrange(8 * 3600, 22 * 3600)
        return self.midnight + timedelta(days=-days_back, seconds=seconds)

    def customer(self, index: int) -> _Bundle:
        locale = self.rng.choice(list(LOCALES))
        fake = self.fakers[locale]
        country = LOCALES[locale]
        organisation = self.rng.random() < 0.15
        if organisation:
            self.organisations += 1
        number = f"C{index:08d}"
        cid = self._id()
        addresses = self._addresses(fake, country, organisation)
        mail_name = f"{fake.user_name()}.{index}"
        contacts = [
            ContactMedium(
                type="email", value=f"{mail_name}@{fake.free_email_domain()}", preferred=True
            )
        ]
        idents: list[Identification] = []
        persons: list[ContactPerson] = []
        if organisation:
            party: Individual | Organization = Organization(
                name=f"{fake.company()} {index}",
                legal_form=self.rng.choice(["GmbH", "AG", "SARL", "Sp. z o.o.", "S.L.", "S.r.l."]),
            )
            idents.append(
                Identification(
                    type="company_registration",
                    value=f"{country}-HR{self.rng.randrange(10**7):07d}",
                )
            )
            idents.append(
                Identification(type="tin", value=f"{country}{index:09d}", issuing_country=country)
            )
            for role in ("authorized_contact", "billing_contact"):
                persons.append(
                    ContactPerson(
                        id=self._id(),
                        role=role,
                        given_name=fake.first_name(),
                        family_name=fake.last_name(),
                        contact_media=[
                            ContactMedium(
                                type="email", value=f"{role}.{index}@{fake.free_email_domain()}"
                            )
                        ],
                    )
                )
        else:
            party = Individual(
                given_name=fake.first_name(),
                family_name=fake.last_name(),
                birth_date=self.as_of - timedelta(days=self.rng.randrange(18 * 365, 90 * 365)),
                nationality=country,
            )
            idents.append(
                Identification(type="tin", value=f"{country}{index:09d}", issuing_country=country)
            )
            idents.append(
                Identification(
                    type="personal_id", value=f"P{country}{index:08d}", issuing_country=country
                )
            )
            if self.rng.random() < 0.2:
                idents.append(
                    Identification(type="passport", value=f"X{index:08d}", issuing_country=country)
                )
            if self.rng.random() < 0.05:
                persons.append(
                    ContactPerson(
                        id=self._id(),
                        role="authorized_contact",
                        given_name=fake.first_name(),
                        family_name=fake.last_name(),
                    )
                )
        customer = Customer(
            id=cid,
            customer_number=number,
            party=party,
            identifications=idents,
            contact_media=contacts,
            addresses=addresses,
            contact_persons=persons,
            segment="corporate"
            if organisation
            else self.rng.choice(["residential", "residential", "youth", "senior"]),
            status="active" if self.rng.random() < 0.97 else "suspended",
        )
        accounts, depth = self._accounts(customer, organisation, fake)
        entities: list[Entity] = [customer, *accounts]
        usage: list[UsageRecord] = []
        leaves = [a for a in accounts if a.parent_id is not None] or accounts
        for account in leaves if organisation else accounts:
            for _ in range(
                self.rng.choice([1, 1, 1, 2, 3]) if organisation else self.rng.choice([1, 1, 2])
            ):
                contract_entities, contract_usage = self._contract(customer, account, fake)
                entities.extend(contract_entities)
                usage.extend(contract_usage)
        for account in accounts:
            if account.payment_responsible:
                entities.append(
                    Balance(
                        id=self._id(),
                        customer_id=cid,
                        account_id=account.id,
                        currency="EUR",
                        current=-Decimal(self.rng.randrange(0, 50000)) / 100,
                        unbilled=Decimal(self.rng.randrange(0, 9000)) / 100,
                        outstanding=Decimal(self.rng.randrange(0, 20000)) / 100,
                        as_of=self._instant(0),
                    )
                )
        if organisation and self.rng.random() < 0.3:
            entities.append(
                DiscountAssignment(
                    id=self._id(),
                    customer_id=cid,
                    account_id=accounts[0].id,
                    code="CORP_FRAME",
                    level=AssignmentLevel.ACCOUNT,
                    value=Decimal(self.rng.choice([5, 10, 15])),
                )
            )
        if organisation and self.rng.random() < 0.1:
            target = self.rng.choice(accounts)
            entities.append(
                ListingSuppression(
                    id=self._id(),
                    scope_type=SuppressionScope.ACCOUNT,
                    customer_id=cid,
                    account_id=target.id,
                    reason="works council agreement",
                )
            )
        if self.rng.random() < 0.3:
            entities.append(
                AttributeValue(
                    id=self._id(),
                    name="loyalty_tier",
                    entity_kind="customer",
                    entity_id=cid,
                    value=self.rng.choice(["bronze", "silver", "gold"]),
                    customer_id=cid,
                )
            )
        return _Bundle(entities, usage, depth)

    def _addresses(self, fake: Faker, country: str, organisation: bool) -> list[Address]:
        def address(role: str) -> Address:
            return Address(
                role=role,
                lines=[fake.street_address()[:120]],
                postcode=fake.postcode()[:16],
                city=fake.city()[:200],
                country=country,
            )

        main = "registration" if organisation else "residence"
        found = [address(main)]
        same = Address(**{**found[0].model_dump(), "role": "billing"})  # invoices go home
        found.append(same if self.rng.random() < 0.7 else address("billing"))
        if self.rng.random() < 0.2:
            found.append(address("shipment"))
        if self.rng.random() < 0.1:
            found.append(address("contract"))
        return found

    def _accounts(
        self, customer: Customer, organisation: bool, fake: Faker
    ) -> tuple[list[Account], int]:
        def account(name: str, parent: Account | None, pays: bool) -> Account:
            self.account_serial += 1
            return Account(
                id=self._id(),
                customer_id=customer.id,
                name=name[:200],
                number=f"{customer.customer_number}.{self.account_serial}",
                parent_id=parent.id if parent else None,
                payment_responsible=pays,
                bill_cycle=self.rng.choice(["01", "08", "15", "22"]),
                payment_method=self.rng.choice(["invoice", "direct_debit", "card"]),
            )

        root = account(customer.display_name, None, True)
        if not organisation:
            return [root], 1
        accounts = [root]
        if self.organisations % DEEP_EVERY == 1:
            depth = self.rng.randrange(51, 80)  # a group with a very deep structure
            parent = root
            for level in range(1, depth):
                parent = account(f"Unit {level}", parent, self.rng.random() < 0.05)
                accounts.append(parent)
            return accounts, depth
        levels = self.rng.choice([2, 2, 3, 3, 4, 5])
        frontier = [root]
        for level in range(1, levels):
            next_frontier = []
            for parent in frontier:
                for _ in range(self.rng.randrange(1, 4)):
                    child = account(f"{fake.city()} {level}", parent, self.rng.random() < 0.15)
                    accounts.append(child)
                    next_frontier.append(child)
            frontier = next_frontier[:12]  # keep a group to a few dozen accounts
        return accounts, levels

    def _contract(
        self, customer: Customer, account: Account, fake: Faker
    ) -> tuple[list[Entity], list[UsageRecord]]:
        self.serial += 1
        serial = self.serial
        kid = self._id()
        started = self._instant(self.rng.randrange(40, 2000))
        history = [
            ContractStatusChange(
                status=ContractStatus.ACTIVE, at=started, reason="activated at sale"
            )
        ]
        status = ContractStatus.ACTIVE
        roll = self.rng.random()
        if roll < 0.04:
            status = ContractStatus.SUSPENDED
            history.append(
                ContractStatusChange(status=status, at=self._instant(20), reason="unpaid invoice")
            )
        elif roll < 0.07:
            status = ContractStatus.DEACTIVATED
            history.append(
                ContractStatusChange(
                    status=status, at=self._instant(35), reason="terminated by customer"
                )
            )
        contract = Contract(
            id=kid,
            customer_id=customer.id,
            account_id=account.id,
            number=f"CO{serial:09d}",
            rate_plan=self.rng.choice(RATE_PLANS),
            sales_application_number=f"SO{serial:09d}",
            status=status,
            status_history=history,
        )
        live = status is not ContractStatus.DEACTIVATED
        groups = [BOARD_GROUP] if self.rng.random() < 0.01 else []
        sub = Subscriber(
            id=self._id(),
            customer_id=customer.id,
            account_id=account.id,
            contract_id=kid,
            msisdn=f"+4915{serial:09d}",
            imsi=f"26201{serial:010d}",
            iccid=complete_iccid("49", serial),
            status="active" if live else "deactivated",
            listing_groups=groups,
        )
        scope = {
            "customer_id": customer.id,
            "account_id": account.id,
            "contract_id": kid,
            "subscriber_id": sub.id,
        }
        entities: list[Entity] = [contract, sub]
        cap = self.rng.choice([5, 10, 20, 50, 100])
        entities.append(ServiceAssignment(id=self._id(), **scope, service_code="VOICE"))
        entities.append(ServiceAssignment(id=self._id(), **scope, service_code="SMS"))
        entities.append(
            ServiceAssignment(
                id=self._id(),
                **scope,
                service_code="DATA",
                parameters={"apn": "internet"},
                limits=[ServiceLimit(name="data_cap", value=Decimal(cap), unit="GB")],
            )
        )
        if self.rng.random() < 0.4:
            entities.append(
                ServiceAssignment(
                    id=self._id(),
                    **scope,
                    service_code="ROAMING",
                    limits=[
                        ServiceLimit(name="roaming_limit", value=Decimal(50), unit="EUR"),
                        ServiceLimit(name="spending_limit", value=Decimal(150), unit="EUR"),
                    ],
                )
            )
        if self.rng.random() < 0.25:
            entities.append(
                DiscountAssignment(
                    id=self._id(),
                    **{k: v for k, v in scope.items() if k != "subscriber_id"},
                    code="LOYAL10",
                    level=AssignmentLevel.CONTRACT,
                    value=Decimal(10),
                )
            )
        if self.rng.random() < 0.15:
            entities.append(
                DiscountAssignment(
                    id=self._id(),
                    **scope,
                    discount_kind="promotion",
                    code="WELCOME_DATA",
                    level=AssignmentLevel.SUBSCRIBER,
                    value=Decimal(5),
                    value_type="amount",
                    currency="EUR",
                    valid_from=self.month_start,
                    valid_to=self.month_end,
                )
            )
        if self.rng.random() < 0.02:
            entities.append(
                ListingSuppression(
                    id=self._id(),
                    scope_type=SuppressionScope.SUBSCRIBER,
                    **scope,
                    reason="customer request",
                )
            )
        granted_mb = Decimal(cap * 1024)
        used_mb = (granted_mb * Decimal(self.rng.randrange(0, 100)) / 100).quantize(Decimal(1))
        for package, unit, granted, used in (
            ("DATA_MONTH", "mb", granted_mb, used_mb),
            ("VOICE_MONTH", "minutes", Decimal(300), Decimal(self.rng.randrange(0, 300))),
            ("SMS_MONTH", "sms", Decimal(100), Decimal(self.rng.randrange(0, 100))),
        ):
            entities.append(
                FreeUnitBucket(
                    id=self._id(),
                    **scope,
                    package=package,
                    unit=unit,
                    granted=granted,
                    used=used,
                    period_start=self.month_start,
                    period_end=self.month_end,
                    as_of=self._instant(0),
                )
            )
        if self.rng.random() < 0.1:
            entities.append(
                AttributeValue(
                    id=self._id(),
                    name="device_model",
                    entity_kind="subscriber",
                    entity_id=sub.id,
                    value=self.rng.choice(["Fairphone 5", "Pixel 9", "iPhone 16", "Galaxy S25"]),
                    **scope,
                )
            )
        usage = self._usage(scope, fake) if live else []
        return entities, usage

    def _usage(self, scope: dict[str, str], fake: Faker) -> list[UsageRecord]:
        days = max((self.as_of - self.month_start).days, 1)
        records = []
        for _ in range(self.rng.randrange(3, 16)):
            kind = self.rng.choices(USAGE_TYPES, cum_weights=USAGE_CUM_WEIGHTS)[0]
            start = self._instant(self.rng.randrange(0, days))
            voice = kind in (UsageType.VOICE, UsageType.ROAMING_VOICE, UsageType.PREMIUM)
            data = kind in (UsageType.DATA, UsageType.ROAMING_DATA)
            roaming = kind in ROAMING_USAGE
            charge = (
                Money(amount=Decimal(self.rng.randrange(0, 250)) / 100, currency="EUR")
                if roaming or kind is UsageType.PREMIUM
                else self.no_charge
            )
            records.append(
                UsageRecord(
                    id=self._id(),
                    **scope,
                    start_time=start,
                    type=kind,
                    other_party=None if data else f"+49{self.rng.randrange(10**9, 10**10)}",
                    duration_seconds=self.rng.randrange(5, 1800) if voice else None,
                    volume_bytes=self.rng.randrange(10**4, 5 * 10**8) if data else None,
                    charge=charge,
                    roaming_country=self.rng.choice(["FR", "AT", "IT", "ES"]) if roaming else None,
                )
            )
        return records


def _definitions() -> list[Entity]:
    return [
        AttributeDefinition(
            id=LOYALTY_TIER_ID,
            name="loyalty_tier",
            label="Loyalty tier",
            type="enum",
            entity_kind="customer",
            enum_values=["bronze", "silver", "gold"],
        ),
        AttributeDefinition(
            id=DEVICE_MODEL_ID,
            name="device_model",
            label="Device model",
            type="string",
            entity_kind="subscriber",
        ),
        ListingSuppression(
            id=BOARD_SUPPRESSION_ID,
            scope_type=SuppressionScope.GROUP,
            group_name=BOARD_GROUP,
            reason="board members' numbers",
        ),
    ]


def seed(
    engine: Engine,
    customers: int,
    seed_value: int,
    *,
    as_of: date | None = None,
    batch: int = 100,
    user: str = "seed",
    progress: Callable[[int], None] | None = None,
    parallel: bool | None = None,
    bulk: bool = True,
    clock: Callable[[], datetime] = utcnow,
) -> SeedReport:
    """Load ``customers`` synthetic customers; each batch is one audited change.

    ``bulk`` (the default) writes through the unit of work's trusted bulk path
    (``adapter.store.bulk``: entities prepared once, where they are made); without it every
    entity goes through ``UnitOfWork.add``. Both store the same rows and, for the same
    ``clock``, the same chain."""
    import time as clock_time

    started = clock_time.perf_counter()
    report = SeedReport()
    day = as_of or date.today()

    def actor(step: str) -> Actor:
        return Actor(
            originating_user=user,
            principal="crm-adapter-seed",
            channel="seed",
            request_id=f"seed-{seed_value}-{customers}-{step}",
        )

    with UnitOfWork(engine, actor("definitions"), clock=clock) as uow:
        wanted = [
            e
            for e in _definitions()
            if (isinstance(e, AttributeDefinition) and not uow.find_by(type(e), name=e.name))
            or (isinstance(e, ListingSuppression) and uow.find(type(e), e.id) is None)
        ]
        if wanted:
            uow.add_all(wanted)
            uow.commit("seed.definitions")
            report.changes += 1
    next_analyze = 1000

    def load(start: int, made: _Batch) -> None:
        try:
            with UnitOfWork(engine, actor(f"batch-{start // batch}"), clock=clock) as uow:
                if made.prepared is not None:
                    uow.add_prepared(made.prepared)
                for bundle in made.bundles or ():
                    uow.add_all(bundle.entities)
                    uow.add_all(bundle.usage)
                uow.commit(
                    "seed.batch",
                    {"seed": seed_value, "first": start, "customers": len(made.tallies)},
                )
        except DuplicateRequest:
            raise Conflict(
                f"seed {seed_value} with {customers} customers is already loaded into this "
                "store (its batches were applied before); use another --seed"
            ) from None

    parallel = _parallel(engine, customers, parallel)
    batches = _batches(seed_value, day, customers, batch, parallel, bulk)
    try:
        with few_collections():
            for start, made in batches:
                load(start, made)
                report.changes += 1
                for tally in made.tallies:
                    _count(report, tally)
                if report.customers >= next_analyze:  # statistics that keep up with the load
                    analyze(engine)
                    next_analyze *= 4
                if progress is not None:
                    progress(len(made.tallies))
    finally:
        batches.close()
    after_load(engine)
    report.seconds = clock_time.perf_counter() - started
    return report


def _parallel(engine: Engine, customers: int, wanted: bool | None) -> bool:
    """Whether a second process makes the batches while this one writes them. By default:
    from ``PARALLEL_FROM`` customers, on PostgreSQL, on a machine with more than one core."""
    if wanted is not None:
        return wanted
    return (
        customers >= PARALLEL_FROM
        and engine.dialect.name == "postgresql"
        and (os.cpu_count() or 1) > 1
    )


def _batches(
    seed_value: int, day: date, customers: int, batch: int, parallel: bool, bulk: bool
) -> typing.Generator[tuple[int, _Batch], None, None]:
    """The batches to load, in order: made here, or (``parallel``) by a second process while
    this one writes. Both give the same data: it only depends on the seed and the order of
    the calls."""
    if not parallel:
        generator = Generator(seed_value, day, first_serial=seed_value * 10**7)
        for start in range(0, customers, batch):
            count = min(batch, customers - start)
            bundles = [generator.customer(seed_value * 10**6 + start + i) for i in range(count)]
            tallies = [_tally(b) for b in bundles]
            if bulk:
                records = prepare(e for b in bundles for e in (*b.entities, *b.usage))
                yield start, _Batch(tallies, prepared=records)
            else:
                yield start, _Batch(tallies, bundles=bundles)
        return
    made = ahead(
        _generate, (seed_value, day, customers, batch, bulk), name="the seed generator process"
    )
    for start, item in zip(range(0, customers, batch), made, strict=True):
        yield start, item


def _generate(
    seed_value: int, day: date, customers: int, batch: int, bulk: bool
) -> Iterator[_Batch]:
    """The second process's work: every batch, in order (prepared, on the bulk path)."""
    with few_collections():
        for _start, made in _batches(seed_value, day, customers, batch, False, bulk):
            yield made


def _tally(bundle: _Bundle) -> _Tally:
    found = _Tally(len(bundle.entities), len(bundle.usage), bundle.depth, 0, 0, 0, None, None)
    for entity in bundle.entities:
        if isinstance(entity, Account):
            found.accounts += 1
        elif isinstance(entity, Contract):
            found.contracts += 1
        elif isinstance(entity, Subscriber):
            found.subscribers += 1
            found.msisdn = found.msisdn or entity.msisdn
        elif isinstance(entity, Customer):
            found.customer_number = entity.customer_number
    return found


def _count(report: SeedReport, tally: _Tally) -> None:
    report.customers += 1
    report.entities += tally.entities
    report.usage_records += tally.usage
    report.accounts += tally.accounts
    report.contracts += tally.contracts
    report.subscribers += tally.subscribers
    report.deepest_hierarchy = max(report.deepest_hierarchy, tally.depth)
    if tally.msisdn:
        report.samples.setdefault("msisdn", tally.msisdn)
    if tally.customer_number:
        report.samples.setdefault("customer_number", tally.customer_number)


def iter_customers(seed_value: int, count: int, as_of: date) -> Iterator[Customer]:
    """The customers a seed makes, without storing them (to know what to search for)."""
    generator = Generator(seed_value, as_of, first_serial=seed_value * 10**7)
    for i in range(count):
        bundle = generator.customer(seed_value * 10**6 + i)
        yield next(e for e in bundle.entities if isinstance(e, Customer))
