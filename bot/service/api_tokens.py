"""Brands' read-only API tokens: created and revoked in the portal, presented as bearer tokens
to /api/v1 (docs/portal.md, "JSON API").

A token is shown once, when it is made; only its SHA-256 hash is stored (a token carries 192
random bits, so a fast hash is enough: nobody can guess their way back from it) with its first
characters, so people can tell their tokens apart. Only brand organisations have tokens: they
read the same disclosed results a brand's portal account reads, nothing more. A token belongs
to its organisation, not to the person who made it; it works until it is revoked.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.enums import OrgKind
from bot.service import validation
from bot.service.audited import AdminError
from bot.storage import Database
from bot.storage.models import ApiToken, AuditEntry, Organisation

TOKEN_PREFIX = "wcb_"  # "WageCheck brand": recognisable in logs and by secret scanners
TOKEN_RANDOM_CHARS = 32  # secrets.token_urlsafe(24): 192 bits
PREFIX_LENGTH = len(TOKEN_PREFIX) + 8  # what is stored and shown: "wcb_AbCd3fGh"
TOKEN_PATTERN = re.compile(rf"^{TOKEN_PREFIX}[A-Za-z0-9_-]{{{TOKEN_RANDOM_CHARS}}}$")
NAME_MAX = 100
MAX_ACTIVE_TOKENS = 25  # per organisation: a brand needs a few, not a pile nobody reviews
# last_used_at is written at most this often per token, so a busy client costs one write a
# minute, not one per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)
DEFAULT_RATE_PER_MINUTE = 60


class ApiTokenError(ValueError):
    """A request about tokens that cannot be carried out; the message says why, and `code`
    names the reason for pages that say it in their own words."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


class TokenNotFound(ApiTokenError, LookupError):
    """No such token in this organisation (another organisation's token is "not found" too)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "not_found")


@dataclass(frozen=True)
class TokenInfo:
    """What the portal shows of a token: never the token itself."""

    id: int
    name: str
    prefix: str
    created_at: datetime
    created_by: int | None  # web account id
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class NewToken:
    """A freshly made token: `secret` is shown to its maker once and stored nowhere."""

    info: TokenInfo
    secret: str


@dataclass(frozen=True)
class ApiClient:
    """Who an accepted bearer token speaks for."""

    token_id: int
    org_id: int
    org_name: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _info(t: ApiToken) -> TokenInfo:
    created = t.created_at
    assert created is not None
    return TokenInfo(
        id=t.id,
        name=t.name,
        prefix=t.prefix,
        created_at=created,
        created_by=t.created_by,
        last_used_at=t.last_used_at,
        revoked_at=t.revoked_at,
    )


def new_token_secret() -> str:
    """ "wcb_" and 32 URL-safe random characters."""
    return TOKEN_PREFIX + secrets.token_urlsafe(24)


class RateLimiter:
    """A token bucket per key, in this process: `per_minute` requests a minute on average,
    bursts of up to `per_minute`. Enough to keep one runaway client from hogging the reports
    (several processes each allow the rate; that is still bounded)."""

    def __init__(
        self, per_minute: int = DEFAULT_RATE_PER_MINUTE, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if per_minute < 1:
            raise ValueError("a rate limit allows at least one request a minute")
        self.capacity = float(per_minute)
        self.refill = per_minute / 60.0  # per second
        self.clock = clock
        self._buckets: dict[object, tuple[float, float]] = {}  # key -> (tokens, at)

    def hit(self, key: object) -> float:
        """Take one request for `key`: 0.0 when allowed, else the seconds to wait."""
        now = self.clock()
        tokens, at = self._buckets.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - at) * self.refill)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / self.refill


class ApiTokenService:
    """Create, list, revoke and check brand API tokens. Changes are audited with the actor
    "web:<account id>", like every other change made in the portal."""

    def __init__(
        self,
        db: Database,
        *,
        rate_per_minute: int = DEFAULT_RATE_PER_MINUTE,
        clock: Clock,
    ) -> None:
        self.db = db
        self.clock = clock
        self.limiter = RateLimiter(rate_per_minute)

    async def create(self, org_id: int, name: str, *, account_id: int | None) -> NewToken:
        """A new token for a brand; the returned `secret` is the only copy there will be."""
        name = " ".join(name.split())
        if not name:
            raise ApiTokenError("give the token a name, e.g. the system that will use it", "name")
        if len(name) > NAME_MAX:
            raise ApiTokenError(f"a token name has at most {NAME_MAX} characters", "name_long")
        try:
            name = validation.name(name, "token's name", NAME_MAX)
        except AdminError as exc:
            raise ApiTokenError(str(exc), "name_control") from None
        now = self.clock()
        secret = new_token_secret()
        async with self.db.transaction() as s:
            org = await s.get(Organisation, org_id)
            if org is None or org.kind != OrgKind.BRAND:
                raise ApiTokenError("only brands have API tokens", "not_brand")
            active = (
                await s.execute(
                    select(ApiToken.id).where(
                        ApiToken.org_id == org_id, ApiToken.revoked_at.is_(None)
                    )
                )
            ).all()
            if len(active) >= MAX_ACTIVE_TOKENS:
                raise ApiTokenError(
                    f"an organisation has at most {MAX_ACTIVE_TOKENS} active tokens; "
                    "revoke one you no longer use",
                    "too_many",
                )
            token = ApiToken(
                org_id=org_id,
                name=name,
                prefix=secret[:PREFIX_LENGTH],
                token_hash=_hash(secret),
                created_by=account_id,
                created_at=now,
            )
            s.add(token)
            await s.flush()
            self._audit(s, account_id, "api_token.create", org.name, token, now)
            return NewToken(_info(token), secret)

    async def list(self, org_id: int) -> list[TokenInfo]:
        """The organisation's tokens, active ones first, newest first; revoked ones stay
        listed so people can see what existed and when it was revoked."""
        async with self.db.transaction() as s:
            rows = (
                await s.execute(
                    select(ApiToken)
                    .where(ApiToken.org_id == org_id)
                    .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
                )
            ).scalars()
            tokens = [_info(t) for t in rows]
        return sorted(tokens, key=lambda t: not t.active)  # stable: keeps newest first

    async def revoke(self, org_id: int, token_id: int, *, account_id: int | None) -> TokenInfo:
        """Revoke one of the organisation's tokens at once (revoking twice changes nothing).
        Raises TokenNotFound for a token of another organisation, as for none at all."""
        try:
            token_id = validation.row_id(token_id, "token")
        except AdminError:
            raise TokenNotFound(f"no token {str(token_id)[:20]}") from None
        now = self.clock()
        async with self.db.transaction() as s:
            token = await s.get(ApiToken, token_id)
            if token is None or token.org_id != org_id:
                raise TokenNotFound(f"no token {token_id}")
            if token.revoked_at is None:
                token.revoked_at = now
                org = await s.get(Organisation, org_id)
                self._audit(s, account_id, "api_token.revoke", org.name if org else "", token, now)
            return _info(token)

    async def authenticate(self, secret: str) -> ApiClient | None:
        """The brand a bearer token speaks for; None for a malformed, unknown or revoked token
        (or one of an organisation that is not a brand). Records the use at most once a
        minute."""
        if not TOKEN_PATTERN.match(secret):
            return None  # not one of ours: no database work for junk
        now = self.clock()
        async with self.db.transaction() as s:
            row = (
                await s.execute(
                    select(ApiToken.id, ApiToken.revoked_at, Organisation.id, Organisation.name)
                    .join(Organisation, Organisation.id == ApiToken.org_id)
                    .where(ApiToken.token_hash == _hash(secret), Organisation.kind == OrgKind.BRAND)
                )
            ).first()
            if row is None or row[1] is not None:
                return None
            token_id, _, org_id, org_name = row
            # A conditional update: concurrent requests in the same minute write nothing more.
            await s.execute(
                update(ApiToken)
                .where(
                    ApiToken.id == token_id,
                    or_(
                        ApiToken.last_used_at.is_(None),
                        ApiToken.last_used_at <= now - LAST_USED_RESOLUTION,
                    ),
                )
                .values(last_used_at=now)
            )
        return ApiClient(token_id=token_id, org_id=org_id, org_name=org_name)

    def throttle(self, client: ApiClient) -> float:
        """Count one request of this token: 0.0 when it may go ahead, else seconds to wait."""
        return self.limiter.hit(client.token_id)

    @staticmethod
    def _audit(
        s: AsyncSession,
        account_id: int | None,
        action: str,
        org_name: str,
        t: ApiToken,
        at: datetime,
    ) -> None:
        s.add(
            AuditEntry(
                at=at,
                actor=f"web:{account_id}" if account_id is not None else "web",
                action=action,
                target=org_name,
                details={"token": t.id, "name": t.name, "prefix": t.prefix},
                ok=True,
            )
        )
