"""A hand-built CIL client: SOAP 1.1 envelopes written as text, sent with httpx, read with
lxml. No zeep, and nothing shared with the simulator (not even its namespace constants), so
that a test using it checks the simulator against a second, independent reading of the
interface. Tests and smoke checks only; the adapter's gateway is the zeep client.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

import httpx
from lxml import etree

CIL = "urn:bscs:cil:v7"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
PLAIN = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
    "#PasswordText"
)
NS = {"c": CIL, "soap": SOAP}


def x(value: object) -> str:
    """Escape a value for an XML text node."""
    return escape(str(value))


@dataclass(frozen=True)
class CilFault:
    faultcode: str
    faultstring: str
    code: str | None
    message: str | None
    parameters: tuple[str, ...]


@dataclass(frozen=True)
class CilReply:
    """One HTTP answer: its status, and the response element or the fault it holds."""

    status: int
    body: bytes
    root: Any
    payload: Any
    fault: CilFault | None

    def text(self, path: str) -> str | None:
        """The text at ``path`` (``c:`` prefixed) below the response element."""
        if self.payload is None:
            raise AssertionError(f"no response element; fault: {self.fault}")
        found = self.payload.findtext(path, namespaces=NS)
        return None if found is None else str(found)

    def texts(self, path: str) -> list[str]:
        if self.payload is None:
            raise AssertionError(f"no response element; fault: {self.fault}")
        return [e.text or "" for e in self.payload.iterfind(path, namespaces=NS)]


def _parser() -> Any:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def read_reply(response: httpx.Response) -> CilReply:
    """Split an HTTP answer into response element or fault (neither for non-XML bodies)."""
    root = payload = fault = None
    if response.content.lstrip().startswith(b"<?xml") or b"Envelope" in response.content[:400]:
        root = etree.fromstring(response.content, _parser())
        body = root.find("soap:Body", NS)
        first = body[0] if body is not None and len(body) else None
        if first is not None and first.tag == f"{{{SOAP}}}Fault":
            fault = CilFault(
                faultcode=first.findtext("faultcode") or "",
                faultstring=first.findtext("faultstring") or "",
                code=first.findtext("detail/c:cmsFault/c:code", namespaces=NS),
                message=first.findtext("detail/c:cmsFault/c:message", namespaces=NS),
                parameters=tuple(
                    p.text or "" for p in first.iterfind("detail/c:cmsFault/c:parameter", NS)
                ),
            )
        else:
            payload = first
    return CilReply(response.status_code, response.content, root, payload, fault)


class CilClient:
    """Calls ``operation`` with the XML of its ``inputAttributes`` (``c:`` prefixed)."""

    def __init__(
        self,
        url: str,
        user: str,
        password: str,
        business_unit: str | None = "1",
        *,
        timeout: float = 10.0,
        http: httpx.Client | None = None,
    ) -> None:
        """``http``: a client to share (tests make many; each new one costs a TLS context);
        closing this object then leaves it open."""
        self.url = url
        self.user = user
        self.password = password
        self.business_unit = business_unit
        self.timeout = timeout
        self._owned = http is None
        self.http = http if http is not None else httpx.Client(timeout=timeout)

    def close(self) -> None:
        if self._owned:
            self.http.close()

    def __enter__(self) -> CilClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def security(self) -> str:
        return (
            f'<wsse:Security xmlns:wsse="{WSSE}" soap:mustUnderstand="1">'
            f"<wsse:UsernameToken><wsse:Username>{x(self.user)}</wsse:Username>"
            f'<wsse:Password Type="{PLAIN}">{x(self.password)}</wsse:Password>'
            "</wsse:UsernameToken></wsse:Security>"
        )

    def session(self) -> str:
        """The session items: BU_ID, or (without a business unit) only LANG."""
        key, value = ("BU_ID", self.business_unit) if self.business_unit else ("LANG", "EN")
        items = f"<c:item><c:key>{key}</c:key><c:value>{x(value)}</c:value></c:item>"
        return f"<c:sessionChangeRequest><c:values>{items}</c:values></c:sessionChangeRequest>"

    def envelope(self, operation: str, inputs: str, *, header: str | None = None) -> bytes:
        element = operation[0].lower() + operation[1:] + "Request"
        head = self.security() if header is None else header
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<soap:Envelope xmlns:soap="{SOAP}" xmlns:c="{CIL}">\n'
            f"<soap:Header>{head}</soap:Header>\n"
            f"<soap:Body><c:{element}>\n"
            f"<c:inputAttributes>{inputs}</c:inputAttributes>\n"
            f"{self.session()}\n"
            f"</c:{element}></soap:Body></soap:Envelope>"
        ).encode()

    def post(
        self, data: bytes, *, operation: str | None = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        sent = {"Content-Type": "text/xml; charset=utf-8"}
        if operation is not None:
            sent["SOAPAction"] = f'"{CIL}/{operation}"'
        sent.update(headers or {})
        return self.http.post(self.url, content=data, headers=sent, timeout=self.timeout)

    def call(self, operation: str, inputs: str, *, header: str | None = None) -> CilReply:
        response = self.post(self.envelope(operation, inputs, header=header), operation=operation)
        return read_reply(response)

    def ok(self, operation: str, inputs: str) -> CilReply:
        """``call`` that insists on a normal answer."""
        reply = self.call(operation, inputs)
        if reply.status != 200 or reply.payload is None:
            raise AssertionError(f"{operation} failed: HTTP {reply.status}, {reply.fault}")
        return reply
