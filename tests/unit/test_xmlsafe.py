"""The hardened XML reader refuses every classic attack before it can do harm, with a message
that says why, and streams a document of any size in flat memory."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapter.xmlsafe import PROLOG_MAX, XmlRejected, iterparse, parse

ROOT = Path(__file__).resolve().parents[2]

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<lolz>&lol9;</lolz>"""
QUADRATIC = (
    b'<?xml version="1.0"?><!DOCTYPE q [<!ENTITY a "'
    + b"x" * 50_000
    + b'">]><q>'
    + b"&a;" * 10_000
    + b"</q>"
)
XXE_FILE = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
XXE_NETWORK = b'<!DOCTYPE r [<!ENTITY x SYSTEM "http://127.0.0.1:9/x">]><r>&x;</r>'
PARAMETER_ENTITY = b'<!DOCTYPE r [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><r/>'
EXTERNAL_DTD = b'<!DOCTYPE r SYSTEM "http://127.0.0.1:9/evil.dtd"><r/>'
UNDECLARED_ENTITY = b"<r>&x;</r>"


@pytest.mark.parametrize(
    "document",
    [BILLION_LAUGHS, QUADRATIC, XXE_FILE, XXE_NETWORK, PARAMETER_ENTITY, EXTERNAL_DTD],
    ids=["billion-laughs", "quadratic", "xxe-file", "xxe-network", "parameter-entity", "dtd"],
)
def test_a_doctype_is_refused_before_parsing(document: bytes) -> None:
    started = time.perf_counter()
    with pytest.raises(XmlRejected, match="DOCTYPE declaration"):
        parse(document)
    assert time.perf_counter() - started < 1


def test_an_undeclared_entity_is_not_well_formed() -> None:
    with pytest.raises(XmlRejected, match="not well-formed"):
        parse(UNDECLARED_ENTITY)


def test_an_oversized_document_is_refused_by_its_size() -> None:
    with pytest.raises(XmlRejected, match="more than the 1000 allowed"):
        parse(b"<r>" + b"x" * 1000 + b"</r>", max_bytes=1000)


def test_an_empty_document_is_refused() -> None:
    with pytest.raises(XmlRejected, match="is empty"):
        parse(b"  \n")


def test_malformed_xml_names_the_line() -> None:
    with pytest.raises(XmlRejected, match="line 2"):
        parse(b"<r>\n<a></b></r>")


def test_absurd_nesting_is_refused_by_the_parser_limits() -> None:
    deep = b"<a>" * 300_000 + b"</a>" * 300_000
    with pytest.raises(XmlRejected, match="not well-formed"):
        parse(deep, max_bytes=len(deep))


def test_a_clean_document_parses() -> None:
    root = parse(b'<r xmlns="urn:x"><a>1</a></r>')
    assert root.findtext("{urn:x}a") == "1"


# ------------------------------------------------------------------ streams


def records(count: int) -> Iterator[bytes]:
    yield b'<?xml version="1.0"?>\n<export xmlns="urn:x">'
    for i in range(count):
        yield b"<rec><n>%d</n><pad>%s</pad></rec>" % (i, b"p" * 200)
    yield b"</export>"


def stream(count: int) -> io.BytesIO:
    return io.BytesIO(b"".join(records(count)))


def test_a_stream_yields_every_record_in_order() -> None:
    numbers = [int(e.findtext("{urn:x}n")) for e in iterparse(stream(1000), "{urn:x}rec")]
    assert numbers == list(range(1000))


def test_a_stream_with_a_doctype_is_refused_before_any_record() -> None:
    seen: list[object] = []
    with pytest.raises(XmlRejected, match="DOCTYPE declaration"):
        seen.extend(iterparse(io.BytesIO(BILLION_LAUGHS), "lolz"))
    assert not seen


def test_a_stream_without_a_root_in_its_prolog_budget_is_refused() -> None:
    comment = b"<!--" + b"c" * PROLOG_MAX + b"-->"
    with pytest.raises(XmlRejected, match="no root element"):
        list(iterparse(io.BytesIO(comment + b"<r/>"), "r"))


def test_a_truncated_stream_stops_with_a_clear_error_after_the_good_records() -> None:
    data = b"".join(records(10))[:-40]
    seen = []
    with pytest.raises(XmlRejected, match="not well-formed"):
        for element in iterparse(io.BytesIO(data), "{urn:x}rec"):
            seen.append(element.findtext("{urn:x}n"))
    assert seen[:9] == [str(i) for i in range(9)]


PEAK_RSS = """
import sys
from adapter.xmlsafe import iterparse
from tests.memory import peak_rss_kib
with open(sys.argv[1], "rb") as handle:
    for _ in iterparse(handle, "{urn:x}rec"):
        pass
print(peak_rss_kib())
"""


def peak_rss_kib(count: int, path: Path) -> int:
    """Peak resident memory of a fresh interpreter streaming ``count`` records (libxml2's own
    memory included, which tracemalloc would not see)."""
    with path.open("wb") as handle:
        for chunk in records(count):
            handle.write(chunk)
    done = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return int(done.stdout.strip())


def test_memory_does_not_grow_with_the_stream(tmp_path: Path) -> None:
    small = peak_rss_kib(5_000, tmp_path / "small.xml")
    large = peak_rss_kib(100_000, tmp_path / "large.xml")  # 20x the records, ~23 MB
    assert large - small < 8 * 1024  # KiB; keeping the records would take 50 MB and more
