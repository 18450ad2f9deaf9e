"""The payer and level kept on every account (adapter/store/payers.py): written with every
change to the tree, filled by the migration that added them, and always what a walk of the
tree gives."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select, text

from adapter.domain import Actor
from adapter.domain.errors import ValidationFailed
from adapter.domain.model import Account
from adapter.seed import seed
from adapter.service.hierarchy import move_account, set_payment_responsibility
from adapter.store import tables as t
from adapter.store.payers import stale
from adapter.store.reading import read_connection
from adapter.store.uow import UnitOfWork
from tests import factories as f

MakeActor = Callable[..., Actor]


def _stored(engine: Engine, ids: list[str]) -> dict[str, tuple[str | None, int]]:
    a = t.account.c
    with engine.connect() as conn:
        rows = conn.execute(select(a.id, a.payer_id, a.level).where(a.id.in_(ids)))
        return {row[0]: (row[1], row[2]) for row in rows}


def _chain(engine: Engine, actor: MakeActor, pays: list[bool]) -> list[Account]:
    c = f.customer()
    chain: list[Account] = []
    for flag in pays:
        parent = chain[-1].id if chain else None
        chain.append(f.account(c, parent_id=parent, payment_responsible=flag))
    with UnitOfWork(engine, actor()) as uow:
        uow.add(c)
        uow.add_all(chain)
        uow.commit("hierarchy.create")
    return chain


def test_new_accounts_get_their_payer_and_level(engine: Engine, actor: MakeActor) -> None:
    chain = _chain(engine, actor, [True, False, True, False])
    stored = _stored(engine, [a.id for a in chain])
    assert [stored[a.id] for a in chain] == [
        (chain[0].id, 0),
        (chain[0].id, 1),
        (chain[2].id, 2),
        (chain[2].id, 3),
    ]


def test_clearing_payment_hands_the_subtree_to_the_next_payer_up(
    engine: Engine, actor: MakeActor
) -> None:
    chain = _chain(engine, actor, [True, False, True, False])
    with UnitOfWork(engine, actor()) as uow:
        set_payment_responsibility(uow, chain[2].id, False)
        uow.commit("account.unpay")
    stored = _stored(engine, [a.id for a in chain])
    assert stored[chain[2].id] == (chain[0].id, 2)
    assert stored[chain[3].id] == (chain[0].id, 3)


def test_a_move_relevels_the_whole_subtree_and_changes_who_pays(
    engine: Engine, actor: MakeActor
) -> None:
    first = _chain(engine, actor, [True, False])
    second = _chain(engine, actor, [False, True, False, False])
    with UnitOfWork(engine, actor()) as uow:
        move_account(uow, second[2].id, first[1].id)  # under a non-paying account
        uow.commit("account.move")
    stored = _stored(engine, [a.id for a in second])
    assert stored[second[2].id] == (first[0].id, 2)
    assert stored[second[3].id] == (first[0].id, 3)
    assert stored[second[1].id] == (second[1].id, 1)  # the old parent keeps its own values


def test_nobody_paying_is_stored_as_no_payer(engine: Engine, actor: MakeActor) -> None:
    chain = _chain(engine, actor, [False, False])
    assert _stored(engine, [chain[1].id])[chain[1].id] == (None, 1)


def test_the_seed_leaves_no_stale_payer(sqlite_engine: Engine) -> None:
    seed(sqlite_engine, 120, 11, as_of=date(2026, 11, 26), batch=40)
    with read_connection(sqlite_engine) as conn:
        assert stale(conn) == []
        deepest = conn.execute(select(t.account.c.level).order_by(t.account.c.level.desc())).first()
    assert deepest is not None and deepest[0] >= 50  # the seed's deep group is covered


def test_stale_finds_a_row_written_around_the_unit_of_work(
    engine: Engine, actor: MakeActor
) -> None:
    chain = _chain(engine, actor, [True, False])
    with engine.begin() as conn:
        conn.execute(
            t.account.update().where(t.account.c.id == chain[1].id).values(level=7, payer_id=None)
        )
    with read_connection(engine) as conn:
        assert chain[1].id in stale(conn)


def test_the_migration_fills_payer_and_level_of_stored_accounts(sqlite_engine: Engine) -> None:
    from alembic import command

    from adapter.store.database import alembic_config

    config = alembic_config(sqlite_engine)
    command.downgrade(config, "0007")
    with sqlite_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO customer (id, version, customer_number, party_kind, status, "
                "segment, name_key, updated_at, data) VALUES ('c1', 1, 'C1', 'individual', "
                "'active', 'residential', 'x', '2026-11-26 00:00:00', '{}')"
            )
        )
        for ident, parent, pays in (("a", None, 0), ("b", "a", 1), ("c", "b", 0), ("d", "a", 0)):
            conn.execute(
                text(
                    "INSERT INTO account (id, version, customer_id, number, parent_id, "
                    "payment_responsible, updated_at, data) VALUES (:i, 1, 'c1', :i, :p, :r, "
                    "'2026-11-26 00:00:00', '{}')"
                ),
                {"i": ident, "p": parent, "r": pays},
            )
    command.upgrade(config, "head")
    assert _stored(sqlite_engine, ["a", "b", "c", "d"]) == {
        "a": (None, 0),
        "b": ("b", 1),
        "c": ("b", 2),
        "d": (None, 1),
    }


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    parents=st.lists(st.integers(min_value=0, max_value=10_000), min_size=2, max_size=20),
    pays=st.lists(st.booleans(), min_size=20, max_size=20),
    steps=st.lists(
        st.tuples(
            st.sampled_from(["move", "pay", "unpay"]), st.integers(0, 19), st.integers(0, 19)
        ),
        max_size=12,
    ),
)
def test_random_moves_and_payment_changes_keep_payer_and_level_true(
    engine: Engine, parents: list[int], pays: list[bool], steps: list[tuple[str, int, int]]
) -> None:
    """Whatever moves (cycles refused) and payment changes happen, the stored payer and
    level of every account are what a walk of the tree gives."""

    act = f.property_actor
    c, accounts = f.forest(parents, pays)
    with UnitOfWork(engine, act()) as uow:
        uow.add(c)
        uow.add_all(accounts)
        uow.commit("create")
    n = len(accounts)
    for kind, x, y in steps:
        try:
            with UnitOfWork(engine, act()) as uow:
                if kind == "move":
                    move_account(uow, accounts[x % n].id, accounts[y % n].id)
                else:
                    set_payment_responsibility(uow, accounts[x % n].id, kind == "pay")
                uow.commit(kind)
        except ValidationFailed as exc:
            refused = {v.rule for v in exc.violations}
            assert refused == {"acyclic"}, refused
    with read_connection(engine) as conn:
        assert stale(conn) == []
