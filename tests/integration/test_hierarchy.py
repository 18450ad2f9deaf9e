"""The organisation hierarchy: payer, ancestors, subtree, counts, moves, at any depth."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from adapter.domain import Actor
from adapter.domain.errors import NotFound, ValidationFailed
from adapter.domain.model import (
    Account,
    AssignmentLevel,
    Customer,
    DiscountAssignment,
    ListingSuppression,
    SuppressionScope,
)
from adapter.queries import hierarchy as h
from adapter.queries.effective import effective_for_subscriber
from adapter.service.hierarchy import create_account, move_account, set_payment_responsibility
from adapter.store.database import analyze
from adapter.store.payers import stale
from adapter.store.reading import read_connection
from adapter.store.uow import UnitOfWork
from tests import factories as f

MakeActor = Callable[..., Actor]


def build_chain(engine: Engine, actor: MakeActor, depth: int) -> tuple[Customer, list[Account]]:
    """A customer and a chain of ``depth`` accounts; only the root pays."""
    c = f.customer()
    chain = [f.account(c, payment_responsible=True)]
    for _ in range(depth - 1):
        chain.append(f.account(c, parent_id=chain[-1].id, payment_responsible=False))
    with UnitOfWork(engine, actor()) as uow:
        uow.add(c)
        uow.add_all(chain)
        uow.commit("hierarchy.create")
    if depth >= 1000:
        analyze(engine)  # as a bulk import does: fresh statistics for the planner
    return c, chain


def test_payer_is_the_nearest_payment_responsible_ancestor(
    engine: Engine, actor: MakeActor
) -> None:
    _, chain = build_chain(engine, actor, 5)
    with UnitOfWork(engine, actor()) as uow:
        set_payment_responsibility(uow, chain[2].id, True)
        uow.commit("account.pay")
    with read_connection(engine) as conn:
        below = h.payer(conn, chain[4].id)
        above = h.payer(conn, chain[1].id)
    assert below.payer is not None and below.payer.id == chain[2].id and below.levels_up == 2
    assert above.payer is not None and above.payer.id == chain[0].id


def test_payer_of_a_paying_account_is_itself(engine: Engine, actor: MakeActor) -> None:
    _, chain = build_chain(engine, actor, 2)
    with read_connection(engine) as conn:
        found = h.payer(conn, chain[0].id)
    assert found.payer is not None and found.payer.id == chain[0].id and found.levels_up == 0


def test_no_payer_is_a_clear_answer(engine: Engine, actor: MakeActor) -> None:
    _, chain = build_chain(engine, actor, 3)
    with UnitOfWork(engine, actor()) as uow:
        set_payment_responsibility(uow, chain[0].id, False)
        uow.commit("account.unpay")
    with read_connection(engine) as conn:
        found = h.payer(conn, chain[2].id)
    assert found.payer is None
    assert found.reason is not None and "is payment responsible" in found.reason
    assert chain[0].number in found.reason


def test_ancestors_nearest_first(engine: Engine, actor: MakeActor) -> None:
    _, chain = build_chain(engine, actor, 4)
    with read_connection(engine) as conn:
        found = h.ancestors(conn, chain[3].id)
    assert [n.id for n in found] == [chain[2].id, chain[1].id, chain[0].id]
    assert [n.depth for n in found] == [1, 2, 3]


def test_subtree_pages_breadth_first_with_payers_and_level_counts(
    engine: Engine, actor: MakeActor
) -> None:
    c = f.customer()
    root = f.account(c, number="R", payment_responsible=True)
    kids = [
        f.account(c, number=f"R.{i}", parent_id=root.id, payment_responsible=i == 0)
        for i in range(3)
    ]
    grandkids = [
        f.account(c, number=f"R.{i}.1", parent_id=kids[i].id, payment_responsible=False)
        for i in range(3)
    ]
    with UnitOfWork(engine, actor()) as uow:
        uow.add(c)
        uow.add_all([root, *kids, *grandkids])
        uow.commit("hierarchy.create")
    with read_connection(engine) as conn:
        whole = h.subtree(conn, root.id)
        page = h.subtree(conn, root.id, limit=3, offset=2)
        shallow = h.subtree(conn, root.id, max_depth=1)
    assert whole.total == 7 and whole.per_level == [(0, 1), (1, 3), (2, 3)]
    assert [n.number for n in whole.nodes] == ["R", "R.0", "R.1", "R.2", "R.0.1", "R.1.1", "R.2.1"]
    assert [n.number for n in page.nodes] == ["R.1", "R.2", "R.0.1"]
    payers = {n.number: n.payer_id for n in whole.nodes}
    assert payers["R.0.1"] == kids[0].id and payers["R.1.1"] == root.id
    assert shallow.total == 4 and shallow.per_level == [(0, 1), (1, 3)]


def test_subtree_refuses_a_negative_depth(engine: Engine, actor: MakeActor) -> None:
    _, chain = build_chain(engine, actor, 1)
    with read_connection(engine) as conn, pytest.raises(ValidationFailed, match="max_depth"):
        h.subtree(conn, chain[0].id, max_depth=-1)


def test_subtree_sorts_in_memory_for_its_transaction_only(
    pg_engine: Engine, actor: MakeActor
) -> None:
    """On PostgreSQL the walk and the sort of a big page get 64 MB of work memory (at the
    default 4 MB they spilled to temporary files), for the subtree's transaction only."""
    _, chain = build_chain(pg_engine, actor, 3)
    with read_connection(pg_engine) as conn:
        default = conn.exec_driver_sql("SHOW work_mem").scalar_one()
        assert len(h.subtree(conn, chain[0].id).nodes) == 3
        during = conn.exec_driver_sql("SHOW work_mem").scalar_one()
    with read_connection(pg_engine) as conn:
        after = conn.exec_driver_sql("SHOW work_mem").scalar_one()
    assert (during, after) == ("64MB", default) and default != "64MB"


def test_move_takes_the_subtree_and_is_audited(engine: Engine, actor: MakeActor) -> None:
    _, chain = build_chain(engine, actor, 4)
    _, other = build_chain(engine, actor, 1)
    with UnitOfWork(engine, actor("agent.mover")) as uow:
        move_account(uow, chain[2].id, other[0].id)
        change = uow.commit("account.move")
    with read_connection(engine) as conn:
        found = h.payer(conn, chain[3].id)
        root_of_chain = h.subtree(conn, chain[0].id)
    assert found.payer is not None and found.payer.id == other[0].id
    assert root_of_chain.total == 2
    assert change.versions == (("account", chain[2].id, 2, "update"),)


def test_move_under_a_descendant_is_refused_and_nothing_written(
    engine: Engine, actor: MakeActor
) -> None:
    _, chain = build_chain(engine, actor, 3)
    with pytest.raises(ValidationFailed, match="cycle"), UnitOfWork(engine, actor()) as uow:
        move_account(uow, chain[0].id, chain[2].id)
        uow.commit("account.move")
    with read_connection(engine) as conn:
        assert h.ancestors(conn, chain[0].id) == []


def test_move_under_an_unknown_parent_is_refused(engine: Engine, actor: MakeActor) -> None:
    _, chain = build_chain(engine, actor, 2)
    with pytest.raises(ValidationFailed) as caught, UnitOfWork(engine, actor()) as uow:
        move_account(uow, chain[1].id, "no-such-account")
        uow.commit("account.move")
    assert caught.value.violations[0].rule == "exists"


def test_create_account_under_an_unknown_customer_is_refused(
    engine: Engine, actor: MakeActor
) -> None:
    with pytest.raises(ValidationFailed, match="customer_id"), UnitOfWork(engine, actor()) as uow:
        create_account(uow, {"customer_id": "nobody", "number": "X-1", "name": "X"})


def test_unknown_account_is_not_found(engine: Engine) -> None:
    with read_connection(engine) as conn, pytest.raises(NotFound):
        h.payer(conn, "nope")


def test_draw_order_is_depth_first() -> None:
    nodes = [
        h.Node("b", "1.1", "b", "c", "a", False, 1),
        h.Node("a", "1", "a", "c", None, True),
        h.Node("d", "1.2", "d", "c", "a", False, 1),
        h.Node("c", "1.1.1", "c", "c", "b", False, 2),
    ]
    assert [n.number for n in h.draw_order(nodes)] == ["1", "1.1", "1.1.1", "1.2"]


# ----------------------------------------------------------------------------- at depth


@pytest.mark.slow
def test_chain_of_ten_thousand_levels(engine: Engine, actor: MakeActor) -> None:
    _, chain = build_chain(engine, actor, 10_000)
    with read_connection(engine) as conn:
        found = h.payer(conn, chain[-1].id)
        above = h.ancestors(conn, chain[-1].id)
        below = h.subtree(conn, chain[0].id, limit=10)
    assert found.payer is not None and found.payer.id == chain[0].id
    assert found.levels_up == 9_999 and len(above) == 9_999
    assert below.total == 10_000 and len(below.per_level) == 10_000
    with pytest.raises(ValidationFailed, match="cycle"), UnitOfWork(engine, actor()) as uow:
        move_account(uow, chain[0].id, chain[-1].id)
        uow.commit("account.move")
    with UnitOfWork(engine, actor()) as uow:
        move_account(uow, chain[5_000].id, None)
        set_payment_responsibility(uow, chain[5_000].id, True)
        uow.commit("account.move")
    with read_connection(engine) as conn:
        found = h.payer(conn, chain[-1].id)
        left_stale = stale(conn)
    assert found.payer is not None and found.payer.id == chain[5_000].id
    assert found.levels_up == 4_999 and left_stale == []


@pytest.mark.slow
def test_tree_of_a_hundred_thousand_nodes(engine: Engine, actor: MakeActor) -> None:
    """A tree ten wide at each node, 100,000 accounts: payer from a leaf, ancestors, the whole
    subtree counted by level, and a move of a big branch."""
    rng = random.Random(7)
    c = f.customer()
    nodes = [f.account(c, payment_responsible=True)]
    for i in range(1, 100_000):
        parent = nodes[(i - 1) // 10]
        nodes.append(f.account(c, parent_id=parent.id, payment_responsible=rng.random() < 0.1))
    with UnitOfWork(engine, actor()) as uow:
        uow.add(c)
        uow.add_all(nodes)
        uow.commit("hierarchy.create")
    analyze(engine)
    leaf = nodes[-1]
    with read_connection(engine) as conn:
        found = h.payer(conn, leaf.id)
        above = h.ancestors(conn, leaf.id)
        whole = h.subtree(conn, nodes[0].id, limit=100)
    expected = leaf
    by_id = {n.id: n for n in nodes}
    while not expected.payment_responsible:
        assert expected.parent_id is not None
        expected = by_id[expected.parent_id]
    assert found.payer is not None and found.payer.id == expected.id
    assert len(above) == 5 and whole.total == 100_000
    assert [count for _, count in whole.per_level] == [1, 10, 100, 1000, 10000, 88889]
    with UnitOfWork(engine, actor()) as uow:
        move_account(uow, nodes[1].id, nodes[2].id)
        uow.commit("account.move")
    with read_connection(engine) as conn:
        moved = h.subtree(conn, nodes[2].id, max_depth=1)
        left_stale = stale(conn)
    assert moved.per_level == [(0, 1), (1, 11)]
    assert left_stale == []  # the moved branch's 11,111 accounts were re-levelled


# ------------------------------------------------------------------------- properties

SETTINGS = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(
    parents=st.lists(st.integers(min_value=0, max_value=10_000), min_size=2, max_size=25),
    pays=st.lists(st.booleans(), min_size=25, max_size=25),
    moves=st.lists(st.tuples(st.integers(0, 24), st.integers(0, 24)), max_size=12),
)
def test_random_moves_never_make_a_cycle_and_payer_is_nearest(
    sqlite_engine: Engine, parents: list[int], pays: list[bool], moves: list[tuple[int, int]]
) -> None:
    """Build a random forest, try random moves (the store refuses the cycles), and check that
    the tree stays acyclic and every payer is the nearest paying ancestor-or-self."""
    act = f.property_actor
    c, accounts = f.forest(parents, pays)
    with UnitOfWork(sqlite_engine, act()) as uow:
        uow.add(c)
        uow.add_all(accounts)
        uow.commit("create")
    n = len(accounts)
    for src, dst in moves:
        try:
            with UnitOfWork(sqlite_engine, act()) as uow:
                move_account(uow, accounts[src % n].id, accounts[dst % n].id)
                uow.commit("move")
        except ValidationFailed as exc:
            refused = {v.rule for v in exc.violations}
            assert refused == {"acyclic"}, refused
    with UnitOfWork(sqlite_engine, act()) as uow:
        stored = {a.id: uow.get(Account, a.id) for a in accounts}
    with read_connection(sqlite_engine) as conn:
        for account in stored.values():
            seen: set[str] = set()
            node: Account | None = account
            nearest = None
            while node is not None:
                assert node.id not in seen, "cycle"
                seen.add(node.id)
                if nearest is None and node.payment_responsible:
                    nearest = node.id
                node = stored[node.parent_id] if node.parent_id else None
            found = h.payer(conn, account.id)
            assert (found.payer.id if found.payer else None) == nearest


# ------------------------------------------------------------------------- effective


def test_effective_shows_what_applies_and_where_it_comes_from(
    engine: Engine, actor: MakeActor
) -> None:
    c = f.customer()
    top = f.account(c, payment_responsible=True)
    mid = f.account(c, parent_id=top.id, payment_responsible=False)
    k = f.contract(mid)
    s = f.subscriber(k, listing_groups=["BOARD"])

    def discount(
        code: str, level: AssignmentLevel, account: Account, **more: object
    ) -> DiscountAssignment:
        return DiscountAssignment(
            customer_id=c.id,
            account_id=account.id,
            code=code,
            level=level,
            value=Decimal(5),
            **more,
        )  # type: ignore[arg-type]

    with UnitOfWork(engine, actor()) as uow:
        uow.add_all([c, top, mid, k, s])
        uow.add_all(
            [
                discount("TOP", AssignmentLevel.ACCOUNT, top),
                discount("TOP_LOCAL", AssignmentLevel.ACCOUNT, top, inherited=False),
                discount("MID", AssignmentLevel.ACCOUNT, mid),
                discount("K", AssignmentLevel.CONTRACT, mid, contract_id=k.id),
                discount(
                    "S",
                    AssignmentLevel.SUBSCRIBER,
                    mid,
                    contract_id=k.id,
                    subscriber_id=s.id,
                    discount_kind="promotion",
                ),
                discount(
                    "OLD",
                    AssignmentLevel.SUBSCRIBER,
                    mid,
                    contract_id=k.id,
                    subscriber_id=s.id,
                    valid_to=date(2020, 1, 1),
                ),
                ListingSuppression(
                    scope_type=SuppressionScope.ACCOUNT,
                    customer_id=c.id,
                    account_id=top.id,
                    reason="group policy",
                ),
                ListingSuppression(
                    scope_type=SuppressionScope.GROUP, group_name="BOARD", reason="board members"
                ),
            ]
        )
        uow.commit("setup")
    with read_connection(engine) as conn:
        found = effective_for_subscriber(conn, s.id, date(2026, 11, 26))
    codes = [(d.item["code"], d.origin.kind, d.origin.levels_up) for d in found.discounts]
    assert codes == [
        ("S", "own", 0),
        ("K", "contract", 0),
        ("MID", "account", 0),
        ("TOP", "inherited", 1),
    ]
    kinds = [(x.origin.kind, x.origin.entity_id) for x in found.suppressions]
    assert kinds == [("inherited", top.id), ("group", "BOARD")]
    assert found.listing_suppressed


def test_effective_for_an_unknown_subscriber_is_not_found(engine: Engine) -> None:
    with read_connection(engine) as conn, pytest.raises(NotFound):
        effective_for_subscriber(conn, "nope", date(2026, 1, 1))


def test_customer_view_names_a_payer_in_another_customers_tree(
    engine: Engine, actor: MakeActor
) -> None:
    from adapter.queries.customers import customer_view

    group, group_chain = build_chain(engine, actor, 2)
    member = f.customer()
    local = f.account(member, parent_id=group_chain[1].id, payment_responsible=False)
    leaf = f.account(member, parent_id=local.id, payment_responsible=False)
    with UnitOfWork(engine, actor()) as uow:
        uow.add_all([member, local, leaf])
        uow.commit("member.create")
    with read_connection(engine) as conn:
        view = customer_view(conn, member.customer_number)
    payers = {a["id"]: a["payer"] for a in view["accounts"]}
    assert payers == {local.id: group_chain[0].number, leaf.id: group_chain[0].number}
    assert group.id != member.id
