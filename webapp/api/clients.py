"""API clients: created with a token shown once (stored as its SHA-256), scopes per API, expiry, revocation,
a rate limit per client, and the log of every call. Functions take the session; the caller commits."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import Select, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from engine.errors import InvalidInput, NotAllowed, NotFound
from engine.identity.models import User
from webapp.api.models import ApiCall, ApiClient
from webapp.api.paging import counted_page

# what a client may be allowed to do, one scope per API (the hub of an API comes with it)
SCOPES: dict[str, str] = {
    "tmf641": "TMF641 服务订单（服务开通）",
    "tmf621": "TMF621 故障单（售后故障）",
    "tmf642": "TMF642 告警",
    "engine.read": "流程、工单、任务只读",
    "engine.write": "发起、处理、取消工单，信号与消息",
    "engine.deploy": "部署流程（分析员）",
}
TOKEN_PREFIX = "eoms_"
LAST_USED_STEP = timedelta(minutes=1)  # last_used_at is kept to the minute, not written on every call
NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_.")


@dataclass(frozen=True)
class NewClient:
    client: ApiClient
    token: str  # shown once; only its hash is stored


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(session: Session, name: str, *, user: User, scopes: list[str], now: datetime,
           expires_at: datetime | None = None, rate_per_minute: int = 600, description: str = "") -> NewClient:
    """A new client acting as ``user``; the token is returned once."""
    name = (name or "").strip().lower()
    if not name or len(name) > 64 or not set(name) <= NAME_CHARS:
        raise InvalidInput(f"client name '{name}' must be 1-64 of a-z, 0-9, '-', '_', '.'", {"name": "invalid"})
    if session.scalar(select(ApiClient.id).where(ApiClient.name == name)) is not None:
        raise InvalidInput(f"an API client named '{name}' exists", {"name": "already exists"})
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise InvalidInput(f"unknown scopes {unknown} (known: {', '.join(SCOPES)})", {"scopes": "invalid"})
    if not 1 <= rate_per_minute <= 100_000:
        raise InvalidInput("the rate limit must be 1-100000 calls a minute", {"rate": "out of range"})
    if not user.is_active:
        raise InvalidInput(f"user '{user.username}' is disabled", {"user": "invalid"})
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    client = ApiClient(name=name, description=description[:200], token_hash=token_hash(token),
                       token_prefix=token[:12], secret=secrets.token_urlsafe(32), scopes=sorted(set(scopes)),
                       user_id=user.id, rate_per_minute=rate_per_minute, created_at=now, expires_at=expires_at)
    try:
        with session.begin_nested():
            session.add(client)
    except IntegrityError:  # the same name created a moment ago by another admin
        raise InvalidInput(f"an API client named '{name}' exists", {"name": "already exists"}) from None
    return NewClient(client, token)


def rotate(session: Session, name: str) -> NewClient:
    """A new token for the client (the old one stops working at once)."""
    client = by_name(session, name)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    client.token_hash, client.token_prefix = token_hash(token), token[:12]
    return NewClient(client, token)


def revoke(session: Session, name: str, now: datetime) -> ApiClient:
    client = by_name(session, name)
    if client.revoked_at is None:
        client.revoked_at = now
    return client


def by_name(session: Session, name: str) -> ApiClient:
    client = session.scalar(select(ApiClient).where(ApiClient.name == (name or "").strip().lower()))
    if client is None:
        raise NotFound(f"API client '{name}' does not exist", details={"name": name})
    return client


def listed(session: Session) -> list[ApiClient]:
    return list(session.scalars(select(ApiClient).order_by(ApiClient.name)))


class Refused(Exception):
    """Why a token does not open the API: ``reason`` is missing, invalid, expired, revoked or disabled."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def authenticate(session: Session, header: str | None, now: datetime) -> ApiClient:
    """The client whose bearer token ``header`` carries (``Authorization: Bearer eoms_…``)."""
    if not header or not header.startswith("Bearer "):
        raise Refused("missing")
    token = header[len("Bearer "):].strip()
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        raise Refused("invalid")
    client = session.scalars(_by_token_statement(), {"token_hash": token_hash(token)}).unique().first()
    if client is None or not hmac.compare_digest(client.token_hash, token_hash(token)):
        raise Refused("invalid")
    if client.revoked_at is not None:
        raise Refused("revoked")
    if client.expires_at is not None and client.expires_at <= now:
        raise Refused("expired")
    if not client.user.is_active:
        raise Refused("disabled")
    return client


@cache
def _by_token_statement() -> Select[tuple[ApiClient]]:
    """The client with its user, the user's unit and posts, in one statement (built once)."""
    user = joinedload(ApiClient.user)
    return select(ApiClient).options(user.joinedload(User.org_unit), user.joinedload(User.posts)) \
        .where(ApiClient.token_hash == bindparam("token_hash"))


def require_scope(client: ApiClient, scope: str) -> None:
    if scope not in client.scopes:
        raise NotAllowed(f"client '{client.name}' lacks the scope '{scope}'", details={"scope": scope})


def log_call(session: Session, client_id: int | None, *, method: str, path: str, status: int, duration_ms: int,
             remote_addr: str, now: datetime, last_used_at: datetime | None = None) -> None:
    """One call in the log; the client's ``last_used_at`` moves too when it is a minute or more behind."""
    session.execute(insert(ApiCall), [{"client_id": client_id, "at": now, "method": method[:10], "path": path[:500],
                                       "status": status, "duration_ms": duration_ms,
                                       "remote_addr": remote_addr[:64]}])
    if client_id is not None and (last_used_at is None or now - last_used_at >= LAST_USED_STEP):
        session.execute(update(ApiClient).where(ApiClient.id == client_id).values(last_used_at=now))


def calls(session: Session, *, client_id: int | None = None, status: int | None = None, path: str | None = None,
          offset: int = 0, limit: int = 50) -> tuple[int, list[ApiCall]]:
    """The call log, newest first, for the admins' search."""
    query = select(ApiCall)
    if client_id is not None:
        query = query.where(ApiCall.client_id == client_id)
    if status is not None:
        query = query.where(ApiCall.status == status)
    if path:
        query = query.where(ApiCall.path.contains(path))
    return counted_page(session, query, offset, limit, ApiCall.at.desc(), ApiCall.id.desc())
