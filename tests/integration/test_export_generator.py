"""The export generator writes valid, reproducible BSCS customer exports and usage batches,
and every record maps to a bundle of entities that the domain models accept and that refer
to each other consistently."""

from __future__ import annotations

import io
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from pydantic import ValidationError

from adapter import xmlsafe
from adapter.domain import ENTITY_KINDS
from adapter.mapping import MappingFailed, Mappings, TranslationError, load_mappings
from adapter.paths import WSDL_DIR
from adapter.testing.export import write_customer_export, write_usage_batch

AS_OF = date(2025, 1, 31)
CUSTOMERS = 300
BUNDLE_KINDS = {
    "accounts": "account",
    "contracts": "contract",
    "subscribers": "subscriber",
    "services": "service_assignment",
    "discounts": "discount_assignment",
    "attribute_values": "attribute_value",
}


@pytest.fixture(scope="module")
def mappings() -> Mappings:
    return load_mappings()


@pytest.fixture(scope="module")
def export_schema() -> Any:
    return etree.XMLSchema(etree.parse(str(WSDL_DIR / "cil-export.xsd")))


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory, mappings: Mappings) -> tuple[Path, Any]:
    path = tmp_path_factory.mktemp("export") / "customers.xml"
    summary = write_customer_export(path, CUSTOMERS, seed=11, as_of=AS_OF, mappings=mappings)
    return path, summary


@pytest.fixture(scope="module")
def bundles(export: tuple[Path, Any], mappings: Mappings) -> list[dict[str, Any]]:
    path, _summary = export
    with path.open("rb") as stream:
        return [
            mappings.document("customer", element)
            for element in xmlsafe.iterparse(stream, mappings.record_tag("customer"))
        ]


def test_a_generated_export_is_valid_against_the_export_schema(
    export: tuple[Path, Any], export_schema: Any
) -> None:
    path, summary = export
    document = etree.parse(str(path), xmlsafe.parser())
    assert export_schema.validate(document), export_schema.error_log
    assert summary.customers == CUSTOMERS
    assert len(document.getroot()) == CUSTOMERS


def test_the_same_seed_gives_the_same_bytes(mappings: Mappings) -> None:
    first, second, other = io.BytesIO(), io.BytesIO(), io.BytesIO()
    write_customer_export(first, 60, seed=5, as_of=AS_OF, mappings=mappings)
    write_customer_export(second, 60, seed=5, as_of=AS_OF, mappings=mappings)
    write_customer_export(other, 60, seed=6, as_of=AS_OF, mappings=mappings)
    assert first.getvalue() == second.getvalue()
    assert first.getvalue() != other.getvalue()


def test_every_record_maps_to_entities_the_domain_models_accept(
    bundles: list[dict[str, Any]], export: tuple[Path, Any]
) -> None:
    _path, summary = export
    counts: Counter[str] = Counter()
    for bundle in bundles:
        ENTITY_KINDS["customer"].model_validate(bundle["customer"])
        for key, kind in BUNDLE_KINDS.items():
            for item in bundle[key]:
                ENTITY_KINDS[kind].model_validate(item)
                counts[key] += 1
    assert len(bundles) == CUSTOMERS
    assert (counts["accounts"], counts["contracts"]) == (summary.accounts, summary.contracts)
    assert (counts["services"], counts["discounts"]) == (summary.services, summary.discounts)
    assert counts["subscribers"] == summary.contracts
    assert counts["attribute_values"] > 0


def test_the_entities_of_a_bundle_refer_to_each_other(bundles: list[dict[str, Any]]) -> None:
    for bundle in bundles:
        customer = bundle["customer"]["id"]
        accounts = {a["id"] for a in bundle["accounts"]}
        contracts = {c["id"]: c["account_id"] for c in bundle["contracts"]}
        subscribers = {s["id"]: s["contract_id"] for s in bundle["subscribers"]}
        assert all(a["customer_id"] == customer for a in bundle["accounts"])
        assert all(a.get("parent_id") in accounts | {None} for a in bundle["accounts"])
        assert set(contracts.values()) <= accounts
        assert set(subscribers.values()) == set(contracts)
        for service in bundle["services"]:
            assert subscribers[service["subscriber_id"]] == service["contract_id"]
            assert contracts[service["contract_id"]] == service["account_id"]
        for discount in bundle["discounts"]:
            assert discount["account_id"] in accounts
            if discount["level"] != "account":
                assert contracts[discount["contract_id"]] == discount["account_id"]
        for value in bundle["attribute_values"]:
            assert value["entity_id"] in {customer} | accounts | set(subscribers)


def test_organisations_come_with_hierarchies_one_deeper_than_fifty(
    bundles: list[dict[str, Any]],
) -> None:
    def depth(accounts: list[dict[str, Any]]) -> int:
        parents = {a["id"]: a.get("parent_id") for a in accounts}
        deepest = 0
        for node in parents:
            level = 1
            while parents[node] is not None:
                node, level = parents[node], level + 1
            deepest = max(deepest, level)
        return deepest

    depths = [
        depth(b["accounts"]) for b in bundles if b["customer"]["party"]["kind"] == "organization"
    ]
    assert len(depths) > 20
    assert max(depths) > 50
    assert any(1 < d < 10 for d in depths)


def test_bad_records_are_rejected_with_the_reason_the_generator_gave(mappings: Mappings) -> None:
    """Bad records are valid XML of the schema; the import refuses them at mapping (an unknown
    service) or at the domain models (an e-mail address, a SIM serial)."""
    data = io.BytesIO()
    summary = write_customer_export(
        data, 200, seed=8, as_of=AS_OF, bad_fraction=0.1, mappings=mappings
    )
    assert 8 < len(summary.bad) < 35
    rejected: dict[str, str] = {}
    for element in xmlsafe.iterparse(io.BytesIO(data.getvalue()), mappings.record_tag("customer")):
        number = element.findtext("{urn:bscs:export:v1}csIdPub")
        try:
            bundle = mappings.document("customer", element)
            ENTITY_KINDS["customer"].model_validate(bundle["customer"])
            for key, kind in BUNDLE_KINDS.items():
                for item in bundle[key]:
                    ENTITY_KINDS[kind].model_validate(item)
        except TranslationError as exc:
            rejected[number] = "service_code" if exc.table == "service_codes" else exc.table
        except ValidationError as exc:
            text = str(exc)
            rejected[number] = "email" if "e-mail" in text else "iccid" if "ICCID" in text else text
        except MappingFailed as exc:  # pragma: no cover - would be a defect of the generator
            rejected[number] = str(exc)
    assert rejected == summary.bad


def test_a_usage_batch_points_at_the_subscribers_of_the_export(
    mappings: Mappings, export_schema: Any, bundles: list[dict[str, Any]]
) -> None:
    data = io.BytesIO()
    summary = write_usage_batch(data, CUSTOMERS, seed=11, as_of=AS_OF, mappings=mappings)
    assert export_schema.validate(etree.fromstring(data.getvalue(), xmlsafe.parser()))
    subscribers = {s["id"]: s for b in bundles for s in b["subscribers"]}
    live = {i for i, s in subscribers.items() if s["status"] != "deactivated"}
    seen = set()
    records = 0
    for element in xmlsafe.iterparse(io.BytesIO(data.getvalue()), mappings.record_tag("udr")):
        result = mappings.document("udr", element)
        record = ENTITY_KINDS["usage_record"].model_validate(result["usage_record"])
        assert record.subscriber_id in live
        assert result["legacy_ids"]["msisdn"] == subscribers[record.subscriber_id]["msisdn"]
        assert record.start_time.date() <= AS_OF
        seen.add(record.subscriber_id)
        records += 1
    assert records == summary.records
    assert len(seen) == summary.contracts
