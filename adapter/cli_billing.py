"""``crm-adapter billing-sim``: run the BSCS-style billing simulator in the foreground.

``adapter.cli`` registers this command; the CLI's helpers are imported when the command runs,
so either module may be imported first. With no options the simulator accepts exactly what
the adapter sends by default (``CRM_BILLING_USER``, ``CRM_BILLING_PASSWORD``,
``CRM_BILLING_BUSINESS_UNIT``) on the port of ``CRM_BILLING_URL``, and keeps its state in
``<CRM_DATA_DIR>/billing-sim.sqlite3``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import click


def _default_port() -> int:
    from adapter.settings import get_settings

    try:
        return urlsplit(get_settings().billing_url).port or 8088
    except ValueError:
        return 8088


@click.command("billing-sim")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port (default: the port of CRM_BILLING_URL, 8088 out of the box; 0: any free one).",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder of the state file billing-sim.sqlite3 (default: CRM_DATA_DIR).",
)
@click.option(
    "--faults",
    "faults_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Fault plan (JSON or YAML) applied from the start; POST /admin/faults/reload "
    "reads it again.",
)
@click.option("--user", help="WS-Security user accepted (default: CRM_BILLING_USER).")
@click.option(
    "--password",
    envvar="CRM_BILLING_SIM_PASSWORD",
    help="Its password (default: CRM_BILLING_PASSWORD; env CRM_BILLING_SIM_PASSWORD).",
)
@click.option(
    "--business-unit",
    "business_units",
    multiple=True,
    help="BU_ID accepted (repeat for more; default: CRM_BILLING_BUSINESS_UNIT).",
)
@click.option("--reset", is_flag=True, help="Wipe the simulator's state before starting.")
def billing_sim_cmd(
    host: str,
    port: int | None,
    data_dir: Path | None,
    faults_file: Path | None,
    user: str | None,
    password: str | None,
    business_units: tuple[str, ...],
    reset: bool,
) -> None:
    """Serve the CIL v7 SOAP interface of a simulated BSCS (docs/legacy-interface.md):
    WSDL at /ws/cil?wsdl, admin API at /admin (faults, health, reset). Stop with Ctrl-C."""
    from adapter.cli import EXIT_INPUT, EXIT_STATE, _fail
    from adapter.logs import configure_logging
    from adapter.settings import get_settings
    from adapter.testing.billing_sim import SimConfig, serve
    from adapter.testing.billing_sim.faults import FaultPlanError
    from adapter.testing.billing_sim.state import SimStore, StateError

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    chosen_user = user or settings.billing_user
    chosen_password = (
        password if password is not None else settings.billing_password.get_secret_value()
    )
    try:
        config = SimConfig.from_settings(
            settings,
            data_dir=data_dir,
            users={chosen_user: chosen_password},
            business_units=frozenset(business_units) if business_units else None,
            faults_file=faults_file,
        )
    except ValueError as exc:
        _fail(str(exc), EXIT_INPUT)
    port = _default_port() if port is None else port
    if reset:
        store = SimStore(config.state_path)
        try:
            store.open()
            store.reset()
        except StateError as exc:
            _fail(str(exc), EXIT_STATE)
        finally:
            store.close()

    def announce(url: str) -> None:
        click.echo(
            f"billing simulator: {url}/ws/cil (WSDL ?wsdl), admin {url}/admin; "
            f"user {chosen_user}, business unit(s) {', '.join(sorted(config.business_units))}; "
            f"state {config.state_path}",
            err=True,
        )

    try:
        serve(config, host, port, announce)
    except FaultPlanError as exc:
        _fail(f"fault plan: {exc}", EXIT_INPUT)
    except StateError as exc:
        _fail(str(exc), EXIT_STATE)
    except OSError as exc:
        _fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}", EXIT_STATE)
