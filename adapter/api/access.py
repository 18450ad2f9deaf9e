"""API users and their bearer tokens, in the store (tables ``api_user`` and ``api_token``).

A token is ``crm_`` followed by 43 URL-safe characters of 256 random bits; only its SHA-256
(hex) is stored, so the table never holds a usable token. Its ``id`` (12 hex characters) is
public: it names the token in logs and in ``crm-adapter users revoke --token``.
User management is logged (``api.user_added`` …) with names, roles and token ids, never a token.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import OperationalError

from adapter.domain.errors import Conflict, NotFound, ValidationFailed
from adapter.store import tables as t
from adapter.store.reading import read_connection
from adapter.store.uow import utcnow

from .privileges import ROLES, Privilege, privileges_of

log = structlog.get_logger(__name__)

TOKEN_PREFIX = "crm_"  # noqa: S105  (a prefix that makes leaked tokens greppable)
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    """A token just issued: ``token`` is shown once and stored nowhere."""

    user: str
    token_id: str
    token: str


@dataclass(frozen=True)
class Caller:
    """Who is calling: the user, the role, its privileges and the token it used."""

    name: str
    role: str
    privileges: frozenset[Privilege]
    token_id: str

    def holds(self, privilege: Privilege) -> bool:
        return privilege in self.privileges


@dataclass(frozen=True)
class UserInfo:
    name: str
    role: str
    created_at: datetime
    disabled_at: datetime | None
    tokens: tuple[dict[str, object], ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "role": self.role,
            "privileges": sorted(privileges_of(self.role)),
            "created_at": self.created_at.isoformat(),
            "disabled_at": self.disabled_at.isoformat() if self.disabled_at else None,
            "tokens": list(self.tokens),
        }


def _check_name(name: str) -> None:
    if not NAME_PATTERN.match(name):
        raise ValidationFailed.one(
            "name",
            "format",
            f"{name!r} is not a user name: 1-64 letters, digits, '.', '_', '@' or '-', "
            "starting with a letter or digit",
        )


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValidationFailed.one(
            "role", "known", f"{role!r} is not a role; roles: {', '.join(ROLES)}"
        )


def add_user(engine: Engine, name: str, role: str) -> IssuedToken:
    """Create user NAME with ROLE and issue its first token."""
    _check_name(name)
    _check_role(role)
    now = utcnow()
    with engine.begin() as conn:
        exists = conn.execute(select(t.api_user.c.name).where(t.api_user.c.name == name)).first()
        if exists is not None:
            raise Conflict(f"user {name!r} exists; issue another token with `users token {name}`")
        conn.execute(insert(t.api_user).values(name=name, role=role, created_at=now))
        issued = _issue(conn, name, now)
    log.info("api.user_added", user=name, role=role, token_id=issued.token_id)
    return issued


def issue_token(engine: Engine, name: str) -> IssuedToken:
    """Another token for an existing, enabled user."""
    now = utcnow()
    with engine.begin() as conn:
        row = conn.execute(select(t.api_user).where(t.api_user.c.name == name)).first()
        if row is None:
            raise NotFound("user", name)
        if row.disabled_at is not None:
            raise Conflict(f"user {name!r} is disabled")
        issued = _issue(conn, name, now)
    log.info("api.token_issued", user=name, token_id=issued.token_id)
    return issued


def _issue(conn: Connection, name: str, now: datetime) -> IssuedToken:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_id = secrets.token_hex(6)
    conn.execute(
        insert(t.api_token).values(
            id=token_id, user_name=name, token_hash=token_hash(token), created_at=now
        )
    )
    return IssuedToken(name, token_id, token)


def revoke_user(engine: Engine, name: str) -> int:
    """Disable NAME and revoke every token it holds; the number of tokens revoked."""
    now = utcnow()
    with engine.begin() as conn:
        found = conn.execute(
            update(t.api_user)
            .where(t.api_user.c.name == name, t.api_user.c.disabled_at.is_(None))
            .values(disabled_at=now)
        )
        if found.rowcount == 0:
            row = conn.execute(select(t.api_user.c.name).where(t.api_user.c.name == name)).first()
            if row is None:
                raise NotFound("user", name)
        revoked = conn.execute(
            update(t.api_token)
            .where(t.api_token.c.user_name == name, t.api_token.c.revoked_at.is_(None))
            .values(revoked_at=now)
        ).rowcount
    log.info("api.user_revoked", user=name, tokens=revoked)
    return int(revoked)


def revoke_token(engine: Engine, token_id: str) -> str:
    """Revoke one token by its id; the user it belonged to."""
    with engine.begin() as conn:
        row = conn.execute(select(t.api_token).where(t.api_token.c.id == token_id)).first()
        if row is None:
            raise NotFound("token", token_id)
        conn.execute(
            update(t.api_token)
            .where(t.api_token.c.id == token_id, t.api_token.c.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
    log.info("api.token_revoked", user=row.user_name, token_id=token_id)
    return str(row.user_name)


def list_users(engine: Engine) -> list[UserInfo]:
    with read_connection(engine) as conn:
        users = conn.execute(select(t.api_user).order_by(t.api_user.c.name)).all()
        tokens = conn.execute(
            select(
                t.api_token.c.id,
                t.api_token.c.user_name,
                t.api_token.c.created_at,
                t.api_token.c.revoked_at,
                t.api_token.c.last_used_at,
            ).order_by(t.api_token.c.created_at, t.api_token.c.id)
        ).all()

    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    by_user: dict[str, list[dict[str, object]]] = {}
    for tok in tokens:
        by_user.setdefault(tok.user_name, []).append(
            {
                "id": tok.id,
                "created_at": iso(tok.created_at),
                "revoked_at": iso(tok.revoked_at),
                "last_used_at": iso(tok.last_used_at),
            }
        )
    return [
        UserInfo(u.name, u.role, u.created_at, u.disabled_at, tuple(by_user.get(u.name, [])))
        for u in users
    ]


LAST_USED_GRANULARITY = 60.0  # seconds: last_used_at is written at most once a minute per token


def authenticate(engine: Engine, token: str) -> Caller | None:
    """The caller TOKEN belongs to, or None when it is unknown, revoked or its user disabled.
    Records ``last_used_at`` (at most once a minute, so reads do not turn into writes)."""
    digest = token_hash(token)
    with read_connection(engine) as conn:
        row = conn.execute(
            select(
                t.api_token.c.id,
                t.api_token.c.revoked_at,
                t.api_token.c.last_used_at,
                t.api_user.c.name,
                t.api_user.c.role,
                t.api_user.c.disabled_at,
            )
            .join(t.api_user, t.api_user.c.name == t.api_token.c.user_name)
            .where(t.api_token.c.token_hash == digest)
        ).first()
    if row is None or row.revoked_at is not None or row.disabled_at is not None:
        return None
    now = utcnow()
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > LAST_USED_GRANULARITY:
        try:
            with engine.begin() as conn:
                conn.execute(
                    update(t.api_token).where(t.api_token.c.id == row.id).values(last_used_at=now)
                )
        except OperationalError as exc:  # bookkeeping only: a busy store must not fail a read
            log.warning("api.last_used_not_recorded", token_id=row.id, error=type(exc).__name__)
    return Caller(row.name, row.role, privileges_of(row.role), row.id)
