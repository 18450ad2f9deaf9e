"""The fault plan of the billing simulator: what it accepts, and what each request gets."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapter.testing.billing_sim.faults import FaultInjector, FaultPlanError, read_plan_file


def injector(document: dict[str, object], max_hang: float = 300) -> FaultInjector:
    faults = FaultInjector(max_hang)
    faults.set_plan(document)
    return faults


def test_no_plan_means_no_fault() -> None:
    decision = FaultInjector(300).decide("CustomerNew")
    assert (decision.delay, decision.rule) == (0.0, None)


def test_the_first_matching_rule_fires_and_later_ones_wait() -> None:
    faults = injector({"rules": [{"kind": "http500", "times": 1}, {"kind": "html404"}]})
    kinds = [faults.decide("CustomerRead").rule for _ in range(3)]
    assert [rule.kind if rule else None for rule in kinds] == ["http500", "html404", "html404"]


def test_a_rule_for_an_operation_ignores_the_others() -> None:
    faults = injector({"rules": [{"kind": "drop", "operation": ["ContractNew", "ContractWrite"]}]})
    assert faults.decide("CustomerNew").rule is None
    assert faults.decide(None).rule is None  # a request whose operation is unknown
    rule = faults.decide("ContractWrite").rule
    assert rule is not None
    assert rule.kind == "drop"


def test_latency_rules_add_up_and_do_not_stop_a_later_fault() -> None:
    faults = injector(
        {
            "latency_ms": 100,
            "rules": [{"kind": "latency", "ms": 50}, {"kind": "http503", "retry_after": 2}],
        }
    )
    decision = faults.decide("CustomerRead")
    assert decision.delay == pytest.approx(0.15)
    assert decision.rule is not None
    assert decision.rule.retry_after == 2


def test_jitter_stays_between_the_latency_and_latency_plus_jitter() -> None:
    faults = injector({"latency_ms": 10, "latency_jitter_ms": 20, "seed": 1})
    delays = [faults.decide("CustomerRead").delay for _ in range(50)]
    assert all(0.010 <= d <= 0.030 for d in delays)
    assert len(set(delays)) > 1


def test_the_same_seed_repeats_the_same_random_failures() -> None:
    document = {"error_rate": 0.3, "seed": 9}
    faults_a, faults_b = injector(document), injector(document)
    a = [faults_a.decide("CustomerRead").rule is not None for _ in range(40)]
    b = [faults_b.decide("CustomerRead").rule is not None for _ in range(40)]
    assert a == b
    assert 0 < sum(a) < 40


def test_an_error_rate_defaults_to_http500() -> None:
    rule = injector({"error_rate": 1}).decide("CustomerRead").rule
    assert rule is not None
    assert rule.kind == "http500"


def test_a_rule_with_a_fault_and_no_kind_is_a_cms_fault() -> None:
    rule = injector({"rules": [{"fault": {"code": "CMS.RC1", "message": "m"}}]}).decide("A").rule
    assert rule is not None
    assert rule.kind == "cms_fault"
    assert rule.fault is not None
    assert (rule.fault.code, rule.fault.message, rule.fault.faultcode) == ("CMS.RC1", "m", "Server")


def test_a_hang_defaults_to_a_bounded_time() -> None:
    rule = injector({"rules": [{"kind": "hang"}]}, max_hang=5).decide("A").rule
    assert rule is not None
    assert rule.seconds == 5


def test_refuse_makes_every_later_request_a_drop_for_its_window() -> None:
    faults = injector({"rules": [{"kind": "refuse", "seconds": 60, "times": 1}]})
    assert faults.decide("A").rule.kind == "refuse"  # type: ignore[union-attr]
    assert faults.decide("A").rule.kind == "drop"  # type: ignore[union-attr]
    assert faults.describe()["refusing_for_seconds"] > 59


def test_setting_a_plan_resets_the_counters() -> None:
    faults = injector({"rules": [{"kind": "http500", "times": 1}]})
    faults.decide("A")
    faults.set_plan({"rules": [{"kind": "http500", "times": 1}]})
    assert faults.describe()["rules"][0]["remaining"] == 1
    assert faults.describe()["injected"] == {}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "must be a JSON object"),
        ({"rules": {}}, "rules: must be a list"),
        ({"rules": ["http500"]}, "rules[0]: must be an object"),
        ({"rules": [{"kind": "http500", "colour": "red"}]}, "rules[0]: unknown key"),
        ({"rules": [{"kind": "http500", "times": 1.5}]}, "rules[0].times: must be a whole"),
        ({"rules": [{"kind": "http500", "rate": 1.5}]}, "rules[0].rate: 1.5 is outside"),
        ({"rules": [{"kind": "http500", "ms": 5}]}, "rules[0].ms: only for kind latency"),
        ({"rules": [{"kind": "drop", "seconds": 5}]}, "rules[0].seconds: only for kinds"),
        ({"rules": [{"kind": "drop", "execute": "yes"}]}, "rules[0].execute"),
        ({"rules": [{"kind": "hang", "seconds": 301}]}, "rules[0].seconds: 301"),
        ({"rules": [{"fault": {"code": ""}}]}, "rules[0].fault.code"),
        ({"rules": [{"fault": {"code": "X", "faultcode": "Oops"}}]}, "rules[0].fault.faultcode"),
        ({"error_rate": 1, "error_kind": "latency", "rules": []}, "error_kind"),
        ({"error_kind": "cms_fault"}, "error_kind.fault"),
        ({"latency_ms": -1}, "latency_ms: -1"),
        ({"seed": "abc"}, "seed"),
    ],
)
def test_a_bad_plan_is_refused_naming_the_place(document: object, message: str) -> None:
    with pytest.raises(FaultPlanError) as caught:
        FaultInjector(300).set_plan(document)  # type: ignore[arg-type]
    assert message in str(caught.value)


def test_a_yaml_plan_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "plan.yml"
    path.write_text("latency_ms: 5\nrules:\n  - kind: html404\n    times: 2\n")
    assert read_plan_file(path) == {"latency_ms": 5, "rules": [{"kind": "html404", "times": 2}]}


def test_an_unreadable_plan_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(FaultPlanError, match=r"missing\.json"):
        read_plan_file(tmp_path / "missing.json")


def test_a_plan_file_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text("[1, 2]")
    with pytest.raises(FaultPlanError, match="must be an object"):
        read_plan_file(path)
