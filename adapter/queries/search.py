"""Customer search by every key a care agent may have at hand.

Every criterion is optional; those given must all match (AND). Exact keys are normalised the way
the store writes them (``adapter/store/entities.py``) and compared for equality, so that each is
an index lookup. Keys that live in one address (``address``, ``postcode``, ``city``) must match
the same address, and keys of one SIM (``msisdn``, ``imsi``, ``iccid``) the same subscriber.

Text fragments are normalised with :func:`~adapter.domain.identifiers.search_text` (case and
accents do not matter) and must be long enough for an index to narrow them down; counted in
letters and digits after normalisation:

- ``name``: at least :data:`NAME_MIN_LENGTH` (2), matched as a prefix of the whole name or of any
  word of it, a word beginning after a space or a hyphen ("mü" finds "Ana Müller", "lud"
  "Jörg Müller-Lüdenscheid"); on PostgreSQL the trigram index serves it, SQLite scans;
- ``address``: at least :data:`ADDRESS_MIN_LENGTH` (3), matched anywhere in the address lines
  ("hauptstr" finds "Hauptstraße 5"; trigrams need three characters when nothing anchors
  them); on PostgreSQL a trigram index serves it, SQLite scans the addresses;
- ``fuzzy_name``: at least :data:`FUZZY_MIN_LENGTH` (3), typo-tolerant (below).

Every text criterion is at most :data:`TEXT_MAX_LENGTH` characters. Broken input raises
:class:`~adapter.domain.errors.ValidationFailed` with one violation per problem, naming the
criterion and the rule: ``criteria``/``required`` when nothing is given, ``min_length``,
``max_length``, ``date`` for a birth date that is not ``YYYY-MM-DD``, ``format`` for an MSISDN,
IMSI, ICCID or e-mail address the identifier rules refuse, ``range`` for a limit outside
1 to :data:`LIMIT_MAX` (500) or a negative offset.

**Fuzzy names** compare trigrams the way PostgreSQL's ``pg_trgm`` does: the
``word_similarity`` of the fragment and the name (the Jaccard similarity of the fragment's
trigrams and the best-matching stretch of the name's). When any name matching the other
criteria is close (at least :data:`FUZZY_CLOSE`, 0.5: one letter dropped from a surname of six
or more), only close names are returned; otherwise every name at least :data:`FUZZY_THRESHOLD`
(0.3). "Mueler" finds "Ana Müller" (0.4) when nobody is closer. Results come by similarity,
best first. The rule keeps a typo's few close matches fast on a large base (the loose
threshold makes the trigram index visit tens of thousands of names of a million that share a
common surname's trigrams) and still finds a badly typed name; the choice depends only on the
query, so paging stays stable.

A fragment of **one word** ("Mulr") is compared with each word of the names, and a name's
similarity is that of its closest word; a fragment of several words ("Ana Mulr") is compared
with the whole name.

- PostgreSQL, one word: the typo is matched (``word %> fragment``, GIN trigram index) against
  the vocabulary of name words of migration 0009 (a few hundred thousand words where there are
  a million names), then the customers with the matched words come out of
  ``customer_name_word``'s primary key in the search's order, a page's worth per word: the cost
  no longer grows with the number of customers sharing a common surname. Other criteria are
  applied by joining the customers of the matched words.
- PostgreSQL, several words: ``name_key %> fragment`` served by the GIN trigram index of
  migration 0002.
- On both, ``pg_trgm.word_similarity_threshold`` is set for the transaction
  (``set_config(..., true)``). On a connection in autocommit mode that setting does not last to
  the query, and the extension's default of 0.6 applies: fewer results, never wrong ones.
- SQLite: the FTS5 trigram table of migration 0002 finds the names sharing a trigram with the
  fragment, best :data:`FUZZY_CANDIDATES` first by FTS5's bm25 rank, the other criteria
  applied in the same query; the similarity is then computed here for those candidates. The
  ``total`` of a fuzzy search on SQLite therefore counts at most that many customers.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    Float,
    Integer,
    Row,
    String,
    Text,
    any_,
    bindparam,
    column,
    distinct,
    exists,
    func,
    literal,
    or_,
    select,
    table,
    true,
)

from adapter.domain import identifiers
from adapter.domain.errors import ValidationFailed, Violation
from adapter.domain.identifiers import identifier_key, search_text
from adapter.domain.model import (
    ContactMediumType,
    IdentificationType,
    SubscriberStatus,
)
from adapter.store import tables as t

NAME_MIN_LENGTH = 2
ADDRESS_MIN_LENGTH = 3
FUZZY_MIN_LENGTH = 3
TEXT_MAX_LENGTH = 200
LIMIT_MAX = 500
FUZZY_THRESHOLD = 0.3
FUZZY_CLOSE = 0.5
FUZZY_CANDIDATES = 1000

# Search objects that only one dialect has, created by migration 0002 and absent from
# ``tables.metadata`` (the FTS5 table brings shadow tables named after it).
NAME_FTS_TABLE = "customer_name_fts"
# PostgreSQL's vocabulary of name words and the customers of each word (migration 0009).
NAME_WORD_TABLE = "name_word"
CUSTOMER_NAME_WORD_TABLE = "customer_name_word"
# PostgreSQL's covering index of a search's list items (migration 0010).
DIALECT_ONLY_INDEXES = (
    "ix_customer_name_key_trgm",
    "ix_customer_address_line_key_trgm",
    "ix_customer_item",
)
DIALECT_ONLY_TABLES = (NAME_FTS_TABLE, NAME_WORD_TABLE, CUSTOMER_NAME_WORD_TABLE)

IDENTIFICATION_TYPES = (
    IdentificationType.TIN,
    IdentificationType.PERSONAL_ID,
    IdentificationType.PASSPORT,
)
# Where a word of a name may begin, besides at its start: after a space, or after the hyphen of
# a double-barrelled name ("lud" finds "Müller-Lüdenscheid").
_WORD_STARTS = (" ", "-")

_NOT_LETTER_OR_DIGIT = re.compile(r"[\W_]+")
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class SearchCriteria:
    """What a person asks for, as typed; ``None`` means "not given"."""

    name: str | None = None
    fuzzy_name: str | None = None
    address: str | None = None
    postcode: str | None = None
    city: str | None = None
    birth_date: date | str | None = None
    email: str | None = None
    tin: str | None = None
    personal_id: str | None = None
    passport: str | None = None
    msisdn: str | None = None
    imsi: str | None = None
    iccid: str | None = None
    contract_number: str | None = None
    customer_number: str | None = None
    # A number is recycled once its subscriber is deactivated: by default MSISDN, IMSI and
    # ICCID find the live holder only; with this, former holders too (not a criterion).
    former_holders: bool = False

    def keys(self) -> SearchKeys:
        """The criteria as the store's search keys; every broken one is reported at once."""
        violations: list[Violation] = []
        found = _normalise(self, violations)
        if violations:
            raise ValidationFailed(violations)
        return found


@dataclass(frozen=True)
class SearchKeys:
    """Criteria normalised to the form of the store's search-key columns."""

    name: str | None = None
    fuzzy_name: str | None = None
    address: str | None = None
    postcode: str | None = None
    city: str | None = None
    birth_date: date | None = None
    email: str | None = None
    tin: str | None = None
    personal_id: str | None = None
    passport: str | None = None
    msisdn: str | None = None
    imsi: str | None = None
    iccid: str | None = None
    contract_number: str | None = None
    customer_number: str | None = None
    former_holders: bool = False


@dataclass(frozen=True)
class SearchPage:
    """One page of matches, in a stable order, and how many match in all."""

    total: int
    items: list[dict[str, Any]]
    limit: int
    offset: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "limit": self.limit,
            "offset": self.offset,
            "items": [{**item, "birth_date": _iso(item["birth_date"])} for item in self.items],
        }


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def search(
    conn: Connection, criteria: SearchCriteria, *, limit: int = 50, offset: int = 0
) -> SearchPage:
    """Customers matching every given criterion: ``limit`` of them from ``offset``, ordered by
    name then id (fuzzy: by similarity, then name, then id), with the number of all matches.

    Each item has ``id``, ``customer_number``, ``name`` (the display name), ``party_kind``,
    ``birth_date``, ``status`` and ``segment``; a fuzzy search adds ``similarity``."""
    violations: list[Violation] = []
    keys = _normalise(criteria, violations)
    violations.extend(page_violations(limit, offset))
    if violations:
        raise ValidationFailed(violations)
    given = _given(keys)
    if keys.fuzzy_name is None and given & _IDENTIFYING_KEYS and given <= _EQUALITY_KEYS:
        return _identified_page(conn, keys, given, limit, offset)
    conditions = _conditions(keys)
    if keys.fuzzy_name is None:
        identifying = bool(given & _IDENTIFYING_KEYS)
        return _ordered_page(conn, conditions, limit, offset, identifying)
    if conn.dialect.name == "postgresql":
        return _fuzzy_page_postgresql(conn, keys.fuzzy_name, conditions, limit, offset)
    return _fuzzy_page_sqlite(conn, keys.fuzzy_name, conditions, limit, offset)


def page_violations(limit: int, offset: int) -> list[Violation]:
    found = []
    if not 1 <= limit <= LIMIT_MAX:
        found.append(Violation("limit", "range", f"{limit} is not between 1 and {LIMIT_MAX}"))
    if offset < 0:
        found.append(Violation("offset", "range", f"{offset} is negative"))
    return found


# ------------------------------------------------------------------------------ criteria


_OPTIONS = frozenset({"former_holders"})  # fields of SearchCriteria that narrow nothing alone


def _normalise(criteria: SearchCriteria, violations: list[Violation]) -> SearchKeys:
    given = [f.name for f in fields(criteria) if f.name not in _OPTIONS]
    if all(getattr(criteria, name) is None for name in given):
        names = ", ".join(given)
        violations.append(
            Violation("criteria", "required", f"give at least one search criterion ({names})")
        )
        return SearchKeys()

    def fragment(name: str, minimum: int) -> str | None:
        return _fragment(name, getattr(criteria, name), minimum, violations)

    def exact(name: str, normalise: Callable[[str], str]) -> str | None:
        return _exact(name, getattr(criteria, name), normalise, violations)

    return SearchKeys(
        name=fragment("name", NAME_MIN_LENGTH),
        fuzzy_name=fragment("fuzzy_name", FUZZY_MIN_LENGTH),
        address=fragment("address", ADDRESS_MIN_LENGTH),
        postcode=exact("postcode", identifier_key),
        city=exact("city", search_text),
        birth_date=_birth_date(criteria.birth_date, violations),
        email=exact("email", lambda value: identifiers.email(value).lower()),
        tin=exact("tin", identifier_key),
        personal_id=exact("personal_id", identifier_key),
        passport=exact("passport", identifier_key),
        msisdn=exact("msisdn", identifiers.msisdn),
        imsi=exact("imsi", identifiers.imsi),
        iccid=exact("iccid", identifiers.iccid),
        contract_number=exact("contract_number", str.strip),
        customer_number=exact("customer_number", str.strip),
        former_holders=criteria.former_holders,
    )


def _fragment(
    name: str, value: str | None, minimum: int, violations: list[Violation]
) -> str | None:
    if value is None:
        return None
    key = search_text(value)
    if len(key) > TEXT_MAX_LENGTH:
        violations.append(
            Violation(name, "max_length", f"is {len(key)} characters; at most {TEXT_MAX_LENGTH}")
        )
        return None
    significant = len(_NOT_LETTER_OR_DIGIT.sub("", key))
    if significant < minimum:
        violations.append(
            Violation(
                name,
                "min_length",
                f"{value!r} has too few letters or digits ({significant}); give at least {minimum}",
            )
        )
        return None
    return key


def _exact(
    name: str, value: str | None, normalise: Callable[[str], str], violations: list[Violation]
) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if len(value) > TEXT_MAX_LENGTH:
        violations.append(
            Violation(name, "max_length", f"is {len(value)} characters; at most {TEXT_MAX_LENGTH}")
        )
        return None
    try:
        key = normalise(value)
    except ValueError as exc:
        violations.append(Violation(name, "format", str(exc)))
        return None
    if not key:
        violations.append(Violation(name, "min_length", "is empty"))
        return None
    return key


def _birth_date(value: date | str | None, violations: list[Violation]) -> date | None:
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    violations.append(Violation("birth_date", "date", f"{value!r} is not a date (YYYY-MM-DD)"))
    return None


# ------------------------------------------------------------------------------- queries


def _conditions(keys: SearchKeys) -> list[ColumnElement[bool]]:
    """Every criterion but the fuzzy name, as conditions on ``customer``."""
    c = t.customer.c
    found: list[ColumnElement[bool]] = []
    if keys.name is not None:
        found.append(
            or_(
                c.name_key.startswith(keys.name, autoescape=True),
                *(c.name_key.contains(f"{s}{keys.name}", autoescape=True) for s in _WORD_STARTS),
            )
        )
    if keys.birth_date is not None:
        found.append(c.birth_date == keys.birth_date)
    if keys.customer_number is not None:
        found.append(c.customer_number == keys.customer_number)

    a = t.customer_address.c
    in_address: list[ColumnElement[bool]] = []
    if keys.address is not None:
        in_address.append(a.line_key.contains(keys.address, autoescape=True))
    if keys.postcode is not None:
        in_address.append(a.postcode_key == keys.postcode)
    if keys.city is not None:
        in_address.append(a.city_key == keys.city)
    if in_address:
        found.append(c.id.in_(select(a.customer_id).where(*in_address)))

    if keys.email is not None:
        m = t.customer_contact.c
        found.append(
            c.id.in_(
                select(m.customer_id).where(
                    m.value_key == keys.email, m.type == ContactMediumType.EMAIL.value
                )
            )
        )

    i = t.customer_identification.c
    for kind in IDENTIFICATION_TYPES:
        key = getattr(keys, kind.value)
        if key is not None:
            found.append(
                c.id.in_(select(i.customer_id).where(i.value_key == key, i.type == kind.value))
            )

    s = t.subscriber.c
    on_subscriber = [
        s[name] == getattr(keys, name)
        for name in ("msisdn", "imsi", "iccid")
        if getattr(keys, name) is not None
    ]
    if on_subscriber:
        if not keys.former_holders:
            on_subscriber.append(s.status != SubscriberStatus.DEACTIVATED.value)
        found.append(c.id.in_(select(s.customer_id).where(*on_subscriber)))

    if keys.contract_number is not None:
        k = t.contract.c
        found.append(c.id.in_(select(k.customer_id).where(k.number == keys.contract_number)))
    return found


# A list item's columns: all in ``ix_customer_item`` on PostgreSQL (revision 0010), which
# serves a page of ids by index only; none of them is the customer's document.
_ITEM_COLUMNS = (
    t.customer.c.id,
    t.customer.c.customer_number,
    t.customer.c.party_kind,
    t.customer.c.birth_date,
    t.customer.c.status,
    t.customer.c.segment,
    t.customer.c.display_name,
)
# Keys that each find a customer or a handful (an identifier, a number, an e-mail address):
# with one of them, the page and the number of matches come from one statement.
_IDENTIFYING_KEYS = frozenset(
    {
        "email",
        *(kind.value for kind in IDENTIFICATION_TYPES),
        "msisdn",
        "imsi",
        "iccid",
        "contract_number",
        "customer_number",
    }
)
# Keys compared for equality (not a pattern): a statement of those takes them as parameters.
_EQUALITY_KEYS = _IDENTIFYING_KEYS | {"postcode", "city", "birth_date"}


def _given(keys: SearchKeys) -> frozenset[str]:
    return frozenset(
        f.name for f in fields(keys) if f.name not in _OPTIONS and getattr(keys, f.name) is not None
    )


@functools.lru_cache(maxsize=512)
def _identified_statement(given: frozenset[str], former_holders: bool) -> tuple[Any, Any]:
    """The page (with its window count) and the count of a search by equality keys only,
    with each key a parameter named after it: built once per combination of keys, so that a
    search by MSISDN does not build, and SQLAlchemy does not key, a statement each time."""
    parameters: dict[str, Any] = {name: bindparam(name) for name in given}
    keys = SearchKeys(**parameters, former_holders=former_holders)
    c = t.customer.c
    conditions = _conditions(keys)
    page = (
        select(*_ITEM_COLUMNS, func.count().over().label("total"))
        .where(*conditions)
        .order_by(c.name_key, c.id)
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
    )
    return page, select(func.count()).select_from(t.customer).where(*conditions)


def _identified_page(
    conn: Connection, keys: SearchKeys, given: frozenset[str], limit: int, offset: int
) -> SearchPage:
    page, count = _identified_statement(given, keys.former_holders)
    values = {name: getattr(keys, name) for name in given}
    rows = conn.execute(page, {**values, "limit": limit, "offset": offset}).all()
    if rows:
        counted = int(rows[0].total)
    elif offset == 0:
        counted = 0
    else:  # a page past the end: count on its own
        counted = int(conn.execute(count, values).scalar_one())
    return SearchPage(counted, [_item(row) for row in rows], limit, offset)


def _item(row: Any, similarity: float | None = None) -> dict[str, Any]:
    item = {
        "id": row.id,
        "customer_number": row.customer_number,
        "name": row.display_name,
        "party_kind": row.party_kind,
        "birth_date": row.birth_date,
        "status": row.status,
        "segment": row.segment,
    }
    if similarity is not None:
        item["similarity"] = round(similarity, 3)
    return item


def _ordered_page(
    conn: Connection,
    conditions: list[ColumnElement[bool]],
    limit: int,
    offset: int,
    identifying: bool = False,
) -> SearchPage:
    """By name then id. With an identifying key the matches are few: one statement gives the
    page and, on every row, their number (a window count). Otherwise (a name prefix, a city:
    maybe a hundred thousand matches) the count and the page are two statements, the page
    read in order from the name's index and stopped at its end rather than counted through."""
    c = t.customer.c
    if identifying:
        rows: Sequence[Row[Any]] = conn.execute(
            select(*_ITEM_COLUMNS, func.count().over().label("total"))
            .where(*conditions)
            .order_by(c.name_key, c.id)
            .limit(limit)
            .offset(offset)
        ).all()
        return _window_page(conn, rows, conditions, limit, offset, scored=False)
    total = conn.execute(select(func.count()).select_from(t.customer).where(*conditions))
    counted = int(total.scalar_one())
    rows = []
    if counted > offset:
        rows = conn.execute(
            select(*_ITEM_COLUMNS)
            .where(*conditions)
            .order_by(c.name_key, c.id)
            .limit(limit)
            .offset(offset)
        ).all()
    return SearchPage(counted, [_item(row) for row in rows], limit, offset)


_SET_WORD_THRESHOLD = select(
    func.set_config("pg_trgm.word_similarity_threshold", bindparam("threshold", type_=Text), True)
)


def _set_word_threshold(conn: Connection, threshold: float) -> None:
    # ``%>`` is what the GIN indexes serve; its threshold is a setting, not an operand. Queries
    # also compare the similarity explicitly, so that a lower setting changes nothing.
    conn.execute(_SET_WORD_THRESHOLD, {"threshold": str(threshold)})


def _fuzzy_page_postgresql(
    conn: Connection,
    fragment: str,
    conditions: list[ColumnElement[bool]],
    limit: int,
    offset: int,
) -> SearchPage:
    if len(_WORD.findall(fragment)) == 1:
        return _fuzzy_word_page(conn, fragment, conditions, limit, offset)
    c = t.customer.c
    similarity = func.word_similarity(literal(fragment), c.name_key, type_=Float)

    def matching_at(threshold: float) -> list[ColumnElement[bool]]:
        _set_word_threshold(conn, threshold)
        return [*conditions, c.name_key.op("%>")(literal(fragment)), similarity >= threshold]

    matching = matching_at(FUZZY_CLOSE)
    if conn.execute(select(c.id).where(*matching).limit(1)).first() is None:
        matching = matching_at(FUZZY_THRESHOLD)
    # One walk of the trigram index gives the page and, on every row, the number of matches.
    rows: Sequence[Row[Any]] = conn.execute(
        select(*_ITEM_COLUMNS, similarity.label("similarity"), func.count().over().label("total"))
        .where(*matching)
        .order_by(similarity.desc(), c.name_key, c.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return _window_page(conn, rows, matching, limit, offset)


def _window_page(
    conn: Connection,
    rows: Sequence[Row[Any]],
    matching: list[ColumnElement[bool]],
    limit: int,
    offset: int,
    scored: bool = True,
) -> SearchPage:
    """A page whose rows carry the number of all matches (``total``, a window count) and,
    when ``scored``, their similarity."""
    if rows:
        counted = int(rows[0].total)
    elif offset == 0:
        counted = 0
    else:  # a page past the end: count on its own
        total = conn.execute(select(func.count()).select_from(t.customer).where(*matching))
        counted = int(total.scalar_one())
    items = [_item(row, row.similarity if scored else None) for row in rows]
    return SearchPage(counted, items, limit, offset)


_NAME_WORDS = table(NAME_WORD_TABLE, column("word", Text))
_CUSTOMER_WORDS = table(
    CUSTOMER_NAME_WORD_TABLE, column("word", Text), column("name_key"), column("customer_id")
)


def _fuzzy_word_page(
    conn: Connection,
    fragment: str,
    conditions: list[ColumnElement[bool]],
    limit: int,
    offset: int,
) -> SearchPage:
    """A one-word fuzzy search on PostgreSQL, through the vocabulary of name words."""
    cw = _CUSTOMER_WORDS.c

    def words_at(threshold: float) -> dict[str, float]:
        _set_word_threshold(conn, threshold)
        rows = conn.execute(_VOCABULARY, {"fragment": fragment, "threshold": threshold}).all()
        return {word: score for word, score in rows}

    close = words_at(FUZZY_CLOSE)
    if not conditions:
        return _word_page(conn, close or words_at(FUZZY_THRESHOLD), limit, offset)
    c = t.customer.c

    def matched(words: dict[str, float]) -> Any:
        given = _given_words(words)
        score = func.max(given.c.score)
        return (
            select(*_ITEM_COLUMNS, score.label("similarity"), func.count().over().label("total"))
            .select_from(
                given.join(_CUSTOMER_WORDS, cw.word == given.c.word).join(
                    t.customer, c.id == cw.customer_id
                )
            )
            .where(*conditions)
            .group_by(c.id)
            .order_by(score.desc(), c.name_key, c.id)
        )

    words = close
    if not words or conn.execute(matched(words).limit(1)).first() is None:
        words = words_at(FUZZY_THRESHOLD)
    if not words:
        return SearchPage(0, [], limit, offset)
    rows = conn.execute(matched(words).limit(limit).offset(offset)).all()
    in_words = c.id.in_(select(cw.customer_id).where(cw.word.in_(list(words))))
    return _window_page(conn, rows, [*conditions, in_words], limit, offset)


def _word_page(conn: Connection, words: dict[str, float], limit: int, offset: int) -> SearchPage:
    """The customers whose names have any of ``words`` (word -> similarity), each at its best
    word's similarity, by similarity, name and id. Each word's customers are read in that order
    from the primary key of ``customer_name_word``, no more of them than the page needs."""
    if not words:
        return SearchPage(0, [], limit, offset)
    # A customer has one row per word of its name: the customers of one word need no DISTINCT.
    count = _COUNT_OF_WORD if len(words) == 1 else _COUNT_OF_WORDS
    counted = int(conn.execute(count, {"words": list(words)}).scalar_one())
    wanted = offset + limit
    ranked: dict[str, float] = {}  # customer id -> similarity, best first
    reach = wanted
    given = {"words": list(words), "scores": list(words.values())}
    while counted > offset:
        ranked.clear()
        rows = conn.execute(_BEST_OF_WORDS, {**given, "reach": reach}).all()
        for score, _name, customer_id in rows:
            ranked.setdefault(customer_id, score)  # a second word of the same name ranks lower
        if len(ranked) >= wanted or len(rows) < reach:
            break
        reach *= 2  # names with several of the words took rows: read further
    page = list(ranked.items())[offset:wanted]
    found: dict[str, Row[Any]] = {}
    if page:
        chosen = conn.execute(_ITEMS_OF, {"ids": [id_ for id_, _ in page]})
        found = {row.id: row for row in chosen}
    # A customer removed since its words were read (on a connection without a transaction) is
    # left out rather than failing the page.
    items = [_item(found[id_], score) for id_, score in page if id_ in found]
    return SearchPage(counted, items, limit, offset)


def _given_words(words: dict[str, float] | None) -> Any:
    """``words`` (word -> similarity) as a table ``given(word, score)``; ``None``: of the
    parameters ``:words`` and ``:scores``, given at execution."""
    if words is None:
        given = bindparam("words", type_=ARRAY(Text)), bindparam("scores", type_=ARRAY(Float))
    else:
        given = (
            bindparam("words", list(words), ARRAY(Text)),
            bindparam("scores", list(words.values()), ARRAY(Float)),
        )
    return func.unnest(*given).table_valued("word", "score").render_derived("given")


def _best_of_words() -> Any:
    """The first ``:reach`` (similarity, name, customer) rows of the customers of ``:words``
    (with their ``:scores``): up to ``:reach`` from each word by the index, then merged."""
    cw = _CUSTOMER_WORDS.c
    given = _given_words(None)
    reach = bindparam("reach", type_=Integer)
    per_word = (
        select(cw.name_key, cw.customer_id)
        .where(cw.word == given.c.word)
        .order_by(cw.name_key, cw.customer_id)
        .limit(reach)
        .lateral("per_word")
    )
    return (
        select(given.c.score, per_word.c.name_key, per_word.c.customer_id)
        .select_from(given.join(per_word, true()))
        .order_by(given.c.score.desc(), per_word.c.name_key, per_word.c.customer_id)
        .limit(reach)
    )


# The statements of a one-word fuzzy search, built once (building and keying them each time
# was a millisecond of a search on a slow CPU); each takes its values as parameters.
def _vocabulary() -> Any:
    """The words of ``name_word`` close to ``:fragment`` (at least ``:threshold``) that some
    customer's name still has, with their similarity."""
    w, cw = _NAME_WORDS.c, _CUSTOMER_WORDS.c
    fragment = bindparam("fragment", type_=Text)
    similarity = func.word_similarity(fragment, w.word, type_=Float)
    return select(w.word, similarity).where(
        w.word.op("%>")(fragment),
        similarity >= bindparam("threshold", type_=Float),
        exists().where(cw.word == w.word),  # a word nobody's name has any more
    )


_WORDS = bindparam("words", type_=ARRAY(Text))
_VOCABULARY = _vocabulary()
_BEST_OF_WORDS = _best_of_words()
_COUNT_OF_WORD = select(func.count()).where(_CUSTOMER_WORDS.c.word == any_(_WORDS))
_COUNT_OF_WORDS = select(func.count(distinct(_CUSTOMER_WORDS.c.customer_id))).where(
    _CUSTOMER_WORDS.c.word == any_(_WORDS)
)
_ITEMS_OF = select(*_ITEM_COLUMNS).where(
    t.customer.c.id == any_(bindparam("ids", type_=ARRAY(String)))
)


_NAME_FTS = table(NAME_FTS_TABLE, column("customer_id"), column("name_key"), column("rank"))


def fts_trigram_query(fragment: str) -> str:
    """An FTS5 query for the names sharing at least one trigram with ``fragment`` (each trigram
    a quoted string, so that no character of it is query syntax)."""
    grams = sorted({fragment[i : i + 3] for i in range(len(fragment) - 2)})
    return " OR ".join('"' + gram.replace('"', '""') + '"' for gram in grams)


def _fuzzy_page_sqlite(
    conn: Connection,
    fragment: str,
    conditions: list[ColumnElement[bool]],
    limit: int,
    offset: int,
) -> SearchPage:
    c = t.customer.c
    candidates = conn.execute(
        select(c.id, c.name_key)
        .select_from(t.customer.join(_NAME_FTS, _NAME_FTS.c.customer_id == c.id))
        .where(_NAME_FTS.c.name_key.match(fts_trigram_query(fragment)), *conditions)
        .order_by(_NAME_FTS.c.rank, c.id)
        .limit(FUZZY_CANDIDATES)
    ).all()
    scored = [(name_similarity(fragment, row.name_key), row.name_key, row.id) for row in candidates]
    close = any(score >= FUZZY_CLOSE for score, _, _ in scored)
    threshold = FUZZY_CLOSE if close else FUZZY_THRESHOLD
    ranked = sorted(
        (entry for entry in scored if entry[0] >= threshold),
        key=lambda entry: (-entry[0], entry[1], entry[2]),
    )
    page = ranked[offset : offset + limit]
    rows: dict[str, Row[Any]] = {}
    if page:
        found = conn.execute(select(*_ITEM_COLUMNS).where(c.id.in_([e[2] for e in page])))
        rows = {row.id: row for row in found}
    # A customer removed since the candidates were read (on a connection without a
    # transaction) is left out rather than failing the page.
    items = [_item(rows[id_], score) for score, _, id_ in page if id_ in rows]
    return SearchPage(len(ranked), items, limit, offset)


# ------------------------------------------------------------------------------ trigrams


def trigrams(text: str) -> list[str]:
    """``pg_trgm``'s trigrams of ``text``, in order: those of each word (a run of letters and
    digits) padded with two spaces in front and one behind. ``text`` is a search key already
    (lower case, no accents)."""
    found: list[str] = []
    for word in _WORD.findall(text):
        padded = f"  {word} "
        found.extend(padded[i : i + 3] for i in range(len(padded) - 2))
    return found


def name_similarity(fragment: str, name: str) -> float:
    """How close ``name`` is to the typed ``fragment`` (both search keys): for a fragment of one
    word, the best :func:`word_similarity` of the fragment and a word of the name (what
    PostgreSQL's vocabulary of name words computes); for several words, that of the whole name."""
    if len(_WORD.findall(fragment)) == 1:
        return max((word_similarity(fragment, word) for word in _WORD.findall(name)), default=0.0)
    return word_similarity(fragment, name)


def word_similarity(fragment: str, name: str) -> float:
    """The Jaccard similarity of the fragment's trigrams and the stretch of the name's trigram
    sequence that is most like them: ``pg_trgm``'s ``word_similarity(fragment, name)``, which
    tries fewer stretches and may come out lower."""
    wanted = set(trigrams(fragment))
    sequence = trigrams(name)
    best = 0.0
    for start, first in enumerate(sequence):
        if first not in wanted:
            continue  # the best stretch begins and ends on a shared trigram
        seen: set[str] = set()
        shared = 0
        for gram in sequence[start:]:
            if gram not in seen:
                seen.add(gram)
                shared += gram in wanted
            if gram in wanted:
                best = max(best, shared / (len(wanted) + len(seen) - shared))
    return best
