"""The simulator's fault codes: one table, so that the docs, the handlers and the tests agree.

``soap:Client`` faults say the request itself is wrong (not SOAP, not authenticated, not valid
against ``cil.xsd``, no business unit); sending it again unchanged fails again. ``soap:Server``
faults carry business refusals (``CMS.RC67xx``) like a BSCS would raise them, and ``CMS.SYS``
for the simulator's own trouble. Every fault the simulator itself produces has a ``cmsFault``
detail with one of these codes; only the injected ``http500`` fault has none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FaultCode = Literal["Client", "Server"]


@dataclass(frozen=True)
class CodeInfo:
    faultcode: FaultCode
    meaning: str


# code -> (SOAP faultcode, meaning). Kept in the order docs/legacy-interface.md lists them.
CODES: dict[str, CodeInfo] = {
    # --- the request as a message
    "CMS.SOAP0001": CodeInfo("Client", "the body is not acceptable XML (malformed, DOCTYPE, …)"),
    "CMS.SOAP0002": CodeInfo("Client", "not a SOAP 1.1 envelope (namespace, Header, Body)"),
    "CMS.SOAP0003": CodeInfo("Client", "unknown operation (body element) or SOAPAction mismatch"),
    "CMS.SOAP0004": CodeInfo("Client", "request body larger than the simulator accepts (HTTP 413)"),
    "CMS.SOAP0005": CodeInfo("Client", "a header marked mustUnderstand that is not understood"),
    # --- security and session
    "CMS.SEC0001": CodeInfo("Client", "no usable WS-Security UsernameToken (PasswordText)"),
    "CMS.SEC0002": CodeInfo("Client", "authentication failed: unknown user or wrong password"),
    "CMS.SES0001": CodeInfo("Client", "the session item BU_ID is missing"),
    "CMS.SES0002": CodeInfo("Client", "the business unit in BU_ID is not known"),
    # --- schema
    "CMS.VAL0001": CodeInfo("Client", "the request element does not match cil.xsd"),
    # --- business rules (BSCS-style)
    "CMS.RC6700": CodeInfo("Server", "invalid input the schema cannot express"),
    "CMS.RC6701": CodeInfo("Server", "unknown customer"),
    "CMS.RC6702": CodeInfo("Server", "unknown contract"),
    "CMS.RC6703": CodeInfo("Server", "internal and public id name different objects"),
    "CMS.RC6704": CodeInfo("Server", "unknown address (adrSeq) of the customer"),
    "CMS.RC6710": CodeInfo("Server", "invalid contract status transition"),
    "CMS.RC6711": CodeInfo("Server", "the customer is deactivated"),
    "CMS.RC6712": CodeInfo("Server", "invalid customer status transition"),
    "CMS.RC6713": CodeInfo("Server", "customer still has contracts that are not deactivated"),
    "CMS.RC6715": CodeInfo("Server", "the contract is deactivated"),
    "CMS.RC6720": CodeInfo("Server", "duplicate public id"),
    "CMS.RC6721": CodeInfo("Server", "MSISDN in use by a contract that is not deactivated"),
    "CMS.RC6730": CodeInfo("Server", "the hierarchy change would make a cycle"),
    "CMS.RC6731": CodeInfo("Server", "a node that is not payment responsible needs a parent"),
    "CMS.RC6740": CodeInfo("Server", "unknown service"),
    "CMS.RC6741": CodeInfo("Server", "the service is already on the contract"),
    "CMS.RC6742": CodeInfo("Server", "the service is not on the contract"),
    "CMS.RC6743": CodeInfo("Server", "invalid service status transition"),
    "CMS.RC6750": CodeInfo("Server", "unknown discount assignment"),
    "CMS.RC6751": CodeInfo("Server", "unknown discount or promotion code (or wrong kind)"),
    "CMS.RC6752": CodeInfo("Server", "the discount assignment is already removed"),
    # --- the simulator itself
    "CMS.SYS0001": CodeInfo("Server", "internal error of the simulator"),
}


class CmsError(Exception):
    """A refusal that becomes a SOAP fault with a ``cmsFault`` detail.

    ``parameters`` are the values the message is about (ids, codes), echoed as
    ``cmsFault/parameter`` so that a client can use them without parsing the message."""

    def __init__(self, code: str, message: str, *parameters: str, http_status: int = 500) -> None:
        if code not in CODES:
            raise ValueError(f"unknown CMS code {code}")  # a typo in the simulator itself
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.parameters = parameters
        self.http_status = http_status

    @property
    def faultcode(self) -> FaultCode:
        return CODES[self.code].faultcode
