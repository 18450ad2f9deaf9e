"""Fault injection, observed where a client meets it: HTTP status, body, latency, a hang cut
short by the client's timeout, a dropped or refused connection. Set through the admin
endpoint and through a plan file."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapter.testing.billing_sim import RunningSimulator, SimConfig, run_in_thread
from adapter.testing.cil_client import CilClient, CilReply

USER, PASSWORD = "crm-adapter", "s3cret"
NEW_CUSTOMER = (
    "<c:paymentResp>true</c:paymentResp><c:customer><c:partyType>I</c:partyType>"
    "<c:lastName>Roe</c:lastName></c:customer>"
)
READ = "<c:csId>1</c:csId>"


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSimulator]:
    config = SimConfig(data_dir=tmp_path_factory.mktemp("sim"), users={USER: PASSWORD})
    with run_in_thread(config) as running:
        yield running


@pytest.fixture(scope="module")
def admin(sim: RunningSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.admin_url, timeout=10) as client:
        yield client


@pytest.fixture
def cil(sim: RunningSimulator, admin: httpx.Client) -> Iterator[CilClient]:
    """A fresh client (its own connections) against a wiped simulator without faults."""
    admin.post("/reset").raise_for_status()
    admin.delete("/faults").raise_for_status()
    with CilClient(sim.soap_url, USER, PASSWORD, timeout=5) as client:
        yield client


def plan(admin: httpx.Client, document: dict[str, Any]) -> dict[str, Any]:
    response = admin.put("/faults", json=document)
    assert response.status_code == 200, response.text
    return dict(response.json())


def customers(admin: httpx.Client) -> int:
    return int(admin.get("/health").json()["customers"])


def timed(cil: CilClient, operation: str, inputs: str) -> tuple[CilReply, float]:
    started = time.monotonic()
    reply = cil.call(operation, inputs)
    return reply, time.monotonic() - started


# --------------------------------------------------------------------------------- latency


def test_latency_delays_every_request(cil: CilClient, admin: httpx.Client) -> None:
    plan(admin, {"latency_ms": 300})
    reply, took = timed(cil, "CustomerRead", READ)
    assert reply.fault is not None
    assert reply.fault.code == "CMS.RC6701"  # answered normally, only later
    assert took >= 0.3


def test_latency_jitter_stays_within_its_bounds(cil: CilClient, admin: httpx.Client) -> None:
    plan(admin, {"latency_ms": 100, "latency_jitter_ms": 150, "seed": 3})
    durations = [timed(cil, "CustomerRead", READ)[1] for _ in range(3)]
    assert all(0.1 <= took < 0.25 + 0.5 for took in durations)
    assert max(durations) - min(durations) > 0.005  # not all the same delay


def test_a_latency_rule_for_one_operation_leaves_others_alone(
    cil: CilClient, admin: httpx.Client
) -> None:
    plan(admin, {"rules": [{"kind": "latency", "ms": 400, "operation": "ContractRead"}]})
    assert timed(cil, "CustomerRead", READ)[1] < 0.3
    assert timed(cil, "ContractRead", "<c:coId>1</c:coId>")[1] >= 0.4


# ------------------------------------------------------------------------ answered faults


def test_a_given_fault_for_an_operation_fires_the_given_number_of_times(
    cil: CilClient, admin: httpx.Client
) -> None:
    plan(
        admin,
        {
            "rules": [
                {
                    "operation": "CustomerNew",
                    "fault": {"code": "CMS.RC9999", "message": "billing run in progress"},
                    "times": 2,
                }
            ]
        },
    )
    first, second, third = (cil.call("CustomerNew", NEW_CUSTOMER) for _ in range(3))
    for reply in (first, second):
        assert reply.status == 500
        assert reply.fault is not None
        assert (reply.fault.faultcode, reply.fault.code) == ("soap:Server", "CMS.RC9999")
        assert reply.fault.message == "billing run in progress"
    assert third.status == 200
    assert customers(admin) == 1  # the faulted calls did not run


def test_a_fault_for_one_operation_does_not_touch_another(
    cil: CilClient, admin: httpx.Client
) -> None:
    plan(admin, {"rules": [{"operation": "CustomerNew", "fault": {"code": "CMS.X"}}]})
    reply = cil.call("CustomerRead", READ)
    assert reply.fault is not None
    assert reply.fault.code == "CMS.RC6701"


def test_http500_is_a_soap_fault_without_cms_detail(cil: CilClient, admin: httpx.Client) -> None:
    plan(admin, {"rules": [{"kind": "http500"}]})
    reply = cil.call("CustomerRead", READ)
    assert reply.status == 500
    assert reply.fault is not None
    assert reply.fault.faultcode == "soap:Server"
    assert reply.fault.code is None


def test_http503_is_an_html_page_with_retry_after(cil: CilClient, admin: httpx.Client) -> None:
    plan(admin, {"rules": [{"kind": "http503", "retry_after": 7}]})
    response = cil.post(cil.envelope("CustomerRead", READ))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "7"
    assert response.headers["content-type"].startswith("text/html")
    assert "Service Unavailable" in response.text


def test_html404_is_a_web_server_page(cil: CilClient, admin: httpx.Client) -> None:
    plan(admin, {"rules": [{"kind": "html404"}]})
    response = cil.post(cil.envelope("CustomerRead", READ))
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>Not Found</h1>" in response.text


# ------------------------------------------------------------------------ the connection


def test_truncated_runs_the_request_and_cuts_the_answer(
    cil: CilClient, admin: httpx.Client
) -> None:
    plan(admin, {"rules": [{"kind": "truncated", "times": 1}]})
    with pytest.raises(httpx.RemoteProtocolError, match="complete message body"):
        cil.call("CustomerNew", NEW_CUSTOMER)
    assert customers(admin) == 1


def test_drop_closes_the_connection_without_answer_or_effect(
    cil: CilClient, admin: httpx.Client
) -> None:
    plan(admin, {"rules": [{"kind": "drop", "times": 1}]})
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        cil.call("CustomerNew", NEW_CUSTOMER)
    assert customers(admin) == 0
    assert cil.call("CustomerNew", NEW_CUSTOMER).status == 200  # times: 1


def test_drop_with_execute_runs_the_request_first(cil: CilClient, admin: httpx.Client) -> None:
    plan(admin, {"rules": [{"kind": "drop", "execute": True, "times": 1}]})
    with pytest.raises(httpx.RemoteProtocolError):
        cil.call("CustomerNew", NEW_CUSTOMER)
    assert customers(admin) == 1


def test_a_hang_is_cut_short_by_the_client_timeout(
    sim: RunningSimulator, admin: httpx.Client, cil: CilClient
) -> None:
    plan(admin, {"rules": [{"kind": "hang", "seconds": 30, "times": 1}]})
    started = time.monotonic()
    with (
        CilClient(sim.soap_url, USER, PASSWORD, timeout=0.5) as impatient,
        pytest.raises(httpx.ReadTimeout),
    ):
        impatient.call("CustomerRead", READ)
    assert time.monotonic() - started < 2
    assert cil.call("CustomerRead", READ).status == 500  # answering again (RC6701)


def test_a_hang_ends_with_a_closed_connection_after_its_seconds(
    cil: CilClient, admin: httpx.Client
) -> None:
    plan(admin, {"rules": [{"kind": "hang", "seconds": 0.4, "times": 1}]})
    started = time.monotonic()
    with pytest.raises(httpx.RemoteProtocolError):
        cil.call("CustomerNew", NEW_CUSTOMER)
    assert 0.4 <= time.monotonic() - started < 2
    assert customers(admin) == 0


def test_refuse_refuses_new_connections_for_its_seconds(
    sim: RunningSimulator, cil: CilClient, admin: httpx.Client
) -> None:
    plan(admin, {"rules": [{"kind": "refuse", "seconds": 0.6, "times": 1}]})
    started = time.monotonic()
    with pytest.raises(httpx.RemoteProtocolError):
        cil.call("CustomerRead", READ)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{sim.admin_url}/health", timeout=1)
    while time.monotonic() - started < 0.6:
        time.sleep(0.05)
    deadline = time.monotonic() + 3
    while True:  # listening again a moment after the window
        try:
            assert httpx.get(f"{sim.admin_url}/health", timeout=1).status_code == 200
            break
        except httpx.ConnectError:
            assert time.monotonic() < deadline
            time.sleep(0.05)


# ---------------------------------------------------------------------- random failures


def test_an_error_rate_of_one_fails_every_request(cil: CilClient, admin: httpx.Client) -> None:
    plan(admin, {"error_rate": 1.0, "error_kind": "http503"})
    statuses = {cil.post(cil.envelope("CustomerRead", READ)).status_code for _ in range(5)}
    assert statuses == {503}


def test_an_error_rate_fails_a_share_and_repeats_with_its_seed(
    cil: CilClient, admin: httpx.Client
) -> None:
    def run() -> list[int]:
        plan(admin, {"error_rate": 0.5, "error_kind": "html404", "seed": 42})
        return [cil.post(cil.envelope("CustomerRead", READ)).status_code for _ in range(30)]

    first = run()
    assert set(first) == {404, 500}  # failed and answered (RC6701) both occur
    assert 5 < first.count(404) < 25
    assert run() == first


def test_an_error_rate_with_a_cms_fault_uses_the_given_fault(
    cil: CilClient, admin: httpx.Client
) -> None:
    plan(
        admin,
        {"error_rate": 1, "error_kind": "cms_fault", "error_fault": {"code": "CMS.RC0001"}},
    )
    reply = cil.call("CustomerRead", READ)
    assert reply.fault is not None
    assert reply.fault.code == "CMS.RC0001"


# ------------------------------------------------------------------------ the admin API


def test_get_faults_shows_the_plan_with_firings_and_what_is_left(
    cil: CilClient, admin: httpx.Client
) -> None:
    plan(admin, {"rules": [{"kind": "http500", "times": 3}], "seed": 5})
    cil.call("CustomerRead", READ)
    shown = admin.get("/faults").json()
    assert shown["seed"] == 5
    assert shown["source"] == "api"
    assert shown["rules"] == [{"kind": "http500", "times": 3, "fired": 1, "remaining": 2}]
    assert shown["injected"] == {"http500": 1}


def test_delete_faults_clears_the_plan(cil: CilClient, admin: httpx.Client) -> None:
    plan(admin, {"rules": [{"kind": "http500"}]})
    assert admin.delete("/faults").json()["rules"] == []
    assert cil.call("CustomerRead", READ).fault is not None
    assert cil.call("CustomerRead", READ).fault.code == "CMS.RC6701"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("document", "named"),
    [
        ({"rules": [{"kind": "explode"}]}, "rules[0].kind"),
        ({"rules": [{"kind": "http500", "operation": "CustomerDelete"}]}, "CustomerDelete"),
        ({"rules": [{"kind": "http500", "times": 0}]}, "rules[0].times"),
        ({"rules": [{"kind": "hang", "seconds": 100000}]}, "rules[0].seconds"),
        ({"rules": [{"kind": "cms_fault"}]}, "rules[0].fault"),
        ({"error_rate": 2}, "error_rate"),
        ({"latency": 5}, "unknown key"),
    ],
)
def test_an_invalid_plan_is_400_naming_the_place_and_keeps_the_old_one(
    admin: httpx.Client, cil: CilClient, document: dict[str, Any], named: str
) -> None:
    plan(admin, {"rules": [{"kind": "html404"}]})
    response = admin.put("/faults", json=document)
    assert response.status_code == 400
    assert named in response.json()["error"]
    assert admin.get("/faults").json()["rules"][0]["kind"] == "html404"


def test_a_plan_that_is_not_json_is_400(admin: httpx.Client) -> None:
    response = admin.put("/faults", content=b"latency_ms: 5")
    assert response.status_code == 400
    assert "not JSON" in response.json()["error"]


def test_reload_without_a_plan_file_is_409(admin: httpx.Client) -> None:
    assert admin.post("/faults/reload").status_code == 409


# ---------------------------------------------------------------------------- plan file


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_a_plan_file_applies_from_the_start_and_reloads(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"faults{suffix}"
    first = {"rules": [{"kind": "html404", "operation": "CustomerRead"}]}
    second = {"rules": [{"kind": "http503", "operation": "CustomerRead"}]}

    def write(document: dict[str, Any]) -> None:
        if suffix == ".json":
            path.write_text(json.dumps(document))
        else:
            rule = document["rules"][0]
            path.write_text(
                f"rules:\n  - kind: {rule['kind']}\n    operation: {rule['operation']}\n"
            )

    write(first)
    config = SimConfig(data_dir=tmp_path / "sim", users={USER: PASSWORD}, faults_file=path)
    with (
        run_in_thread(config) as running,
        CilClient(running.soap_url, USER, PASSWORD) as client,
    ):
        assert client.post(client.envelope("CustomerRead", READ)).status_code == 404
        write(second)
        reloaded = httpx.post(f"{running.admin_url}/faults/reload")
        assert reloaded.json()["source"] == f"file:{path}"
        assert client.post(client.envelope("CustomerRead", READ)).status_code == 503


def test_a_broken_plan_file_stops_the_start_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "faults.yaml"
    path.write_text("rules: [{kind: nonsense}]\n")
    config = SimConfig(data_dir=tmp_path, users={USER: PASSWORD}, faults_file=path)
    with pytest.raises(ValueError, match=r"rules\[0\]\.kind"):
        run_in_thread(config)
