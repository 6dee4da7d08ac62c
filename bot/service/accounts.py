"""Portal accounts without HTTP: invites, passwords (argon2), log-in with throttling
(login_throttle.py), sessions and the one-time log-in links the bot sends. Every change is
audited with the actor "web:<account id>" (or "cli"); e-mail addresses and client addresses
never reach the audit log or the logs, and the throttling rows hold only keyed hashes of them.

Secrets (session tokens, invite codes, log-in link tokens) are shown once and stored only as
SHA-256 hashes: they are long random values, so a plain hash is enough to make a stolen
database useless for logging in.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.privacy import Keyring
from bot.service import login_throttle as throttle
from bot.service import validation
from bot.service.admin import AdminError
from bot.storage import Database
from bot.storage.models import (
    AuditEntry,
    LoginLink,
    Member,
    Organisation,
    WebAccount,
    WebInvite,
    WebSession,
)

log = logging.getLogger(__name__)

PASSWORD_MIN = 10  # length over composition rules (NIST SP 800-63B)
PASSWORD_MAX = 1024  # argon2 takes anything, but a megabyte "password" is only a DoS
SESSION_IDLE = timedelta(hours=12)
SESSION_MAX = timedelta(days=7)  # even an always-active session logs in again weekly
SESSION_REFRESH = timedelta(minutes=5)  # extend the idle expiry at most this often (writes)
LOGIN_LINK_TTL = timedelta(minutes=10)
INVITE_DAYS = 7
PORTAL_INVITE_DAYS_MAX = 30

_hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so that case takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalise_email(email: str) -> str:
    return email.strip().lower()


def check_password(password: str, email: str | None = None) -> None:
    """Raise AdminError when a new password is unacceptable (the message says why)."""
    if len(password) < PASSWORD_MIN:
        raise AccountError(
            "password_short", f"the password needs at least {PASSWORD_MIN} characters"
        )
    if len(password) > PASSWORD_MAX:
        raise AccountError("password_long", "the password is too long")
    if email and password.strip().lower() == normalise_email(email):
        raise AccountError("password_is_email", "the password must not be the e-mail address")


def check_email(email: str) -> str:
    """A plausible address, lower-cased (validation.email says what that is)."""
    try:
        return validation.email(email)
    except AdminError as exc:
        raise AccountError("email_invalid", str(exc)) from None


class AccountError(AdminError):
    """A refused account change; `code` lets the portal say it in the page's language."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class LoginResult:
    """The outcome of a log-in with e-mail and password."""

    status: Literal["ok", "wrong", "throttled"]
    account_id: int | None = None
    session_token: str | None = None
    # When attempts from this client for this account are taken again: set when throttled,
    # and when a wrong password starts a wait.
    retry_at: datetime | None = None


@dataclass(frozen=True)
class InviteInfo:
    """What the invite page shows before the invite is used."""

    org_name: str
    org_kind: str
    role: str
    expires_at: datetime


class AccountService:
    """Portal accounts of one instance. `actor` is who acts when not a portal account
    ("cli"); portal calls pass their own actor."""

    def __init__(self, db: Database, keyring: Keyring, actor: str = "cli", *, clock: Clock) -> None:
        self.db = db
        self.keyring = keyring
        self.actor = actor
        self.clock = clock

    def acting_as(self, actor: str) -> AccountService:
        """The same service, acting (when no portal account acts) as `actor`."""
        return AccountService(self.db, self.keyring, actor, clock=self.clock)

    # ---------------------------------------------------------------- helpers
    def _audit(
        self,
        s: AsyncSession,
        actor: str,
        action: str,
        target: str,
        ok: bool = True,
        **details: object,
    ) -> None:
        s.add(
            AuditEntry(
                at=self.clock(), actor=actor, action=action, target=target, details=details, ok=ok
            )
        )

    @staticmethod
    async def _org(s: AsyncSession, name: str) -> Organisation:
        org = (await s.execute(select(Organisation).where(Organisation.name == name))).scalar()
        if org is None:
            raise AdminError(f"no organisation called {name!r}")
        return org

    async def _new_session(self, s: AsyncSession, account: WebAccount, now: datetime) -> str:
        token = secrets.token_urlsafe(32)
        s.add(
            WebSession(
                token_hash=token_hash(token),
                account_id=account.id,
                created_at=now,
                expires_at=now + SESSION_IDLE,
            )
        )
        account.last_login_at = now
        return token

    # ---------------------------------------------------------------- accounts
    async def create_account(
        self,
        org_name: str,
        role: str,
        email: str,
        password: str,
        language: str | None = None,
    ) -> WebAccount:
        """An account made directly (tests, first set-up); people normally use an invite."""
        role = validation.role(role)
        language = validation.language(language)
        email = check_email(email)
        check_password(password, email)
        async with self.db.transaction() as s:
            org = await self._org(s, org_name)
            if (await s.execute(select(WebAccount.id).where(WebAccount.email == email))).first():
                raise AccountError(
                    "email_taken", "an account with this e-mail address exists already"
                )
            account = WebAccount(
                org_id=org.id,
                email=email,
                password_hash=_hasher.hash(password),
                role=role,
                language=language,
                created_at=self.clock(),
            )
            s.add(account)
            await s.flush()
            self._audit(
                s, self.actor, "web_account.create", org.name, role=role, account=account.id
            )
        return account

    async def list_accounts(self, org_name: str) -> list[WebAccount]:
        async with self.db.transaction() as s:
            org = await self._org(s, org_name)
            return list(
                (
                    await s.execute(
                        select(WebAccount)
                        .where(WebAccount.org_id == org.id)
                        .order_by(WebAccount.id)
                    )
                ).scalars()
            )

    async def disable(self, org_name: str, account_id: int, actor: str | None = None) -> None:
        """Take access away at once: the account's sessions end too."""
        account_id = validation.row_id(account_id, "portal account")
        async with self.db.transaction() as s:
            org = await self._org(s, org_name)
            account = await s.get(WebAccount, account_id)
            if account is None or account.org_id != org.id:
                raise AdminError(f"{org_name!r} has no portal account {account_id}")
            account.disabled_at = self.clock()
            await s.execute(delete(WebSession).where(WebSession.account_id == account_id))
            self._audit(s, actor or self.actor, "web_account.disable", org.name, account=account_id)

    async def set_language(self, account_id: int, language: str | None) -> None:
        language = validation.language(language)
        async with self.db.transaction() as s:
            account = await s.get(WebAccount, account_id)
            if account is not None:
                account.language = language

    async def has_password(self, account_id: int) -> bool:
        """Accounts made by a log-in link from the bot have none until they set one."""
        async with self.db.transaction() as s:
            account = await s.get(WebAccount, account_id)
            return account is not None and account.password_hash is not None

    async def change_password(
        self,
        account_id: int,
        current: str | None,
        new: str,
        keep_session: str | None = None,
    ) -> None:
        """Set a new password (the current one is needed if there is one). Every other session
        of the account ends: whoever knew the old password is logged out."""
        async with self.db.transaction() as s:
            account = await s.get(WebAccount, account_id)
            if account is None:
                raise AdminError("no such account")
            if account.password_hash is not None and not _verify(account.password_hash, current):
                raise AccountError("password_wrong", "the current password is not right")
            check_password(new, account.email)
            account.password_hash = _hasher.hash(new)
            keep = token_hash(keep_session) if keep_session else ""
            await s.execute(
                delete(WebSession).where(
                    WebSession.account_id == account_id, WebSession.token_hash != keep
                )
            )
            self._audit(s, f"web:{account_id}", "web_account.password", account.organisation.name)

    # ---------------------------------------------------------------- invites
    async def create_invite(
        self, org_name: str, role: str, days: int = INVITE_DAYS, actor: str | None = None
    ) -> tuple[str, WebInvite]:
        """A single-use invite code for the portal (shown once; only its hash is stored)."""
        role = validation.role(role)
        days = validation.days(days, PORTAL_INVITE_DAYS_MAX)
        code = secrets.token_urlsafe(24)
        now = self.clock()
        async with self.db.transaction() as s:
            org = await self._org(s, org_name)
            invite = WebInvite(
                org_id=org.id,
                code_hash=token_hash(code),
                role=role,
                created_by=actor or self.actor,
                created_at=now,
                expires_at=now + timedelta(days=days),
            )
            s.add(invite)
            await s.flush()
            self._audit(s, actor or self.actor, "web_invite.create", org.name, role=role, days=days)
        return code, invite

    async def _valid_invite(
        self, s: AsyncSession, code: str, now: datetime, lock: bool = False
    ) -> WebInvite | None:
        query = select(WebInvite).where(WebInvite.code_hash == token_hash(code.strip()))
        invite = (await s.execute(query.with_for_update() if lock else query)).scalar()
        if invite is None or invite.used_at is not None or invite.expires_at <= now:
            return None
        return invite

    async def invite_info(self, code: str, now: datetime | None = None) -> InviteInfo | None:
        """None when the code is unknown, used or expired (deliberately not saying which)."""
        async with self.db.transaction() as s:
            invite = await self._valid_invite(s, code, now or self.clock())
            if invite is None:
                return None
            org = await s.get(Organisation, invite.org_id)
            assert org is not None
            return InviteInfo(org.name, org.kind, invite.role, invite.expires_at)

    async def accept_invite(
        self,
        code: str,
        email: str,
        password: str,
        language: str | None = None,
        now: datetime | None = None,
    ) -> tuple[WebAccount, str]:
        """Use an invite: create the account and log it in. Returns (account, session token).
        AdminError when the invite is not valid or the e-mail/password not acceptable."""
        now = now or self.clock()
        email = check_email(email)
        language = validation.language(language)
        check_password(password, email)
        password_hash = _hasher.hash(password)  # slow: before the transaction takes locks
        async with self.db.transaction() as s:
            invite = await self._valid_invite(s, code, now, lock=True)
            if invite is None:
                raise AccountError(
                    "invite_invalid", "this invitation is not valid (unknown, used or expired)"
                )
            if (await s.execute(select(WebAccount.id).where(WebAccount.email == email))).first():
                raise AccountError(
                    "email_taken", "an account with this e-mail address exists already"
                )
            account = WebAccount(
                org_id=invite.org_id,
                email=email,
                password_hash=password_hash,
                role=invite.role,
                language=language,
                created_at=now,
            )
            s.add(account)
            await s.flush()
            invite.used_at, invite.account_id = now, account.id
            token = await self._new_session(s, account, now)
            org = await s.get(Organisation, invite.org_id)
            assert org is not None
            self._audit(s, f"web:{account.id}", "web_invite.accept", org.name, role=invite.role)
        return account, token

    # ---------------------------------------------------------------- log-in
    async def authenticate(
        self, email: str, password: str, client: str, now: datetime | None = None
    ) -> LoginResult:
        """Check e-mail and password and open a session, throttled per (account, client
        address) and per client address (bot/service/login_throttle.py): a throttled attempt
        is refused ("throttled", even with the right password, `retry_at` saying when to come
        back) before anything is looked up, so the answer is the same whether or not the
        account exists."""
        now = now or self.clock()
        email = normalise_email(email)
        try:  # what cannot be an account's address is looked up nowhere (a NUL breaks a query)
            known = validation.email(email)
        except AdminError:
            known = None
        keys = throttle.keys_for(self.keyring, email, client)
        async with self.db.transaction() as s:
            counted = await throttle.count_attempt(s, keys, now)
            account = None
            if isinstance(counted, throttle.Counted) and known:
                account = (
                    await s.execute(select(WebAccount).where(WebAccount.email == known))
                ).scalar()
        if not isinstance(counted, throttle.Counted):
            log.info("portal log-in refused: throttled")
            return LoginResult("throttled", retry_at=counted)
        usable = account is not None and account.disabled_at is None
        stored = account.password_hash if usable and account and account.password_hash else None
        if not _verify(stored or _DUMMY_HASH, password) or stored is None:
            await self._failed(counted, account, now)
            return LoginResult("wrong", retry_at=counted.retry_at)
        assert account is not None
        async with self.db.transaction() as s:
            await throttle.take_back(s, counted)
            account = await s.get(WebAccount, account.id)
            assert account is not None
            if _hasher.check_needs_rehash(stored):
                account.password_hash = _hasher.hash(password)
            token = await self._new_session(s, account, now)
            self._audit(
                s, f"web:{account.id}", "login", account.organisation.name, method="password"
            )
        log.info("portal log-in: account %s", account.id)
        return LoginResult("ok", account.id, token)

    async def _failed(
        self, counted: throttle.Counted, account: WebAccount | None, now: datetime
    ) -> None:
        """A wrong password (the failure is counted already): each wait it starts is written
        to the audit log, and keys that count for nothing any more are deleted."""
        org = account.organisation.name if account is not None else None
        async with self.db.transaction() as s:
            for by, until in counted.waits.items():
                # The actor is whoever tried, unknown. Attempts on an account show in its
                # organisation's audit log (the target); the client address never does.
                on_account = account is not None and by == throttle.ACCOUNT_AND_ADDRESS
                self._audit(
                    s,
                    "web:-",
                    "login.throttled",
                    org if on_account and org else "-",
                    ok=False,
                    by=by,
                    failures=counted.failures[by],
                    minutes=max(1, round((until - now).total_seconds() / 60)),
                    **({"account": account.id} if on_account and account else {}),
                )
            await throttle.prune(s, now)
        if counted.waits:
            log.warning(
                "portal log-in throttled (%s)",
                ", ".join(f"{by} after {counted.failures[by]} failures" for by in counted.waits),
            )

    # ---------------------------------------------------------------- sessions
    async def session_account(
        self, token: str, now: datetime | None = None
    ) -> tuple[WebAccount, Organisation] | None:
        """The account a session cookie belongs to, or None when it is unknown, expired, the
        account disabled or its bot membership revoked. Extends the idle expiry."""
        now = now or self.clock()
        async with self.db.transaction() as s:
            session = await s.get(WebSession, token_hash(token))
            if session is None:
                return None
            expires = session.expires_at
            if expires <= now or session.created_at + SESSION_MAX <= now:
                await s.delete(session)
                return None
            account = await s.get(WebAccount, session.account_id)
            if account is None or account.disabled_at is not None:
                return None
            if account.member_id is not None:
                member = await s.get(Member, account.member_id)
                if member is None or member.revoked_at is not None:
                    return None
                account.role = member.role  # the bot's role is the truth for linked members
            if expires - now < SESSION_IDLE - SESSION_REFRESH:
                session.expires_at = now + SESSION_IDLE
            return account, account.organisation

    async def logout(self, token: str) -> None:
        async with self.db.transaction() as s:
            session = await s.get(WebSession, token_hash(token))
            if session is not None:
                await s.delete(session)
                account = await s.get(WebAccount, session.account_id)
                if account is not None:
                    self._audit(s, f"web:{account.id}", "logout", account.organisation.name)

    # ---------------------------------------------------------------- one-time links
    async def create_login_link(self, member_id: int, now: datetime | None = None) -> str:
        """A token for `{web_base_url}/login/link/{token}`: 10 minutes, single use."""
        now = now or self.clock()
        token = secrets.token_urlsafe(32)
        async with self.db.transaction() as s:
            member = await s.get(Member, member_id)
            if member is None or member.revoked_at is not None:
                raise AdminError("not a member")
            s.add(
                LoginLink(
                    token_hash=token_hash(token),
                    member_id=member_id,
                    created_at=now,
                    expires_at=now + LOGIN_LINK_TTL,
                )
            )
            self._audit(s, f"member {member_id}", "login_link.create", member.organisation.name)
        return token

    async def login_link_valid(self, token: str, now: datetime | None = None) -> str | None:
        """The organisation's name if the link can still be used (the page asks to confirm)."""
        now = now or self.clock()
        async with self.db.transaction() as s:
            link = await s.get(LoginLink, token_hash(token))
            if link is None or link.used_at is not None or link.expires_at <= now:
                return None
            member = await s.get(Member, link.member_id)
            if member is None or member.revoked_at is not None:
                return None
            return member.organisation.name

    async def use_login_link(
        self, token: str, now: datetime | None = None
    ) -> tuple[WebAccount, str] | None:
        """Use a link (once): the member's portal account, created on first use, logged in.
        None if the link is unknown, used, expired or the membership revoked."""
        now = now or self.clock()
        async with self.db.transaction() as s:
            link = (
                await s.execute(
                    select(LoginLink)
                    .where(LoginLink.token_hash == token_hash(token))
                    .with_for_update()
                )
            ).scalar()
            if link is None or link.used_at is not None or link.expires_at <= now:
                return None
            link.used_at = now
            member = await s.get(Member, link.member_id)
            if member is None or member.revoked_at is not None:
                return None
            account = (
                await s.execute(select(WebAccount).where(WebAccount.member_id == member.id))
            ).scalar()
            if account is None:
                account = WebAccount(
                    org_id=member.org_id,
                    role=member.role,
                    member_id=member.id,
                    language=member.language if member.language in ("en", "nl", "ur") else None,
                    created_at=now,
                )
                s.add(account)
                await s.flush()
            elif account.disabled_at is not None:
                return None
            account.role = member.role
            session = await self._new_session(s, account, now)
            self._audit(
                s, f"web:{account.id}", "login", member.organisation.name, method="bot link"
            )
        return account, session


def _verify(password_hash: str, password: str | None) -> bool:
    if password is None or len(password) > PASSWORD_MAX:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
