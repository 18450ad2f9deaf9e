"""A BSCS-style billing system behind the CIL v7 SOAP interface (``wsdl/cil.wsdl``), with its
own persistent state and fault injection, for the demo, the tests and the benchmarks.

Start one with ``crm-adapter billing-sim`` or, in Python::

    from adapter.testing.billing_sim import SimConfig, run_in_thread

    with run_in_thread(SimConfig.from_settings(data_dir=tmp_path)) as sim:
        ...  # sim.soap_url, sim.wsdl_url, sim.admin_url

See docs/legacy-interface.md.
"""

from __future__ import annotations

from .app import create_app
from .codes import CODES, CmsError
from .config import SimConfig
from .server import RunningSimulator, run_in_thread, serve

__all__ = [
    "CODES",
    "CmsError",
    "RunningSimulator",
    "SimConfig",
    "create_app",
    "run_in_thread",
    "serve",
]
