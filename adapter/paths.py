"""Where the project's data folders are: the legacy WSDL/XSD and the mapping files live beside
the package (the fixed layout), found from here so that no working directory is assumed.

An installed (not editable) package has no such neighbours: ``CRM_HOME`` then names the folder
that holds ``wsdl/`` and ``mappings/`` (the container image sets it to its copy of the
repository)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(os.environ.get("CRM_HOME") or Path(__file__).resolve().parents[1])
WSDL_DIR = ROOT / "wsdl"
MAPPINGS_DIR = ROOT / "mappings"
CIL_WSDL = WSDL_DIR / "cil.wsdl"
CIL_XSD = WSDL_DIR / "cil.xsd"
CIL_NS = "urn:bscs:cil:v7"
