"""Customer search (adapter.queries.search and ``crm-adapter search``), on each backend."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, event, func, inspect, select, text

from adapter.bootstrap import Container
from adapter.cli import EXIT_INPUT
from adapter.cli_search import search_cmd
from adapter.domain import Actor
from adapter.domain.errors import ValidationFailed
from adapter.domain.identifiers import search_text
from adapter.domain.model import (
    Address,
    ContactMedium,
    Contract,
    Customer,
    Identification,
    Individual,
    Organization,
    Subscriber,
    SubscriberStatus,
)
from adapter.queries.search import (
    CUSTOMER_NAME_WORD_TABLE,
    DIALECT_ONLY_INDEXES,
    LIMIT_MAX,
    NAME_FTS_TABLE,
    NAME_WORD_TABLE,
    SearchCriteria,
    SearchPage,
    search,
)
from adapter.service.customers import update_customer
from adapter.settings import Settings
from adapter.store.reading import read_connection
from adapter.store.uow import UnitOfWork
from tests import factories as f

MakeActor = Callable[..., Actor]


def address(line: str, postcode: str, city: str, role: str = "residence") -> Address:
    return Address(role=role, lines=[line], postcode=postcode, city=city, country="DE")


def person(given: str, family: str, born: date) -> Individual:
    return Individual(given_name=given, family_name=family, birth_date=born)


@dataclass
class World:
    """Four customers whose keys differ, each with a contract and a subscriber."""

    ana: Customer  # Ana Müller, Berlin; a second (billing) address in Hamburg
    anatol: Customer  # Anatol Schmidt, München
    nordwind: Customer  # Nordwind GmbH, an organisation in Hamburg
    bernd: Customer  # Bernd Müller, Berlin
    contracts: dict[str, str]  # customer number -> contract number
    subscribers: dict[str, Subscriber]  # customer number -> subscriber

    @property
    def everyone(self) -> list[Customer]:
        return [self.ana, self.anatol, self.nordwind, self.bernd]


@pytest.fixture
def world(engine: Engine, actor: MakeActor) -> World:
    ana = f.customer(
        customer_number="C-ANA",
        party=person("Ana", "Müller", date(1984, 5, 17)),
        identifications=[
            Identification(type="tin", value="DE 123 456 789"),
            Identification(type="personal_id", value="L01X00T47"),
            Identification(type="passport", value="C01X00T47"),
        ],
        contact_media=[ContactMedium(type="email", value="Ana.Mueller@Example.com")],
        addresses=[
            address("Hauptstraße 5", "10115", "Berlin"),
            address("Postfach 12 34", "20095", "Hamburg", role="billing"),
        ],
    )
    anatol = f.customer(
        customer_number="C-ANATOL",
        party=person("Anatol", "Schmidt", date(1990, 2, 3)),
        identifications=[
            Identification(type="tin", value="DE987654321"),
            Identification(type="personal_id", value="T22000129"),
        ],
        contact_media=[ContactMedium(type="email", value="anatol@example.com")],
        addresses=[address("Lindenallee 12", "80331", "München")],
    )
    nordwind = f.customer(
        customer_number="C-NORD",
        party=Organization(name="Nordwind GmbH"),
        identifications=[Identification(type="tin", value="DE555444333")],
        contact_media=[ContactMedium(type="email", value="info@nordwind.example")],
        addresses=[address("Hafenstraße 1", "20457", "Hamburg", role="registration")],
    )
    bernd = f.customer(
        customer_number="C-BERND",
        party=person("Bernd", "Müller", date(1975, 11, 30)),
        identifications=[Identification(type="tin", value="DE111222333")],
        contact_media=[ContactMedium(type="email", value="bernd@example.com")],
        addresses=[address("Friedrichstraße 100", "10117", "Berlin")],
    )
    contracts: dict[str, str] = {}
    subscribers: dict[str, Subscriber] = {}
    with UnitOfWork(engine, actor("agent.setup")) as uow:
        for c in (ana, anatol, nordwind, bernd):
            a = f.account(c)
            k = f.contract(a)
            s = f.subscriber(k)
            uow.add_all([c, a, k, s])
            contracts[c.customer_number] = k.number
            subscribers[c.customer_number] = s
        uow.commit("setup")
    return World(ana, anatol, nordwind, bernd, contracts, subscribers)


def find(engine: Engine, criteria: SearchCriteria, **page: int) -> SearchPage:
    with read_connection(engine) as conn:
        return search(conn, criteria, **page)


def numbers(engine: Engine, **criteria: Any) -> list[str]:
    return [i["customer_number"] for i in find(engine, SearchCriteria(**criteria)).items]


# ------------------------------------------------------------------------- every key

KEYS: list[tuple[str, Callable[[World], dict[str, Any]], str]] = [
    ("name", lambda w: {"name": "Schmidt"}, "C-ANATOL"),
    ("fuzzy_name", lambda w: {"fuzzy_name": "Nordwnd"}, "C-NORD"),
    ("address", lambda w: {"address": "lindenallee"}, "C-ANATOL"),
    ("postcode", lambda w: {"postcode": "10117"}, "C-BERND"),
    ("city", lambda w: {"city": "munchen"}, "C-ANATOL"),
    ("birth_date", lambda w: {"birth_date": "1984-05-17"}, "C-ANA"),
    ("birth_date as date", lambda w: {"birth_date": date(1975, 11, 30)}, "C-BERND"),
    ("email", lambda w: {"email": "ana.mueller@example.COM"}, "C-ANA"),
    ("tin", lambda w: {"tin": "de123456789"}, "C-ANA"),
    ("personal_id", lambda w: {"personal_id": "T22000129"}, "C-ANATOL"),
    ("passport", lambda w: {"passport": "C01X00T47"}, "C-ANA"),
    ("msisdn", lambda w: {"msisdn": w.subscribers["C-NORD"].msisdn}, "C-NORD"),
    (
        "msisdn without plus",
        lambda w: {"msisdn": w.subscribers["C-BERND"].msisdn.lstrip("+")},
        "C-BERND",
    ),
    ("imsi", lambda w: {"imsi": w.subscribers["C-ANATOL"].imsi}, "C-ANATOL"),
    ("iccid", lambda w: {"iccid": w.subscribers["C-ANA"].iccid}, "C-ANA"),
    ("contract_number", lambda w: {"contract_number": w.contracts["C-BERND"]}, "C-BERND"),
    ("customer_number", lambda w: {"customer_number": "C-NORD"}, "C-NORD"),
]


@pytest.mark.parametrize(("criteria", "expected"), [k[1:] for k in KEYS], ids=[k[0] for k in KEYS])
def test_each_key_finds_its_customer_and_no_other(
    engine: Engine, world: World, criteria: Callable[[World], dict[str, Any]], expected: str
) -> None:
    assert numbers(engine, **criteria(world)) == [expected]


def test_an_item_describes_the_customer(engine: Engine, world: World) -> None:
    page = find(engine, SearchCriteria(customer_number="C-ANA"))
    assert page.total == 1
    assert page.items == [
        {
            "id": world.ana.id,
            "customer_number": "C-ANA",
            "name": "Ana Müller",
            "party_kind": "individual",
            "birth_date": date(1984, 5, 17),
            "status": "active",
            "segment": "residential",
        }
    ]


def test_an_organisation_is_named_by_its_name(engine: Engine, world: World) -> None:
    [item] = find(engine, SearchCriteria(name="nordwind")).items
    assert (item["name"], item["party_kind"], item["birth_date"]) == (
        "Nordwind GmbH",
        "organization",
        None,
    )


def test_a_key_nobody_has_finds_nothing(engine: Engine, world: World) -> None:
    page = find(engine, SearchCriteria(tin="DE000000000"))
    assert (page.total, page.items) == (0, [])


# ------------------------------------------------------------------------------- names


@pytest.mark.parametrize("typed", ["MÜLLER", "muller", "Mü", "mu", "Müll"])
def test_name_ignores_case_and_accents(engine: Engine, world: World, typed: str) -> None:
    assert numbers(engine, name=typed) == ["C-ANA", "C-BERND"]


def test_name_matches_the_start_of_the_name_or_of_any_word(engine: Engine, world: World) -> None:
    """Both Ana Müller and Anatol Schmidt start with "ana"; only the first with "ana mu"."""
    assert numbers(engine, name="ana") == ["C-ANA", "C-ANATOL"]
    assert numbers(engine, name="Ana Mu") == ["C-ANA"]
    assert numbers(engine, name="gmbh") == ["C-NORD"]


def test_a_word_of_a_name_may_begin_after_a_hyphen(engine: Engine, actor: MakeActor) -> None:
    double = f.customer(
        customer_number="C-JML", party=person("Jörg", "Müller-Lüdenscheid", date(1960, 1, 1))
    )
    with UnitOfWork(engine, actor()) as uow:
        uow.add(double)
        uow.commit("setup")
    assert numbers(engine, name="Lüd") == ["C-JML"]
    assert numbers(engine, name="denscheid") == []


def test_name_does_not_match_inside_a_word(engine: Engine, world: World) -> None:
    assert numbers(engine, name="ller") == []
    assert numbers(engine, name="natol") == []


def test_like_wildcards_in_a_name_are_plain_characters(engine: Engine, world: World) -> None:
    """Unescaped, "an_" and "a%" would match "ana müller"."""
    assert numbers(engine, name="an_") == []
    assert numbers(engine, name="a%a") == []
    assert numbers(engine, address="h%tstr") == []


def test_fuzzy_name_tolerates_a_typo(engine: Engine, world: World) -> None:
    """Both Müllers are found for "Mueler" (similarity 0.4), and nobody else."""
    page = find(engine, SearchCriteria(fuzzy_name="Mueler"))
    assert [i["customer_number"] for i in page.items] == ["C-ANA", "C-BERND"]
    assert [i["similarity"] for i in page.items] == [0.4, 0.4]
    assert page.total == 2


def test_fuzzy_name_puts_the_closest_name_first(engine: Engine, world: World) -> None:
    """Bernd Müller is closer to "Bernd Mueler" than Ana Müller is."""
    page = find(engine, SearchCriteria(fuzzy_name="Bernd Mueler"))
    assert [i["customer_number"] for i in page.items][:1] == ["C-BERND"]
    similarities = [i["similarity"] for i in page.items]
    assert similarities == sorted(similarities, reverse=True)


def add_person(engine: Engine, actor: MakeActor, number: str, given: str, family: str) -> None:
    with UnitOfWork(engine, actor("agent.add")) as uow:
        uow.add(f.customer(customer_number=number, party=person(given, family, date(1990, 1, 1))))
        uow.commit("customer.create")


def test_fuzzy_name_returns_only_close_names_when_there_are_some(
    engine: Engine, world: World, actor: MakeActor
) -> None:
    """With a Mueller among them (0.67 for "Mueler"), the Müllers (0.4) are not offered."""
    add_person(engine, actor, "C-JAN", "Jan", "Mueller")
    page = find(engine, SearchCriteria(fuzzy_name="Mueler"))
    assert [i["customer_number"] for i in page.items] == ["C-JAN"]
    assert page.total == 1


def test_fuzzy_name_falls_back_to_loose_matches_when_none_is_close(
    engine: Engine, world: World
) -> None:
    """Nobody is at 0.5 or more for "Mueler": the Müllers at 0.4 are found (see above)."""
    page = find(engine, SearchCriteria(fuzzy_name="Mueler"))
    assert {i["similarity"] for i in page.items} == {0.4} and page.total == 2


def test_fuzzy_name_is_close_or_loose_among_the_customers_the_other_criteria_allow(
    engine: Engine, world: World, actor: MakeActor
) -> None:
    """A close Mueller in Hamburg does not hide the loose Müllers of Berlin from a search
    limited to Berlin: closeness is decided among the customers that match the rest."""
    with UnitOfWork(engine, actor("agent.add")) as uow:
        uow.add(
            f.customer(
                customer_number="C-JAN",
                party=person("Jan", "Mueller", date(1990, 1, 1)),
                addresses=[address("Hafenstraße 2", "20457", "Hamburg")],
            )
        )
        uow.commit("customer.create")
    assert numbers(engine, fuzzy_name="Mueler") == ["C-JAN"]
    page = find(engine, SearchCriteria(fuzzy_name="Mueler", city="berlin"))
    assert [i["customer_number"] for i in page.items] == ["C-ANA", "C-BERND"]
    assert {i["similarity"] for i in page.items} == {0.4} and page.total == 2


def test_fuzzy_name_finds_nothing_far_away(engine: Engine, world: World) -> None:
    assert find(engine, SearchCriteria(fuzzy_name="Zyxwvu")).total == 0


def test_fuzzy_name_follows_renames_and_removals(
    engine: Engine, world: World, actor: MakeActor
) -> None:
    """The name index (on SQLite, the FTS5 table kept by triggers) sees an update and a
    delete: the old name is gone, the new one found, and nobody found twice."""
    lone = f.customer(customer_number="C-LONE", party=person("Lena", "Mühler", date(2000, 1, 1)))
    with UnitOfWork(engine, actor()) as uow:
        uow.add(lone)
        uow.commit("setup")
    assert "C-LONE" in numbers(engine, fuzzy_name="Mueler")
    with UnitOfWork(engine, actor()) as uow:
        update_customer(uow, world.bernd.id, {"party": {"family_name": "Wagner"}})
        uow.remove(uow.get(Customer, lone.id))
        uow.commit("rename and remove")
    assert numbers(engine, fuzzy_name="Mueler") == ["C-ANA"]
    assert numbers(engine, fuzzy_name="Wagnr") == ["C-BERND"]
    assert numbers(engine, fuzzy_name="Bernd") == ["C-BERND"]
    assert_name_index_in_step(engine)


def upgrade_after_storing_a_name(engine: Engine, actor: MakeActor, revision: str) -> None:
    """Eda Müller stored, the store down to ``revision`` (her row stays), then up to the head
    again; she is found by a typo and the name index is in step."""
    from alembic import command

    from adapter.store.database import alembic_config, upgrade

    early = f.customer(customer_number="C-EARLY", party=person("Eda", "Müller", date(1999, 9, 9)))
    with UnitOfWork(engine, actor()) as uow:
        uow.add(early)
        uow.commit("setup")
    command.downgrade(alembic_config(engine), revision)
    if engine.dialect.name == "postgresql":
        assert NAME_WORD_TABLE not in inspect(engine).get_table_names()
    upgrade(engine)
    assert numbers(engine, fuzzy_name="Mueler") == ["C-EARLY"]
    assert_name_index_in_step(engine)


def test_upgrading_to_0002_indexes_the_names_already_stored(
    sqlite_engine: Engine, actor: MakeActor
) -> None:
    """Customers written before the FTS5 table existed are found once it does."""
    upgrade_after_storing_a_name(sqlite_engine, actor, "0001")


def assert_name_index_in_step(engine: Engine) -> None:
    """On SQLite, the FTS5 table holds exactly one row per customer, with its name key; on
    PostgreSQL, ``customer_name_word`` one row per word of each name and ``name_word`` every
    word in use."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            names = conn.execute(text("SELECT id, name_key FROM customer")).all()
            kept = conn.execute(
                text(f"SELECT word, name_key, customer_id FROM {CUSTOMER_NAME_WORD_TABLE}")
            ).all()
            vocabulary = conn.execute(text(f"SELECT word FROM {NAME_WORD_TABLE}")).scalars()
            known = set(vocabulary)
        expected = {
            (word, name, id_) for id_, name in names for word in re.findall(r"[^\W_]+", name)
        }
        assert {tuple(row) for row in kept} == expected
        assert {word for word, _, _ in expected} <= known
        return
    with engine.connect() as conn:
        indexed = conn.execute(
            text(f"SELECT customer_id, name_key FROM {NAME_FTS_TABLE} ORDER BY customer_id")
        ).all()
        stored = conn.execute(text("SELECT id, name_key FROM customer ORDER BY id")).all()
    assert [tuple(row) for row in indexed] == [tuple(row) for row in stored]


# Names built from a few words that are all close to "marcel" and "marcin", several to a name.
FAMILY_OF_NAMES = [
    ("Marcel", "Marcin"),
    ("Marcin", "Nowak"),
    ("Marcel", "Dupont"),
    ("Marco", "Marcel"),
    ("Marcin", "Marcinek"),
    ("Marc", "Lenoir"),
    ("Ana", "Marcel"),
    ("Marcelo", "Ruiz"),
    ("Marcin", "Wolny"),
    ("Marcel", "Roux"),
    ("Jan", "Marcinkowski"),
    ("Marcela", "Nowak"),
]


@pytest.fixture
def marcels(engine: Engine, actor: MakeActor) -> None:
    with UnitOfWork(engine, actor()) as uow:
        for number, (given, family) in enumerate(FAMILY_OF_NAMES):
            uow.add(
                f.customer(
                    customer_number=f"C-M{number:02d}",
                    party=person(given, family, date(1990, 1, 1)),
                )
            )
        uow.commit("setup")


@pytest.mark.usefixtures("marcels")
@pytest.mark.parametrize("fragment", ["marcl", "marcn", "marce"])
def test_fuzzy_pages_join_up_to_the_whole_ranking(engine: Engine, fragment: str) -> None:
    """Pages of three, read one after the other, are the single page of everything: nobody
    twice (a name with two close words counts once, at its best word), nobody missing, in
    order of similarity, then name, then id."""
    whole = find(engine, SearchCriteria(fuzzy_name=fragment), limit=LIMIT_MAX)
    paged: list[dict[str, Any]] = []
    for offset in range(0, whole.total + 3, 3):
        page = find(engine, SearchCriteria(fuzzy_name=fragment), limit=3, offset=offset)
        assert page.total == whole.total
        paged.extend(page.items)
    assert paged == whole.items
    assert whole.total == len(whole.items) == len({i["id"] for i in whole.items}) > 3
    keys = [(-i["similarity"], search_text(i["name"]), i["id"]) for i in whole.items]
    assert keys == sorted(keys)


@pytest.mark.usefixtures("marcels")
def test_fuzzy_name_ranks_a_name_by_its_closest_word(engine: Engine) -> None:
    """ "Marcel Marcin" has an exact word for "marcel": it is at 1.0, once, with the other
    Marcels; its second close word does not list it again."""
    page = find(engine, SearchCriteria(fuzzy_name="marcel"), limit=LIMIT_MAX)
    best = [i["customer_number"] for i in page.items if i["similarity"] == 1.0]
    assert best == ["C-M06", "C-M02", "C-M00", "C-M09", "C-M03"]  # by name
    assert [i["customer_number"] for i in page.items].count("C-M00") == 1


def test_upgrading_to_0009_lists_the_words_of_names_already_stored(
    pg_engine: Engine, actor: MakeActor
) -> None:
    """On PostgreSQL, customers written before the vocabulary of name words existed (its
    tables gone on the way down) are found by a one-word fuzzy search once it does."""
    upgrade_after_storing_a_name(pg_engine, actor, "0008")


def test_upgrading_to_0010_names_the_customers_already_stored(
    engine: Engine, actor: MakeActor
) -> None:
    """Customers written before ``customer.display_name`` existed (the column gone on the way
    down) are listed under their display names once it is back: an individual's present name
    parts joined by single spaces, an organisation's name."""
    from alembic import command

    from adapter.store.database import alembic_config, upgrade

    stored = {
        "C-MID": Individual(given_name="Eda", middle_name="Maria", family_name="Müller"),
        "C-TWO": Individual(given_name="Ole", family_name="Lund"),
        "C-ORG": Organization(name="Nordwind GmbH & Co. KG"),
    }
    with UnitOfWork(engine, actor()) as uow:
        for number, party in stored.items():
            uow.add(f.customer(customer_number=number, party=party))
        uow.commit("setup")
    command.downgrade(alembic_config(engine), "0009")
    assert "display_name" not in {c["name"] for c in inspect(engine).get_columns("customer")}
    upgrade(engine)
    listed = {
        number: find(engine, SearchCriteria(customer_number=number)).items[0]["name"]
        for number in stored
    }
    assert listed == {
        "C-MID": "Eda Maria Müller",
        "C-TWO": "Ole Lund",
        "C-ORG": "Nordwind GmbH & Co. KG",
    }
    if engine.dialect.name == "postgresql":  # the fill holds 0009's trigger off, then restores it
        with engine.connect() as conn:
            enabled = conn.exec_driver_sql(
                "SELECT tgname, tgenabled FROM pg_trigger"
                " WHERE tgname LIKE 'customer_name_words_%%'"
            ).all()
        assert sorted(enabled) == [
            ("customer_name_words_insert", "A"),
            ("customer_name_words_update", "A"),
        ]


def test_a_page_of_items_is_read_from_the_covering_index(
    pg_engine: Engine, actor: MakeActor
) -> None:
    """On PostgreSQL a page's items come from ``ix_customer_item`` alone (revision 0010), not
    from the customers' rows: an index-only scan once the visibility map is set, which a bulk
    load's :func:`after_load` does."""
    with UnitOfWork(pg_engine, actor()) as uow:
        for number, given in (("C-ANA", "Ana"), ("C-BERND", "Bernd")):
            uow.add(f.customer(customer_number=number, party=person(given, "Müller", date.today())))
        uow.commit("setup")
    # What after_load does for this table, without its ANALYZE: statistics outlive the next
    # test's TRUNCATE and would change other tests' plans.
    with pg_engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM customer")
    read = plans(pg_engine, SearchCriteria(fuzzy_name="mueler"), ())
    assert any("Index Only Scan using ix_customer_item" in plan for plan in read), read


def test_an_identifying_key_reads_page_and_count_in_one_statement(
    engine: Engine, world: World
) -> None:
    """An MSISDN finds one customer: the page and the number of matches come from one
    statement (a window count), not a count and then a page."""
    statements: list[str] = []

    def capture(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", capture)
    try:
        page = find(engine, SearchCriteria(msisdn=world.subscribers["C-ANA"].msisdn))
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert (page.total, [i["customer_number"] for i in page.items]) == (1, ["C-ANA"])
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len([s for s in selects if "set_config" not in s]) == 1, selects


def test_an_identifying_key_past_the_last_page_still_counts(engine: Engine, world: World) -> None:
    """Past the end the window count has no row to ride on: the number comes on its own."""
    page = find(engine, SearchCriteria(msisdn=world.subscribers["C-ANA"].msisdn), offset=5)
    assert (page.total, page.items) == (1, [])


def test_fuzzy_name_of_a_short_name_is_kept_in_step(engine: Engine, actor: MakeActor) -> None:
    """A two-letter organisation name has no trigram; renaming it must still replace its
    entry in the name index."""
    short = f.customer(customer_number="C-XY", party=Organization(name="Xy"))
    with UnitOfWork(engine, actor()) as uow:
        uow.add(short)
        uow.commit("setup")
    with UnitOfWork(engine, actor()) as uow:
        update_customer(uow, short.id, {"party": {"name": "Xylophon AG"}})
        uow.commit("rename")
    assert numbers(engine, fuzzy_name="Xylofon") == ["C-XY"]
    assert_name_index_in_step(engine)


# ---------------------------------------------------------------------------- combined


def test_criteria_combine_with_and(engine: Engine, world: World) -> None:
    assert numbers(engine, name="müller", city="Berlin") == ["C-ANA", "C-BERND"]
    assert numbers(engine, name="müller", city="Berlin", birth_date="1975-11-30") == ["C-BERND"]
    assert numbers(engine, name="müller", city="München") == []
    assert numbers(engine, fuzzy_name="Mueler", postcode="10115") == ["C-ANA"]


def test_identifying_keys_combine_with_other_equality_keys(engine: Engine, world: World) -> None:
    """A TIN or an e-mail with a birth date, a postcode or a city (each a parameter of one
    statement built once per combination of keys): all must match, and a second search with
    the same keys but other values finds by those values."""
    assert numbers(engine, tin="DE111222333", birth_date="1975-11-30") == ["C-BERND"]
    assert numbers(engine, tin="DE111222333", birth_date=date(1984, 5, 17)) == []
    assert numbers(engine, tin="DE123456789", birth_date=date(1984, 5, 17)) == ["C-ANA"]
    assert numbers(engine, email="anatol@example.com", city="München", postcode="80331") == [
        "C-ANATOL"
    ]
    assert numbers(engine, email="anatol@example.com", city="Berlin") == []


def test_address_keys_must_match_one_and_the_same_address(engine: Engine, world: World) -> None:
    """Ana lives at 10115 Berlin and gets bills at 20095 Hamburg: 20095 with Berlin is no
    address of hers."""
    assert numbers(engine, postcode="20095", city="Hamburg") == ["C-ANA"]
    assert numbers(engine, postcode="20095", city="Berlin") == []
    assert numbers(engine, address="postfach", city="hamburg") == ["C-ANA"]


def test_subscriber_keys_must_match_one_and_the_same_subscriber(
    engine: Engine, world: World
) -> None:
    ana, bernd = world.subscribers["C-ANA"], world.subscribers["C-BERND"]
    assert numbers(engine, msisdn=ana.msisdn, iccid=ana.iccid) == ["C-ANA"]
    assert numbers(engine, msisdn=ana.msisdn, iccid=bernd.iccid) == []


def recycle(engine: Engine, actor: MakeActor, world: World) -> Subscriber:
    """Deactivate Ana's subscriber and give its number to a new subscriber of Bernd's."""
    old = world.subscribers["C-ANA"]
    with UnitOfWork(engine, actor("agent.deactivate")) as uow:
        uow.get(Subscriber, old.id).status = SubscriberStatus.DEACTIVATED
        uow.commit("subscriber.deactivate")
    with UnitOfWork(engine, actor("agent.recycle")) as uow:
        contract = uow.get(Contract, world.subscribers["C-BERND"].contract_id)
        uow.add(f.subscriber(contract, msisdn=old.msisdn, imsi=None, iccid=None))
        uow.commit("subscriber.recycle")
    return old


def test_a_recycled_number_finds_its_live_holder_only(
    engine: Engine, actor: MakeActor, world: World
) -> None:
    old = recycle(engine, actor, world)
    assert numbers(engine, msisdn=old.msisdn) == ["C-BERND"]


def test_former_holders_of_a_number_are_found_when_asked_for(
    engine: Engine, actor: MakeActor, world: World
) -> None:
    old = recycle(engine, actor, world)
    assert sorted(numbers(engine, msisdn=old.msisdn, former_holders=True)) == ["C-ANA", "C-BERND"]


def test_former_holders_alone_is_not_a_criterion(engine: Engine, world: World) -> None:
    with pytest.raises(ValidationFailed, match="give at least one search criterion"):
        numbers(engine, former_holders=True)


# ------------------------------------------------------------------------------ paging


@pytest.fixture
def meiers(engine: Engine, actor: MakeActor) -> list[Customer]:
    """Seven customers called Meier, two of them with the same name."""
    given = ["Uwe", "Eva", "Jan", "Ida", "Ole", "Eva", "Kai"]
    made = [
        f.customer(customer_number=f"M-{n}", party=person(g, "Meier", date(1970, 1, 1 + n)))
        for n, g in enumerate(given)
    ]
    with UnitOfWork(engine, actor()) as uow:
        uow.add_all(made)
        uow.commit("setup")
    return made


@pytest.mark.parametrize("criterion", ["name", "fuzzy_name"])
def test_pages_cover_every_match_once_in_a_stable_order(
    engine: Engine, meiers: list[Customer], criterion: str
) -> None:
    criteria = SearchCriteria(**{criterion: "meier"})
    everything = find(engine, criteria, limit=100)
    assert everything.total == 7
    pages = [find(engine, criteria, limit=3, offset=offset) for offset in (0, 3, 6, 9)]
    assert [p.total for p in pages] == [7, 7, 7, 7]
    assert [len(p.items) for p in pages] == [3, 3, 1, 0]
    assert [i["id"] for p in pages for i in p.items] == [i["id"] for i in everything.items]
    assert find(engine, criteria, limit=100).items == everything.items


def test_name_order_is_by_name_then_id(engine: Engine, meiers: list[Customer]) -> None:
    items = find(engine, SearchCriteria(name="meier")).items
    assert [i["name"] for i in items] == sorted(i["name"] for i in items)
    evas = [i["id"] for i in items if i["name"] == "Eva Meier"]
    assert evas == sorted(evas)


# ----------------------------------------------------------------------------- refusals

REFUSED: list[tuple[dict[str, Any], str, str]] = [
    ({}, "criteria", "required"),
    ({"name": "a"}, "name", "min_length"),
    ({"name": " ü "}, "name", "min_length"),
    ({"fuzzy_name": "ab"}, "fuzzy_name", "min_length"),
    ({"address": "st"}, "address", "min_length"),
    ({"birth_date": "1984-02-30"}, "birth_date", "date"),
    ({"msisdn": "0170 1234567"}, "msisdn", "format"),
    ({"imsi": "26201"}, "imsi", "format"),
    ({"iccid": "8912"}, "iccid", "format"),
    ({"email": "not-an-address"}, "email", "format"),
]


@pytest.mark.parametrize(
    ("criteria", "field", "rule"), REFUSED, ids=[f"{r[1]}-{r[2]}" for r in REFUSED]
)
def test_bad_criteria_are_refused_naming_criterion_and_rule(
    engine: Engine, criteria: dict[str, Any], field: str, rule: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        find(engine, SearchCriteria(**criteria))
    assert [(v.field, v.rule) for v in caught.value.violations] == [(field, rule)]


@pytest.mark.parametrize(
    ("page", "field"),
    [({"limit": 0}, "limit"), ({"limit": 501}, "limit"), ({"offset": -1}, "offset")],
)
def test_a_page_outside_the_bounds_is_refused(
    engine: Engine, page: dict[str, int], field: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        find(engine, SearchCriteria(name="ana"), **page)
    assert [(v.field, v.rule) for v in caught.value.violations] == [(field, "range")]


def test_the_largest_page_is_allowed(engine: Engine, world: World) -> None:
    assert find(engine, SearchCriteria(name="ana"), limit=500).total == 2


# ------------------------------------------------------------------------------ indexes


# On tables this small PostgreSQL rightly prefers a sequential scan, and with those priced
# out, a full scan of a b-tree index on the same column over a GIN index: the EXPLAIN runs in
# a transaction that drops those b-trees and is rolled back.
COMPETING = {
    "ix_customer_name_key_trgm": ("ix_customer_name_key",),
    "ix_customer_address_line_key_trgm": (
        "ix_customer_address_line_key",
        "ix_customer_address_customer_id",
    ),
}


def plans(engine: Engine, criteria: SearchCriteria, indexes: tuple[str, ...]) -> list[str]:
    """The query plans of the statements one search runs, with sequential scans priced out
    and no index competing with ``index``: the question is whether ``index`` can serve the
    query at all."""
    statements: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "set_config" not in statement:
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        find(engine, criteria)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    found = []
    with read_connection(engine) as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(select(func.set_config("pg_trgm.word_similarity_threshold", "0.3", True)))
            conn.execute(select(func.set_config("enable_seqscan", "off", True)))
            for competitor in (c for index in indexes for c in COMPETING.get(index, ())):
                conn.exec_driver_sql(f"DROP INDEX {competitor}")
        prefix = "EXPLAIN " if engine.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN "
        for statement, parameters in statements:
            rows = conn.exec_driver_sql(prefix + statement, parameters).all()
            found.append("\n".join(str(row[-1]) for row in rows))
    return found


# criterion -> the column it is looked up by, and per backend ("any": both) the indexes any of
# which may serve it
INDEXED: list[tuple[dict[str, Any], str, dict[str, tuple[str, ...]]]] = [
    ({"name": "mül"}, "name_key", {"postgresql": ("ix_customer_name_key_trgm",)}),
    # one word: PostgreSQL looks it up in the vocabulary of name words (migration 0009)
    (
        {"fuzzy_name": "mueler"},
        "word",
        {"postgresql": ("ix_name_word_trgm",), "sqlite": (NAME_FTS_TABLE,)},
    ),
    (
        {"fuzzy_name": "ana mueler"},
        "name_key",
        {"postgresql": ("ix_customer_name_key_trgm",), "sqlite": (NAME_FTS_TABLE,)},
    ),
    (
        {"address": "hauptstr"},
        "line_key",
        {"postgresql": ("ix_customer_address_line_key_trgm",)},
    ),
    ({"postcode": "10117"}, "postcode_key", {"any": ("ix_customer_address_postcode_key",)}),
    ({"city": "berlin"}, "city_key", {"any": ("ix_customer_address_city_key",)}),
    ({"birth_date": "1984-05-17"}, "birth_date", {"any": ("ix_customer_birth_date",)}),
    ({"email": "bernd@example.com"}, "value_key", {"any": ("ix_customer_contact_value_key",)}),
    ({"tin": "DE123456789"}, "value_key", {"any": ("ix_customer_identification_value",)}),
    (
        {"msisdn": "+4917000000001"},
        "msisdn",
        {"any": ("ix_subscriber_msisdn", "uq_subscriber_live_msisdn")},
    ),
    ({"imsi": "262010000000001"}, "imsi", {"any": ("ix_subscriber_imsi",)}),
    ({"iccid": "8949000000000000018"}, "iccid", {"any": ("ix_subscriber_iccid",)}),
    (
        {"contract_number": "CO000001"},
        "number",
        {"postgresql": ("uq_contract_number",), "sqlite": ("sqlite_autoindex_contract_2",)},
    ),
    (
        {"customer_number": "C-ANA"},
        "customer_number",
        {
            "postgresql": ("uq_customer_customer_number",),
            "sqlite": ("sqlite_autoindex_customer_2",),
        },
    ),
]


def served_by(plan: str, indexes: tuple[str, ...], column: str) -> bool:
    """Whether the plan looks rows up through one of ``indexes`` by a condition on ``column``
    (not by a full scan of the index): PostgreSQL prints an ``Index Cond`` on the column under
    the scan, SQLite says ``SEARCH ... (column=?)`` or, for an FTS5 table, names the column of
    a MATCH (``:M``)."""
    on_column = re.compile(rf"\(\(?{column}\b")
    lines = plan.splitlines()
    for number, line in enumerate(lines):
        if not any(index in line for index in indexes):
            continue
        if "VIRTUAL TABLE INDEX" in line and ":M" in line:
            return True
        if line.lstrip().startswith("SEARCH") and on_column.search(line):
            return True
        below = lines[number + 1] if number + 1 < len(lines) else ""
        if "Index Cond" in below and on_column.search(below):
            return True
    return False


@pytest.mark.parametrize(
    ("criteria", "column", "indexes"),
    INDEXED,
    ids=[",".join(f"{k}={v}" for k, v in c.items()) for c, _, _ in INDEXED],
)
@pytest.mark.usefixtures("world")
def test_search_keys_are_looked_up_through_an_index(
    engine: Engine, criteria: dict[str, Any], column: str, indexes: dict[str, tuple[str, ...]]
) -> None:
    """The statement that filters (the count, or the fuzzy candidates) uses the index. Name
    prefixes and address fragments are scanned on SQLite, whose LIKE is case-insensitive and
    so cannot use a b-tree of the (already lower-case) keys."""
    expected = indexes.get(engine.dialect.name, indexes.get("any"))
    if expected is None:
        pytest.skip(f"no index serves {next(iter(criteria))} on {engine.dialect.name}")
    first = plans(engine, SearchCriteria(**criteria), expected)[0]
    assert served_by(first, expected, column), first


def test_the_dialect_search_objects_exist(engine: Engine) -> None:
    inspector = inspect(engine)
    if engine.dialect.name == "postgresql":
        names = {
            ix["name"]
            for table in ("customer", "customer_address")
            for ix in inspector.get_indexes(table)
        }
        assert set(DIALECT_ONLY_INDEXES) <= names
        assert {NAME_WORD_TABLE, CUSTOMER_NAME_WORD_TABLE} <= set(inspector.get_table_names())
        assert "ix_name_word_trgm" in {ix["name"] for ix in inspector.get_indexes(NAME_WORD_TABLE)}
    else:
        assert NAME_FTS_TABLE in inspector.get_table_names()


# --------------------------------------------------------------------------------- CLI


@pytest.fixture
def cli(engine: Engine, tmp_path: Any) -> Iterator[Callable[..., Any]]:
    url = engine.url.render_as_string(hide_password=False)
    container = Container(Settings(database_url=url, data_dir=tmp_path))
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(search_cmd, list(args), obj=container, catch_exceptions=False)

    yield run
    container.close()


def test_cli_prints_a_table_and_how_many_of_how_many(cli: Callable[..., Any], world: World) -> None:
    result = cli("--name", "müller", "--limit", "1")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["NUMBER", "NAME", "BIRTH", "DATE", "STATUS"]
    assert lines[1].split() == ["C-ANA", "Ana", "Müller", "1984-05-17", "active"]
    assert lines[-1] == "1 of 2"


def test_cli_json_has_total_and_items(cli: Callable[..., Any], world: World) -> None:
    result = cli("--fuzzy", "Mueler", "--city", "berlin", "--offset", "1", "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert (shown["total"], shown["offset"]) == (2, 1)
    assert [i["customer_number"] for i in shown["items"]] == ["C-BERND"]
    assert shown["items"][0]["birth_date"] == "1975-11-30"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "criteria:"),
        (("--name", "a"), "name:"),
        (("--birth-date", "17.05.1984"), "birth_date:"),
        (("--msisdn", "12"), "msisdn:"),
        (("--name", "ana", "--limit", "0"), "limit:"),
    ],
)
def test_cli_bad_input_exits_2_naming_the_criterion(
    cli: Callable[..., Any], args: tuple[str, ...], message: str
) -> None:
    result = cli(*args)
    assert result.exit_code == EXIT_INPUT
    assert message in result.output


def test_cli_says_when_nothing_matches(cli: Callable[..., Any], world: World) -> None:
    result = cli("--customer-number", "NOPE")
    assert (result.exit_code, result.output) == (0, "0 of 0\n")


def test_seeded_customers_are_found_by_a_typo_and_their_words_kept(engine: Engine) -> None:
    """The seed writes customers with ``COPY`` on PostgreSQL: the triggers of migration 0009
    list their name words all the same, and a typo of a name's longest word finds them."""
    from adapter.seed import seed

    seed(engine, 40, 3, as_of=date(2026, 11, 15), batch=15)
    assert_name_index_in_step(engine)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, name_key FROM customer ORDER BY id LIMIT 8")).all()
    for id_, name in rows:
        word = max(re.findall(r"[^\W_]+", name), key=len)
        typo = word[:2] + word[3:] if len(word) > 5 else word
        found = find(engine, SearchCriteria(fuzzy_name=typo), limit=LIMIT_MAX)
        assert id_ in {i["id"] for i in found.items}, (name, typo)
