"""The simulator as a server: the WSDL and schema it serves (zeep can load them), state that
survives a restart, the admin API, and the ``crm-adapter billing-sim`` command."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from lxml import etree

from adapter.cli import main
from adapter.testing.billing_sim import RunningSimulator, SimConfig, run_in_thread
from adapter.testing.cil_client import CilClient

USER, PASSWORD = "crm-adapter", "s3cret"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
WSDL_NS = {
    "wsdl": WSDL,
    "soap": "http://schemas.xmlsoap.org/wsdl/soap/",
    "xs": "http://www.w3.org/2001/XMLSchema",
}
NEW_CUSTOMER = (
    "<c:csIdPub>KEEP-1</c:csIdPub><c:paymentResp>true</c:paymentResp><c:customer>"
    "<c:partyType>I</c:partyType><c:lastName>Roe</c:lastName></c:customer>"
)


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSimulator]:
    config = SimConfig(data_dir=tmp_path_factory.mktemp("sim"), users={USER: PASSWORD})
    with run_in_thread(config) as running:
        yield running


def test_the_wsdl_names_the_simulators_own_address(sim: RunningSimulator) -> None:
    response = httpx.get(sim.wsdl_url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    root = etree.fromstring(response.content)
    address = root.find(".//wsdl:service/wsdl:port/soap:address", WSDL_NS)
    assert address.get("location") == sim.soap_url
    imported = root.find(".//wsdl:types/xs:schema/xs:import", WSDL_NS)
    assert imported.get("schemaLocation") == f"{sim.soap_url}?xsd=cil.xsd"


def test_the_wsdl_follows_the_host_the_client_used(sim: RunningSimulator) -> None:
    response = httpx.get(sim.wsdl_url, headers={"Host": f"billing.test:{sim.port}"})
    assert f'location="http://billing.test:{sim.port}/ws/cil"' in response.text


def test_a_configured_public_url_wins_over_the_host_header(tmp_path: Path) -> None:
    config = SimConfig(
        data_dir=tmp_path, users={USER: PASSWORD}, public_url="https://bscs.example/"
    )
    with run_in_thread(config) as running:
        text = httpx.get(running.wsdl_url).text
    assert 'location="https://bscs.example/ws/cil"' in text


def test_the_schema_is_served_where_the_wsdl_says(sim: RunningSimulator) -> None:
    response = httpx.get(f"{sim.soap_url}?xsd=cil.xsd")
    assert response.status_code == 200
    schema = etree.XMLSchema(etree.fromstring(response.content))
    assert schema is not None
    assert b'targetNamespace="urn:bscs:cil:v7"' in response.content


def test_an_unknown_schema_name_is_404(sim: RunningSimulator) -> None:
    assert httpx.get(f"{sim.soap_url}?xsd=../../etc/passwd").status_code == 404


def test_zeep_loads_the_served_wsdl_with_all_operations(sim: RunningSimulator) -> None:
    import zeep

    client = zeep.Client(sim.wsdl_url)
    service = client.wsdl.services["CilService"]
    port = service.ports["CilPort"]
    assert port.binding_options["address"] == sim.soap_url
    assert len(port.binding._operations) == 18


def test_health_reports_the_state(sim: RunningSimulator) -> None:
    health = httpx.get(f"{sim.admin_url}/health").json()
    assert health["status"] == "ok"
    assert health["state_file"].endswith("billing-sim.sqlite3")


def test_reset_wipes_customers_and_restarts_the_ids(sim: RunningSimulator) -> None:
    with CilClient(sim.soap_url, USER, PASSWORD) as cil:
        first = cil.ok("CustomerNew", NEW_CUSTOMER.replace("KEEP-1", "R-1")).text("c:csId")
        reset = httpx.post(f"{sim.admin_url}/reset").json()
        assert reset["customers"] == 0
        again = cil.ok("CustomerNew", NEW_CUSTOMER.replace("KEEP-1", "R-1")).text("c:csId")
    assert again == first


def test_state_survives_a_restart_on_the_same_data_dir(tmp_path: Path) -> None:
    config = SimConfig(data_dir=tmp_path, users={USER: PASSWORD})
    with run_in_thread(config) as first, CilClient(first.soap_url, USER, PASSWORD) as cil:
        cs_id = cil.ok("CustomerNew", NEW_CUSTOMER).text("c:csId")
        cil.ok(
            "ContractNew",
            f"<c:customer><c:csId>{cs_id}</c:csId></c:customer><c:rpCode>RP_S</c:rpCode>"
            "<c:dnNum>4917012340001</c:dnNum>",
        )
    with run_in_thread(config) as second, CilClient(second.soap_url, USER, PASSWORD) as cil:
        read = cil.ok("CustomerRead", "<c:csIdPub>KEEP-1</c:csIdPub>")
        assert read.text("c:csId") == cs_id
        found = cil.ok("CustomersSearch", "<c:dnNum>4917012340001</c:dnNum>")
        assert found.texts("c:customers/c:customer/c:csId") == [cs_id]
        # the id series go on where they stopped
        other = cil.ok("CustomerNew", NEW_CUSTOMER.replace("KEEP-1", "KEEP-2"))
        assert int(other.text("c:csId") or 0) == int(cs_id or 0) + 1


def test_stop_ends_a_hang_at_once(tmp_path: Path) -> None:
    config = SimConfig(data_dir=tmp_path, users={USER: PASSWORD})
    running = run_in_thread(config, faults={"rules": [{"kind": "hang", "seconds": 60}]})
    with CilClient(running.soap_url, USER, PASSWORD, timeout=30) as cil:
        caller = threading.Thread(target=lambda: _swallow(cil), daemon=True)
        caller.start()
        time.sleep(0.2)
        started = time.monotonic()
        running.stop()
        assert time.monotonic() - started < 3
        caller.join(3)
        assert not caller.is_alive()


def _swallow(cil: CilClient) -> None:
    with contextlib.suppress(httpx.HTTPError):
        cil.call("CustomerRead", "<c:csId>1</c:csId>")


# ---------------------------------------------------------------------------------- CLI


def test_the_cli_has_a_billing_sim_command() -> None:
    result = CliRunner().invoke(main, ["billing-sim", "--help"])
    assert result.exit_code == 0
    assert "--faults" in result.output
    assert "--data-dir" in result.output


def test_the_cli_refuses_a_broken_fault_plan_naming_it(tmp_path: Path) -> None:
    plan = tmp_path / "faults.json"
    plan.write_text('{"rules": [{"kind": "nonsense"}]}')
    result = CliRunner().invoke(
        main, ["billing-sim", "--data-dir", str(tmp_path), "--faults", str(plan), "--port", "0"]
    )
    assert result.exit_code == 2
    assert "rules[0].kind" in result.output


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_crm_adapter_billing_sim_serves_with_the_adapters_defaults(tmp_path: Path) -> None:
    """The command, run as a process with no user options, lets the adapter's default
    credentials in; its state goes to CRM_DATA_DIR."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_BILLING")} | {
        "CRM_DATA_DIR": str(tmp_path)
    }
    command = [sys.executable, "-m", "adapter.cli", "billing-sim", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/admin/health", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline
                time.sleep(0.1)
        with CilClient(
            f"http://127.0.0.1:{port}/ws/cil", "crm-adapter", "crm-adapter-secret", "1"
        ) as cil:
            reply = cil.call("CustomerRead", "<c:csId>1</c:csId>")
        assert reply.fault is not None
        assert reply.fault.code == "CMS.RC6701"
        assert (tmp_path / "billing-sim.sqlite3").exists()
    finally:
        process.terminate()
        process.wait(10)
