"""Database tables. What is deliberately absent matters as much: no names, phone numbers or chat
ids next to answers; answer dates without the time of day (docs/privacy.md)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ColumnElement,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    or_,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from bot.enums import (
    BroadcastKind,
    BroadcastStatus,
    ContactPurpose,
    OrgKind,
    ResponseStatus,
    Role,
    RoundStatus,
)
from bot.storage.types import UtcDateTime, checked

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Organisation(Base):
    """A CSO (runs rounds) or a brand (receives results for its factories)."""

    __tablename__ = "organisations"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[OrgKind] = mapped_column(checked(OrgKind, 10, "kind"))
    # How a CSO is named in the messages a worker gets first (reminders, invitations): short
    # and neutral, since a supervisor may read the phone's notifications. None: `name`.
    short_name: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Factory(Base):
    __tablename__ = "factories"
    __table_args__ = (
        # An Open Supply Hub id names one factory within a register: among one CSO's own
        # factories, and among the shared register's. Two CSOs may each register the same
        # factory: neither learns that the other did (docs/portal.md).
        UniqueConstraint("cso_id", "os_id"),
        Index(
            "uq_factories_shared_os_id",
            "os_id",
            unique=True,
            sqlite_where=text("cso_id IS NULL"),
            postgresql_where=text("cso_id IS NULL"),
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    region: Mapped[str] = mapped_column(String(40))
    city: Mapped[str] = mapped_column(String(100), default="")
    os_id: Mapped[str | None] = mapped_column(String(40))  # Open Supply Hub id
    headcount: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The CSO that registered it in the web portal, and alone may change it there; None: the
    # instance's shared register (command line), which every CSO may use in its rounds.
    cso_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), index=True
    )


class BrandFactory(Base):
    """A brand receives results of a factory: the only factories whose results it may see.

    A link carries the results of one CSO's rounds (`cso_id`: made by that CSO in the portal,
    or for it on the command line), or, with `cso_id` None, of every CSO's rounds (made on the
    command line for a factory of the shared register). A CSO sees the links that carry its
    results and no other (docs/portal.md, "What one CSO may learn of another's work")."""

    __tablename__ = "brand_factories"
    __table_args__ = (
        UniqueConstraint("brand_id", "factory_id", "cso_id"),
        Index(
            "uq_brand_factories_every_cso",
            "brand_id",
            "factory_id",
            unique=True,
            sqlite_where=text("cso_id IS NULL"),
            postgresql_where=text("cso_id IS NULL"),
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    factory_id: Mapped[int] = mapped_column(
        ForeignKey("factories.id", ondelete="CASCADE"), index=True
    )
    cso_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )

    @classmethod
    def carries(cls, round_cso_id: Any) -> ColumnElement[bool]:
        """The condition for a link to carry the results of a round run by `round_cso_id` (a
        value or a column such as Round.cso_id)."""
        return or_(cls.cso_id.is_(None), cls.cso_id == round_cso_id)


class SurveyVersion(Base):
    """A survey definition as it was when answers were given (answers point here)."""

    __tablename__ = "survey_versions"
    __table_args__ = (UniqueConstraint("survey_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[str] = mapped_column(String(60))
    version: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    loaded_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Round(Base):
    """One survey round run by a CSO over a set of factories."""

    __tablename__ = "rounds"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    cso_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    survey_version_id: Mapped[int] = mapped_column(ForeignKey("survey_versions.id"))
    status: Mapped[RoundStatus] = mapped_column(checked(RoundStatus, 12, "status"), index=True)
    opens_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closes_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Reminder policy: at most this many reminders to a worker who stopped halfway, each after
    # this many minutes without a message from them (docs/rounds.md).
    max_reminders: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    reminder_delay_minutes: Mapped[int] = mapped_column(
        Integer, default=24 * 60, server_default=str(24 * 60)
    )
    # Where a worker gets help, per language ({"en": …, "ur": …, "sd": …}), set by the CSO:
    # shown at the end of the survey and on "help"; None or a missing language: the default
    # text for the factory's region (bot/survey/phrases.py, docs/rounds.md).
    help_text: Mapped[dict[str, str] | None] = mapped_column(JSON)

    survey_version: Mapped[SurveyVersion] = relationship(lazy="selectin")
    factories: Mapped[list[RoundFactory]] = relationship(back_populates="round", lazy="selectin")


class RoundFactory(Base):
    """A factory taking part in a round, with the access code printed on its poster."""

    __tablename__ = "round_factories"
    __table_args__ = (UniqueConstraint("round_id", "factory_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id", ondelete="CASCADE"))
    factory_id: Mapped[int] = mapped_column(ForeignKey("factories.id"))
    code: Mapped[str] = mapped_column(String(16), unique=True)

    round: Mapped[Round] = relationship(back_populates="factories")
    factory: Mapped[Factory] = relationship(lazy="joined")


class Response(Base):
    """One worker's answers in one round, under a per-round pseudonym (never a chat id)."""

    __tablename__ = "responses"
    __table_args__ = (UniqueConstraint("round_id", "respondent"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id", ondelete="CASCADE"), index=True)
    factory_id: Mapped[int] = mapped_column(ForeignKey("factories.id"), index=True)
    survey_version_id: Mapped[int] = mapped_column(ForeignKey("survey_versions.id"))
    respondent: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8))
    status: Mapped[ResponseStatus] = mapped_column(checked(ResponseStatus, 12, "status"))
    started_on: Mapped[date] = mapped_column(Date)
    # Rounded down to the hour, for the data-quality burst check; dropped at publication.
    completed_hour: Mapped[datetime | None] = mapped_column(UtcDateTime)
    completed_on: Mapped[date | None] = mapped_column(Date)

    answers: Mapped[list[Answer]] = relationship(
        back_populates="response", cascade="all, delete-orphan", passive_deletes=True
    )


class Answer(Base):
    """One typed answer. Only the date is kept, not the time of day."""

    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("response_id", "question_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(
        ForeignKey("responses.id", ondelete="CASCADE"), index=True
    )
    question_id: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(12))  # question type
    value_text: Mapped[str | None] = mapped_column(Text)
    value_number: Mapped[float | None] = mapped_column(Float)
    value_json: Mapped[Any | None] = mapped_column(JSON)
    answered_on: Mapped[date] = mapped_column(Date)

    response: Mapped[Response] = relationship(back_populates="answers")


class Conversation(Base):
    """The engine's state for one channel user, keyed by a pseudonym of (channel, user id)."""

    __tablename__ = "conversations"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(Text)
    round_id: Mapped[int | None] = mapped_column(ForeignKey("rounds.id", ondelete="SET NULL"))
    response_id: Mapped[int | None] = mapped_column(ForeignKey("responses.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # False after the worker typed "stop" without asking to be reminded: no reminder then.
    remind: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))


class ChatMessage(Base):
    """A message of a worker's Telegram chat (theirs or the bot's), kept only so that the bot
    can delete it from their phone on "delete" or "clear" — and only while Telegram allows
    that (48 hours): the pruning job drops older rows. An id within the chat, never content."""

    __tablename__ = "chat_messages"
    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_key: Mapped[str] = mapped_column(String(64), index=True)
    message_id: Mapped[int] = mapped_column(BigInteger)
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class ContactAddress(Base):
    """The encrypted address needed to message a worker first (reminders, next-round invites).

    Kept apart from answers, keyed by the conversation pseudonym, and purged when no longer needed.
    """

    __tablename__ = "contact_addresses"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    purpose: Mapped[ContactPurpose] = mapped_column(checked(ContactPurpose, 16, "purpose"))
    round_id: Mapped[int | None] = mapped_column(ForeignKey("rounds.id", ondelete="CASCADE"))
    factory_id: Mapped[int | None] = mapped_column(ForeignKey("factories.id"))
    language: Mapped[str] = mapped_column(String(8))
    created_on: Mapped[date] = mapped_column(Date)


class ProcessedMessage(Base):
    """Inbound messages already handled, so a redelivery changes nothing."""

    __tablename__ = "processed_messages"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    processed_on: Mapped[date] = mapped_column(Date, index=True)


class AuditEntry(Base):
    """Administrative actions (who did what to which round/factory/organisation)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(60))
    target: Mapped[str] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ok: Mapped[bool] = mapped_column(Boolean, default=True)


class OutboxMessage(Base):
    """A reply recorded in the same transaction as the state that produced it, and deleted once
    the channel has sent it; a redelivered message re-sends what is still here, so a crash
    between commit and send loses no question."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(primary_key=True)
    message_key: Mapped[str] = mapped_column(String(64), index=True)  # the inbound message's
    channel: Mapped[str] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(Integer)
    reply: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Member(Base):
    """A person of a CSO or brand who uses the bot for their organisation's work.

    Staff, not workers; still only a keyed hash of their account and an encrypted address.
    """

    __tablename__ = "members"
    __table_args__ = (UniqueConstraint("org_id", "account"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    account: Mapped[str] = mapped_column(String(64), index=True)  # keyed hash of the user id
    address: Mapped[bytes] = mapped_column(LargeBinary)  # encrypted chat id, to send reports
    role: Mapped[Role] = mapped_column(checked(Role, 10, "role"))
    language: Mapped[str] = mapped_column(String(8), default="en")
    subscribed: Mapped[bool] = mapped_column(Boolean, default=False)
    joined_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    organisation: Mapped[Organisation] = relationship(lazy="joined")


class Invite(Base):
    """A single-use invitation into an organisation; only a hash of the code is stored."""

    __tablename__ = "invites"
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[Role] = mapped_column(checked(Role, 10, "role"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))


class BroadcastMessage(Base):
    """A message we send first (reminder, invitation, daily status, report), recorded before
    it is sent and marked once sent: an interrupted broadcast resumes without gaps, and the
    unique key makes enqueueing the same message twice a no-op.

    `recipient` is a contact key (the conversation pseudonym) or "member:<id>"; never a chat id.
    The text is rendered when sending, from `kind`, `language` and `payload`.
    """

    __tablename__ = "broadcast_messages"
    __table_args__ = (UniqueConstraint("kind", "round_id", "recipient", "seq"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[BroadcastKind] = mapped_column(checked(BroadcastKind, 16, "kind"))
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id", ondelete="CASCADE"), index=True)
    recipient: Mapped[str] = mapped_column(String(80))
    seq: Mapped[int] = mapped_column(Integer, default=1)  # reminder number, or day of a status
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # pending -> sending (claimed by one sender until claimed_until) -> sent | blocked |
    # skipped (address gone, or the worker finished meanwhile) | failed (after retries; with
    # attempted_at unset: the address could not be decrypted, shown as "undeliverable") |
    # in_doubt (handed to the channel, outcome unknown: a crash or a lost answer; a worker
    # message in doubt is never sent again — docs/rounds.md "Never twice")
    status: Mapped[BroadcastStatus] = mapped_column(
        checked(BroadcastStatus, 10, "status"), index=True
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(40))
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Set (and committed) just before the message is handed to the channel: a claim that
    # expires with this set may have been delivered.
    attempted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class JobRun(Base):
    """One occurrence of a scheduled job (e.g. "round:5:close"), inserted in the same
    transaction as the job's effect: a second process, or a re-run after a restart, fails on
    the primary key and does nothing."""

    __tablename__ = "job_runs"
    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    ran_at: Mapped[datetime] = mapped_column(UtcDateTime)
    holder: Mapped[str] = mapped_column(String(80))


class SchedulerLease(Base):
    """Who runs the scheduled jobs (bot/scheduler/lease.py): renewed by its holder every few
    seconds, taken by another process only once `expires_at` has passed."""

    __tablename__ = "scheduler_lease"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)


# ------------------------------------------------------------------ web portal (docs/portal.md)
class WebAccount(Base):
    """A person of a CSO or brand who logs in to the web portal. Same roles as in the bot;
    the password only as an argon2 hash. `member_id` links a bot member who logged in with a
    one-time link from the bot's /login (such accounts may have no password)."""

    __tablename__ = "web_accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    email: Mapped[str | None] = mapped_column(String(254), unique=True)  # stored lower-cased
    password_hash: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(checked(Role, 10, "role"))
    language: Mapped[str | None] = mapped_column(String(8))  # None: from the browser
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), unique=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    organisation: Mapped[Organisation] = relationship(lazy="joined")


class WebSession(Base):
    """A logged-in browser. Only a hash of the cookie's token is stored."""

    __tablename__ = "web_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("web_accounts.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)


class WebInvite(Base):
    """A single-use link that creates a portal account in an organisation with a role (made on
    the command line or by a CSO admin in the portal). Only a hash of the code is stored."""

    __tablename__ = "web_invites"
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[Role] = mapped_column(checked(Role, 10, "role"))
    created_by: Mapped[str] = mapped_column(String(200))  # "cli" or "web:<account id>"
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("web_accounts.id", ondelete="SET NULL")
    )


class LoginLink(Base):
    """A one-time log-in link the bot sends a linked member on /login (short-lived)."""

    __tablename__ = "login_links"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class LoginThrottle(Base):
    """Failed password log-ins, counted for one account from one client address and for one
    client address over every account (bot/service/login_throttle.py). The key is a keyed hash
    of them, never the e-mail or the IP address; the counts live here so that every portal
    process sees them."""

    __tablename__ = "login_throttles"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    # Attempts are refused until then (even with the right password); None: not waiting.
    blocked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ApiToken(Base):
    """A brand's read-only API token (created and revoked in the portal). Only a hash of the
    token is stored; `prefix` (its first characters) lets people tell tokens apart."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("web_accounts.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class KeyFingerprint(Base):
    """A version of the instance secret this database was written with: its fingerprint
    (reveals nothing of the key) and the first round whose respondent pseudonyms use it.
    Written at the first start with a key and by `wagecheck keys rotate` (docs/privacy.md)."""

    __tablename__ = "key_fingerprints"
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    fingerprint: Mapped[str] = mapped_column(String(64))
    rounds_from: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
