"""The console's templates render escaped, and its number filters read well."""

from __future__ import annotations

from adapter.console.render import _money, _number, environment


def test_quantities_lose_trailing_zeros() -> None:
    assert _number("20480.000") == "20480"
    assert _number("2.50") == "2.5"
    assert _number("not a number") == "not a number"


def test_amounts_keep_two_decimals() -> None:
    assert _money("-23.4") == "-23.40"
    assert _money(0) == "0.00"


def test_values_from_the_store_are_html_escaped() -> None:
    template = environment().from_string("<p>{{ name }}</p>")
    assert template.render(name="<script>x</script>") == "<p>&lt;script&gt;x&lt;/script&gt;</p>"


def test_the_tree_page_embeds_its_root_as_an_attribute_safely() -> None:
    html = (
        environment()
        .get_template("tree.html")
        .render(
            prefix="/console",
            caller=None,
            privileges=set(),
            csrf="",
            title="t",
            root={"id": "a", "number": 'N"1', "name": "<b>&", "child_count": 0},
            ancestors=[],
            payer={"payer": None, "reason": "nobody"},
            page_size=100,
        )
    )
    assert 'data-root="{&#34;' in html or 'data-root="{&quot;' in html
    assert "<b>&" not in html
