"""Terminal views: the account tree and diffs people can read."""

from __future__ import annotations

from adapter.render import _account_tree, render_diff


def account(id_: str, number: str, parent: str | None, pays: bool = False) -> dict[str, object]:
    return {
        "id": id_,
        "number": number,
        "name": number,
        "parent_id": parent,
        "payment_responsible": pays,
    }


def test_accounts_are_drawn_depth_first_under_their_parents() -> None:
    lines = _account_tree(
        [
            account("c", "1.1.1", "b"),
            account("a", "1", None, pays=True),
            account("b", "1.1", "a"),
            account("d", "1.2", "a"),
        ]
    )
    assert [line.strip().split()[1] for line in lines] == ["1", "1.1", "1.1.1", "1.2"]
    assert lines[2].startswith("      account 1.1.1")


def test_a_deep_chain_is_drawn_without_recursion_limits() -> None:
    chain = [account(str(i), f"n{i}", str(i - 1) if i else None) for i in range(5000)]
    assert len(_account_tree(chain)) == 5000


def test_list_diff_shows_removed_and_added_items() -> None:
    text = render_diff(
        {
            "limits": {
                "old": [{"name": "cap", "value": "20"}],
                "new": [{"name": "cap", "value": "40"}],
            }
        }
    )
    assert text.splitlines() == [
        "limits:",
        '  - {"name": "cap", "value": "20"}',
        '  + {"name": "cap", "value": "40"}',
    ]


def test_scalar_diff_shows_old_and_new() -> None:
    assert render_diff({"segment": {"old": "a", "new": "b"}}) == "segment: a → b"
