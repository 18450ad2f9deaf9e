"""Where the project's data folders are: the legacy WSDL/XSD and the mapping files live beside
the package (the fixed layout), found from here so that no working directory is assumed."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WSDL_DIR = ROOT / "wsdl"
MAPPINGS_DIR = ROOT / "mappings"
CIL_WSDL = WSDL_DIR / "cil.wsdl"
CIL_XSD = WSDL_DIR / "cil.xsd"
CIL_NS = "urn:bscs:cil:v7"
