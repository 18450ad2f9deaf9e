"""The rule features of the file format, each on a small mapping folder of its own."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from adapter.mapping import Mappings, load_mappings
from adapter.paths import MAPPINGS_DIR

OPERATIONS = """
operation: CustomerHierarchyWrite
outbound:
  - legacy: customer.csIdPub
    canonical: account.number
  - legacy: paymentResp
    canonical: account.payment_responsible
    default: true                               # absent in the context: the node pays
  - legacy: parent.csIdPub
    canonical: parent_account.number
  - legacy: parent.csIdPub
    const: TOP                                  # no parent given: under the top node
    when: {canonical: parent_account, present: false}
  - legacy: parent.csId
    const: 1
    when: {legacy: parent.csIdPub, equals: TOP} # tests what was built so far
"""

SERVICES = """
operation: ContractServicesAdd
outbound:
  - legacy: contract.coIdPub
    canonical: contract.number
  - legacy: services.service
    canonical: services
    items:
      - include: service_code
      - legacy: status
        const: S
        when: {canonical: $.contract.status, in: [suspended, on_hold]}
      - legacy: status
        const: A
        when: {canonical: $.contract.status, not_equals: suspended}
inbound:
  - legacy: services.service
    canonical: services
    items:
      - include: service_code
      - const: active
        canonical: status
        note: CIL answers with the status it stored; this map trusts it is active
  - include: service_code               # at top level: the first service of the answer
    legacy_prefix: services.service[0]
    canonical_prefix: service
"""

FRAGMENT = """
fragment: service_code
rules:
  - legacy: snCodePub
    canonical: service_code
    enum: service_codes
    unknown: skip                 # a service billing does not know is left out
  - legacy: snCode
    const: 0
    direction: outbound           # only when sending
"""


@pytest.fixture
def mappings(tmp_path: Path) -> Mappings:
    folder = tmp_path / "mappings"
    folder.mkdir()
    shutil.copy(MAPPINGS_DIR / "enums.yaml", folder / "enums.yaml")
    (folder / "hierarchy.yaml").write_text(OPERATIONS, encoding="utf-8")
    (folder / "services.yaml").write_text(SERVICES, encoding="utf-8")
    (folder / "fragment.yaml").write_text(FRAGMENT, encoding="utf-8")
    return load_mappings(folder)


def test_only_the_operations_of_the_folder_are_mapped(mappings: Mappings) -> None:
    assert mappings.operations == {"CustomerHierarchyWrite", "ContractServicesAdd"}


def test_default_const_and_conditions_on_either_side(mappings: Mappings) -> None:
    assert mappings.outbound("CustomerHierarchyWrite", {"account": {"number": "A.2"}}) == {
        "customer": {"csIdPub": "A.2"},
        "paymentResp": True,
        "parent": {"csIdPub": "TOP", "csId": 1},
    }
    under = mappings.outbound(
        "CustomerHierarchyWrite",
        {
            "account": {"number": "A.2", "payment_responsible": False},
            "parent_account": {"number": "A.1"},
        },
    )
    assert under == {
        "customer": {"csIdPub": "A.2"},
        "paymentResp": False,
        "parent": {"csIdPub": "A.1"},
    }


def test_a_root_path_inside_items_and_a_direction_in_a_fragment(mappings: Mappings) -> None:
    context = {
        "contract": {"number": "CO1", "status": "suspended"},
        "services": [
            {"service_code": "VOICE"},
            {"service_code": "TELEX"},
            {"service_code": "DATA"},
        ],
    }
    sent = mappings.outbound("ContractServicesAdd", context)
    assert sent["services"]["service"] == [
        {"snCodePub": "VOICE", "snCode": 0, "status": "S"},
        {"snCodePub": "DATA", "snCode": 0, "status": "S"},
    ]
    active = mappings.outbound(
        "ContractServicesAdd", {**context, "contract": {"number": "CO1", "status": "active"}}
    )
    assert {s["status"] for s in active["services"]["service"]} == {"A"}


def test_inbound_constants_and_skipped_items(mappings: Mappings) -> None:
    response = {"services": {"service": [{"snCode": 1, "snCodePub": "XFAX"}, {"snCodePub": "SMS"}]}}
    assert mappings.inbound("ContractServicesAdd", response) == {
        "services": [{"service_code": "SMS", "status": "active"}]
    }


def test_at_top_level_an_unknown_value_leaves_out_its_field_only(mappings: Mappings) -> None:
    """The first service is unknown: its code is left out, nothing else of the map is."""
    response = {"services": {"service": [{"snCodePub": "XFAX"}]}}
    assert mappings.inbound("ContractServicesAdd", response) == {"services": []}
