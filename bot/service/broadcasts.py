"""Messages we send first — reminders, invitations, daily status, reports — through a durable
outbox (`broadcast_messages`, docs/rounds.md "Broadcasts").

Enqueueing happens inside the transaction of what caused it (a round opening or closing, the
reminder sweep), under a unique key, so nothing is queued twice. Draining claims rows for a
while (a lease), sends them through the channel's `BroadcastSender`, and marks each row sent
right after the channel accepted it: a stop resumes where it was, a second process claims
other rows, a blocked worker (403) is marked and never tried again.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, delete, func, insert, literal, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

from bot import metrics
from bot.clock import Clock
from bot.enums import ContactPurpose, RoundStatus
from bot.i18n import N_, Catalogs, isolate
from bot.privacy import Keyring
from bot.privacy.keys import AddressDecryptionError
from bot.reports.model import VerdictRule
from bot.reports.targets import target
from bot.service.contacts import SENDER_UNKNOWN, sender_name
from bot.service.delivery import delivery_uncertain
from bot.storage import Database, rowcount
from bot.storage.models import (
    BrandFactory,
    BroadcastMessage,
    ContactAddress,
    Conversation,
    Member,
    Organisation,
    Response,
    Round,
    RoundFactory,
)
from bot.survey import phrases as P

log = logging.getLogger(__name__)

# TRANSLATORS: a reminder to a worker who started the wage survey and stopped halfway. It is
# sent at most once or twice, in daytime, with a button to go on.
# A supervisor may read the phone's notifications: neither wages nor the survey are named.
# {sender} is the CSO's short name (or "us").
REMINDER = N_(
    "You have an unfinished message from {sender}. Press the button below to go on where you "
    "stopped."
)
# TRANSLATORS: an invitation to a worker who asked to hear about the next survey at their
# factory. {code} is the code on the factory's poster.
# factory. {code} is the code on the factory's poster, {sender} the CSO's short name (or
# "us"). Like the reminder, it names neither wages nor the survey.
INVITATION = N_(
    "A new message from {sender} is waiting for you. It takes about 3 minutes. Press the "
    "button below, or send the code {code}."
)
# TRANSLATORS: the button under an invitation to a new survey.
# button label, at most 20 characters
BUTTON_START_SURVEY = N_("Start the survey")

WORKER_KINDS = ("reminder", "invitation")
STAFF_KINDS = ("status", "report")
MAX_ATTEMPTS = 5
MEMBER_PREFIX = "member:"


# ------------------------------------------------------------------ quiet hours
@dataclass(frozen=True)
class QuietHours:
    """No message to a worker between `start` and `end` local time (a phone that lights up at
    night can draw attention, and wakes people). Staff messages are not held."""

    start: time = time(21, 0)
    end: time = time(8, 0)
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Karachi"))

    def is_quiet(self, now: datetime) -> bool:
        local = now.astimezone(self.zone).time()
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def next_allowed(self, now: datetime) -> datetime:
        """`now` if sending is allowed, else the end of the quiet period (as UTC)."""
        if not self.is_quiet(now):
            return now
        local = now.astimezone(self.zone)
        end = datetime.combine(local.date(), self.end, tzinfo=self.zone)
        if end <= local:
            end += timedelta(days=1)
        return end.astimezone(UTC)


# ------------------------------------------------------------------ the channel side
@dataclass(frozen=True)
class BroadcastButton:
    """A button under a first message: "resume" (go on where you stopped) or "start" (begin
    the survey of `code`). Each channel turns it into its own payload."""

    label: str
    action: str  # "resume" | "start"
    code: str | None = None


@dataclass(frozen=True)
class Outgoing:
    """One message, ready for a channel: the decrypted address exists only here, in memory."""

    kind: str
    recipient: str  # contact key or member:<id> (WhatsApp's outreach looks addresses up by it)
    address: str
    language: str
    round_id: int
    text: str = ""
    rtl: bool = False
    button: BroadcastButton | None = None
    payload: dict[str, Any] = field(default_factory=dict)


class RecipientBlocked(Exception):
    """The recipient blocked us (Telegram 403, WhatsApp's equivalent): never try again."""


class BroadcastSender(Protocol):
    """What a channel implements to send first messages (Telegram now; WhatsApp next, which
    sends a template outside its 24-hour window). Raise RecipientBlocked on a block; any
    other exception means "try again later"."""

    channel: str
    # Messages a second this channel accepts for broadcasts (None: no pacing needed).
    rate: float | None

    async def send(self, message: Outgoing) -> None: ...


# ------------------------------------------------------------------ enqueueing
def _values(
    kind: str,
    round_id: int,
    recipient: str,
    channel: str,
    language: str,
    now: datetime,
    seq: int = 1,
    payload: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "kind": kind,
        "round_id": round_id,
        "recipient": recipient,
        "seq": seq,
        "channel": channel,
        "language": language,
        "payload": payload or {},
        "status": "pending",
        "attempts": 0,
        "created_at": now,
    }


async def _insert_new(s: AsyncSession, rows: list[dict[str, Any]]) -> int:
    """Insert rows whose (kind, round, recipient, seq) is not queued yet; returns how many."""
    if not rows:
        return 0
    kinds = {r["kind"] for r in rows}
    rounds = {r["round_id"] for r in rows}
    existing = set(
        (
            await s.execute(
                select(
                    BroadcastMessage.kind,
                    BroadcastMessage.round_id,
                    BroadcastMessage.recipient,
                    BroadcastMessage.seq,
                ).where(BroadcastMessage.kind.in_(kinds), BroadcastMessage.round_id.in_(rounds))
            )
        ).all()
    )
    new = [r for r in rows if (r["kind"], r["round_id"], r["recipient"], r["seq"]) not in existing]
    if new:
        await s.execute(insert(BroadcastMessage), new)
    return len(new)


async def enqueue_invitations(s: AsyncSession, rnd: Round, now: datetime) -> int:
    """Invite workers who opted in at one of the round's factories.

    Their address moves to this round as "active": it is kept while the round is open (so a
    worker who starts can be reminded) and purged when it closes, like every active address —
    one opt-in buys one invitation, not a standing list.
    """
    codes = dict(
        (
            await s.execute(
                select(RoundFactory.factory_id, RoundFactory.code).where(
                    RoundFactory.round_id == rnd.id
                )
            )
        ).all()
    )
    contacts = (
        (
            await s.execute(
                select(ContactAddress).where(
                    ContactAddress.purpose == "opt_in",
                    ContactAddress.factory_id.in_(codes),
                )
            )
        )
        .scalars()
        .all()
    )
    rows = []
    sender = await sender_name(s, rnd.id)
    for c in contacts:
        rows.append(
            _values(
                "invitation",
                rnd.id,
                c.key,
                c.channel,
                c.language,
                now,
                payload={"code": codes[c.factory_id], "sender": sender},  # type: ignore[index]  # factory_id is set for opt-ins
            )
        )
        c.purpose, c.round_id = ContactPurpose.ACTIVE, rnd.id
    return await _insert_new(s, rows)


async def enqueue_due_reminders(s: AsyncSession, now: datetime, round_id: int | None = None) -> int:
    """Queue reminder n+1 for each worker of an open round (or of round `round_id` only) who
    started, has not finished, wrote nothing for the round's delay, and had fewer than the
    round's maximum."""
    queued = 0
    rounds = select(Round).where(Round.status == RoundStatus.OPEN)
    if round_id is not None:
        rounds = rounds.where(Round.id == round_id)
    for rnd in (await s.execute(rounds)).scalars():
        if rnd.max_reminders <= 0:
            continue
        delay = timedelta(minutes=rnd.reminder_delay_minutes)
        # updated_at is the hour of the last message, rounded down: add the hour, never early.
        quiet_since = now - delay - timedelta(hours=1)
        candidates = (
            await s.execute(
                select(ContactAddress.key, ContactAddress.channel, Response.language)
                .join(Conversation, Conversation.key == ContactAddress.key)
                .join(Response, Response.id == Conversation.response_id)
                .where(
                    ContactAddress.round_id == rnd.id,
                    ContactAddress.purpose == "active",
                    Response.status == "in_progress",
                    Conversation.updated_at <= quiet_since,
                    Conversation.remind.is_(True),  # not after "stop" without asking
                )
            )
        ).all()
        if not candidates:
            continue
        history: dict[str, tuple[int, datetime, bool]] = {}
        for recipient, seq, created, status in (
            await s.execute(
                select(
                    BroadcastMessage.recipient,
                    BroadcastMessage.seq,
                    BroadcastMessage.created_at,
                    BroadcastMessage.status,
                ).where(BroadcastMessage.kind == "reminder", BroadcastMessage.round_id == rnd.id)
            )
        ).all():
            n, last, blocked = history.get(recipient, (0, created, False))
            history[recipient] = (
                max(n, seq),
                max(last, created),
                blocked or status == "blocked",
            )
        rows = []
        sender = {"sender": await sender_name(s, rnd.id)}
        for key, channel, language in candidates:
            n, last, blocked = history.get(key, (0, now, False))
            if blocked or n >= rnd.max_reminders or (n and last > now - delay):
                continue
            rows.append(
                _values("reminder", rnd.id, key, channel, language, now, seq=n + 1, payload=sender)
            )
        queued += await _insert_new(s, rows)
    return queued


async def enqueue_reports(s: AsyncSession, rnd: Round, now: datetime) -> int:
    """After closing: one report per subscribed member of the CSO and of the brands that
    source from the round's factories (each gets only their organisation's report)."""
    brands = (
        select(BrandFactory.brand_id)
        .join(RoundFactory, RoundFactory.factory_id == BrandFactory.factory_id)
        .where(RoundFactory.round_id == rnd.id, BrandFactory.carries(rnd.cso_id))
    )
    members = (
        await s.execute(
            select(Member.id, Member.channel, Member.language, Organisation.kind, Organisation.name)
            .join(Organisation, Organisation.id == Member.org_id)
            .where(
                Member.subscribed.is_(True),
                Member.revoked_at.is_(None),
                (Organisation.id == rnd.cso_id) | Organisation.id.in_(brands),
            )
        )
    ).all()
    rows = [
        _values(
            "report",
            rnd.id,
            f"{MEMBER_PREFIX}{mid}",
            channel,
            language or "en",
            now,
            payload={"audience": kind, "org": name},
        )
        for mid, channel, language, kind, name in members
    ]
    return await _insert_new(s, rows)


async def queue_due_reminders(db: Database, now: datetime, round_id: int | None = None) -> int:
    """`enqueue_due_reminders` in a transaction of its own. Two processes may run it at once:
    the outbox's unique key keeps one of each reminder, and the one that lost queues none."""
    try:
        async with db.transaction() as s:
            return await enqueue_due_reminders(s, now, round_id)
    except IntegrityError:
        return 0


async def queue_daily_status(
    db: Database,
    day: date,
    now: datetime,
    counts: Mapping[int, Sequence[Any]],
    *,
    k: int = 10,
    rule: VerdictRule | None = None,
) -> int:
    """`enqueue_daily_status` in a transaction of its own; a second run the same day (another
    process, a restart) queues none: status messages are keyed by day."""
    try:
        async with db.transaction() as s:
            return await enqueue_daily_status(s, day, now, counts, k=k, rule=rule)
    except IntegrityError:
        return 0


# "failed" without an attempt: never handed to a channel because the stored address could not
# be decrypted (a failure after retries always has `attempted_at`). Shown as its own status.
UNDELIVERABLE = "undeliverable"


def shown_status() -> ColumnElement[str]:
    """A broadcast row's status as the CSO and /metrics see it: "undeliverable" set apart."""
    return case(
        (
            and_(BroadcastMessage.status == "failed", BroadcastMessage.attempted_at.is_(None)),
            literal(UNDELIVERABLE),
        ),
        else_=BroadcastMessage.status,
    )


async def outbox_counts(db: Database, round_id: int) -> dict[tuple[str, str], int]:
    """A round's outbox rows per kind and status (in_doubt: handed over, outcome unknown;
    undeliverable: the address could not be decrypted)."""
    async with db.transaction() as s:
        shown = shown_status().label("shown")
        rows = await s.execute(
            select(BroadcastMessage.kind, shown, func.count())
            .where(BroadcastMessage.round_id == round_id)
            .group_by(BroadcastMessage.kind, shown)
        )
        return {(str(kind), str(status)): n for kind, status, n in rows.all()}


async def enqueue_daily_status(
    s: AsyncSession,
    day: date,
    now: datetime,
    counts: Mapping[int, Sequence[Any]],
    *,
    k: int = 10,
    rule: VerdictRule | None = None,
) -> int:
    """Today's response counts per factory (counts only, never answers) of the open rounds in
    `counts`, each with its progress toward the answers it needs (bot/reports/targets.py; `k`
    is the brands' small-cell threshold, `rule` the verdict thresholds), for every member of
    each round's CSO (the people who run it; /subscribe is about reports)."""
    queued = 0
    query = select(Round).where(Round.status == RoundStatus.OPEN, Round.id.in_(list(counts)))
    for rnd in (await s.execute(query)).scalars():
        members = (
            await s.execute(
                select(Member.id, Member.channel, Member.language).where(
                    Member.org_id == rnd.cso_id,
                    Member.revoked_at.is_(None),
                )
            )
        ).all()
        if not members:
            continue
        lines = [f"Round #{rnd.id} {rnd.name} — {day.isoformat()}"]
        for c in counts.get(rnd.id, ()):
            lines.append(f"{c.code} {c.name}: {c.complete} complete, {c.started} started")
            lines.append("  " + target(c.headcount, k, rule or VerdictRule()).text(c.complete))
        if rnd.closes_at is not None:
            lines.append(f"Closes {rnd.closes_at:%Y-%m-%d %H:%M} UTC")
        payload = {"text": "\n".join(lines)}
        seq = int(day.strftime("%Y%m%d"))
        rows = [
            _values("status", rnd.id, f"{MEMBER_PREFIX}{mid}", ch, lang or "en", now, seq, payload)
            for mid, ch, lang in members
        ]
        queued += await _insert_new(s, rows)
    return queued


# ------------------------------------------------------------------ draining
@dataclass
class DrainResult:
    sent: int = 0
    blocked: int = 0
    failed: int = 0
    skipped: int = 0
    retried: int = 0
    # Handed to the channel, outcome unknown (a timeout after the request went out, or found
    # after a crash): a worker message in doubt is not sent again.
    in_doubt: int = 0
    held_for_quiet_hours: int = 0
    # The stored address could not be decrypted (damaged, or written under another secret
    # key): marked failed without an attempt, the rest of the round goes on.
    undeliverable: int = 0

    @property
    def done(self) -> int:
        return (
            self.sent
            + self.blocked
            + self.failed
            + self.skipped
            + self.in_doubt
            + self.undeliverable
        )


@dataclass
class _Claimed:
    row: BroadcastMessage
    address: str | None
    undeliverable: bool = False


class Broadcaster:
    """Sends what the outbox holds, through the senders of the channels that are running.

    Never twice: each message is marked "attempted" (committed) just before it is handed to
    the channel and "sent" right after. A message whose claim expired after the hand-over, or
    whose send ended in a lost answer, is in doubt: worker messages in doubt are not sent
    again (a second reminder is worse than none), staff messages are (a missing report is
    worse than two). Claims are taken ahead of the senders, so the channel's pace never waits
    for the database between batches.
    """

    def __init__(
        self,
        db: Database,
        keyring: Keyring,
        catalogs: Catalogs,
        senders: Sequence[BroadcastSender],
        quiet: QuietHours | None = None,
        *,
        clock: Clock,
        lease: timedelta = timedelta(minutes=5),
        batch: int = 200,
        holder: str | None = None,
    ) -> None:
        self.db, self.keyring, self.catalogs = db, keyring, catalogs
        self.senders = {s.channel: s for s in senders}
        self.quiet = quiet or QuietHours()
        self.clock = clock
        self.lease = lease
        self.batch = batch
        # Its claims are marked with this (the scheduler's lease holder gives its own name, so
        # the process taking the lease over can end a dead holder's claims: service/lease.py).
        self.holder = holder or secrets.token_hex(8)
        self._draining = asyncio.Lock()
        self._next_slot: dict[str, float] = {}
        self._started: dict[str, list[list[float]]] = {}  # [let go, answered] in the last second
        self._pace_locks: dict[str, asyncio.Lock] = {}

    async def _pace(self, channel: str) -> list[float] | None:
        """Let one send start, at the channel's `rate`, without ever bursting.

        Telegram's flood control counts messages in a sliding second and answers 429 above
        its limit — and one 429 pauses every send for `retry_after`. So: sends follow an even
        schedule (1/rate apart, small lateness absorbed without drift); never more than
        floor(rate) in any second, however late the event loop wakes (a stall is not made up
        with a burst); never let go closer than 0.8/rate. The returned cell holds when the
        send was let go and when it was answered; the caller sets the latter, so sends held
        up inside the channel (python-telegram-bot waits out a 429 for all of them, then lets
        them go at once) count when they really went, and the next ones wait for the second
        to clear."""
        rate = getattr(self.senders[channel], "rate", None)
        if not rate:
            return None
        gap, cap = 1.0 / rate, max(1, int(rate))
        loop = asyncio.get_running_loop()
        lock = self._pace_locks.setdefault(channel, asyncio.Lock())
        started = self._started.setdefault(channel, [])
        async with lock:
            while True:
                now = loop.time()
                started[:] = [cell for cell in started if cell[1] > now - 1.0]
                wait = self._next_slot.get(channel, now) - now
                if started:
                    wait = max(wait, max(c[0] for c in started) + 0.8 * gap - now)
                    if len(started) >= cap:
                        wait = max(wait, min(c[1] for c in started) + 1.0 - now)
                if wait <= 0:
                    break
                await asyncio.sleep(wait)
            cell = [now, now]  # let go, answered (moved by the caller)
            started.append(cell)
            planned = self._next_slot.get(channel, now)
            self._next_slot[channel] = max(planned, now - 0.5 * gap) + gap
        return cell

    def _where(self, now: datetime, round_id: int | None, kinds: Sequence[str]) -> list[Any]:
        where = [
            BroadcastMessage.channel.in_(self.senders),
            BroadcastMessage.kind.in_(kinds),
            or_(
                BroadcastMessage.status == "pending",
                and_(
                    BroadcastMessage.status == "sending",
                    BroadcastMessage.claimed_until < now,
                    # Handed over before the claim expired: in doubt (see _settle_expired).
                    BroadcastMessage.attempted_at.is_(None),
                ),
            ),
        ]
        if round_id is not None:
            where.append(BroadcastMessage.round_id == round_id)
        return where

    def _kinds(self, now: datetime, kinds: Sequence[str] | None) -> list[str]:
        wanted = list(kinds or (*WORKER_KINDS, *STAFF_KINDS))
        if self.quiet.is_quiet(now):
            return [k for k in wanted if k not in WORKER_KINDS]
        return wanted

    async def pending(self, round_id: int | None = None, kinds: Sequence[str] | None = None) -> int:
        """How many messages wait (for channels this broadcaster can send on)."""
        now = self.clock()
        every = list(kinds or (*WORKER_KINDS, *STAFF_KINDS))
        async with self.db.transaction() as s:
            return int(
                await s.scalar(
                    select(func.count())
                    .select_from(BroadcastMessage)
                    .where(*self._where(now, round_id, every))
                )
                or 0
            )

    async def drain(
        self,
        round_id: int | None = None,
        kinds: Sequence[str] | None = None,
        stop: asyncio.Event | None = None,
        progress: Callable[[DrainResult], None] | None = None,
        concurrency: int = 8,
    ) -> DrainResult:
        """Send everything that is due, until none is left or `stop` is set. Worker messages
        wait during quiet hours (they stay pending; the scheduler drains again at the end)."""
        # Claims are made under this broadcaster's holder id, so two drains of one broadcaster
        # at once (two jobs due together) would both see the same claimed rows as theirs: one
        # drain at a time. Other processes have other holders and claim other rows.
        async with self._draining:
            return await self._drain(round_id, kinds, stop, progress, concurrency)

    async def _drain(
        self,
        round_id: int | None,
        kinds: Sequence[str] | None,
        stop: asyncio.Event | None,
        progress: Callable[[DrainResult], None] | None,
        concurrency: int,
    ) -> DrainResult:
        result = DrainResult()
        stop = stop or asyncio.Event()
        wanted = list(kinds or (*WORKER_KINDS, *STAFF_KINDS))
        # Up to one batch waits ahead of the senders; the next claim is made while it drains.
        queue: asyncio.Queue[_Claimed | None] = asyncio.Queue(maxsize=self.batch)

        async def claim_ahead() -> None:
            try:
                while not stop.is_set():
                    now = self.clock()
                    allowed = self._kinds(now, wanted)
                    if len(allowed) < len(wanted):
                        result.held_for_quiet_hours = await self.pending(round_id, WORKER_KINDS)
                    if not allowed:
                        break
                    result.in_doubt += await self._settle_expired(now, round_id, allowed)
                    claimed = await self._claim(now, round_id, allowed)
                    if not claimed:
                        break
                    for c in claimed:
                        await queue.put(c)
            finally:
                for _ in range(concurrency):
                    await queue.put(None)

        async def send_from_queue() -> None:
            while (c := await queue.get()) is not None:
                if stop.is_set():
                    await self._release([c.row.id])
                    continue
                await self._send(c, result)
                if progress is not None:
                    progress(result)

        async with asyncio.TaskGroup() as group:
            group.create_task(claim_ahead())
            for _ in range(concurrency):
                group.create_task(send_from_queue())
        return result

    async def _settle_expired(self, now: datetime, round_id: int | None, kinds: list[str]) -> int:
        """Claims that expired after their message was handed over (a process died between
        hand-over and mark): worker messages become in_doubt, staff messages go again."""
        async with self.db.transaction() as s:
            expired = [
                BroadcastMessage.status == "sending",
                BroadcastMessage.claimed_until < now,
                BroadcastMessage.attempted_at.is_not(None),
                BroadcastMessage.channel.in_(self.senders),
                BroadcastMessage.kind.in_(kinds),
            ]
            if round_id is not None:
                expired.append(BroadcastMessage.round_id == round_id)
            doubtful = rowcount(
                await s.execute(
                    update(BroadcastMessage)
                    .where(*expired, BroadcastMessage.kind.in_(WORKER_KINDS))
                    .values(status="in_doubt", claimed_until=None)
                )
            )
            await s.execute(
                update(BroadcastMessage)
                .where(*expired, BroadcastMessage.kind.in_(STAFF_KINDS))
                .values(status="pending", claimed_until=None, attempted_at=None)
            )
        if doubtful:
            log.warning("%d broadcast message(s) in doubt after an interrupted send", doubtful)
        return int(doubtful or 0)

    async def _claim(self, now: datetime, round_id: int | None, kinds: list[str]) -> list[_Claimed]:
        """Take up to `batch` due rows for this holder; another process gets other rows."""
        token = f"{self.holder}"
        async with self.db.transaction() as s:
            ids = list(
                (
                    await s.execute(
                        select(BroadcastMessage.id)
                        .where(*self._where(now, round_id, kinds))
                        .order_by(BroadcastMessage.id)
                        .limit(self.batch)
                    )
                ).scalars()
            )
            if not ids:
                return []
            await s.execute(
                update(BroadcastMessage)
                .where(BroadcastMessage.id.in_(ids), *self._where(now, round_id, kinds))
                .values(
                    status="sending",
                    claimed_until=now + self.lease,
                    claimed_by=token,
                    attempts=BroadcastMessage.attempts + 1,
                )
            )
        async with self.db.transaction() as s:
            rows = list(
                (
                    await s.execute(
                        select(BroadcastMessage)
                        .where(
                            BroadcastMessage.id.in_(ids),
                            BroadcastMessage.status == "sending",
                            BroadcastMessage.claimed_by == token,
                        )
                        .order_by(BroadcastMessage.id)
                    )
                ).scalars()
            )
            claimed = []
            for r in rows:
                try:
                    claimed.append(_Claimed(r, await self._address(s, r)))
                except AddressDecryptionError:
                    # One bad row must not stop the round: it is marked by _send.
                    claimed.append(_Claimed(r, None, undeliverable=True))
            return claimed

    async def _address(self, s: AsyncSession, row: BroadcastMessage) -> str | None:
        """The decrypted address, or None when it is gone or the message no longer applies."""
        if row.recipient.startswith(MEMBER_PREFIX):
            member = await s.get(Member, int(row.recipient[len(MEMBER_PREFIX) :]))
            if member is None or member.revoked_at is not None:
                return None
            return self.keyring.decrypt_address(member.channel, member.address)
        contact = await s.get(ContactAddress, row.recipient)
        if contact is None or contact.purpose != "active" or contact.round_id != row.round_id:
            return None
        if row.kind == "reminder":
            # Checked again at sending time: the worker may have finished since it was queued.
            found = (
                await s.execute(
                    select(Response.status, Conversation.remind)
                    .join(Conversation, Conversation.response_id == Response.id)
                    .where(Conversation.key == row.recipient)
                )
            ).first()
            if found is None or found[0] != "in_progress" or not found[1]:
                return None
        return self.keyring.decrypt_address(contact.channel, contact.ciphertext)

    def render(self, row: BroadcastMessage, address: str) -> Outgoing:
        loc = self.catalogs.get(row.language)
        common: dict[str, Any] = {
            "kind": row.kind,
            "recipient": row.recipient,
            "address": address,
            "language": loc.lang,
            "round_id": row.round_id,
            "rtl": loc.rtl,
            "payload": dict(row.payload or {}),
        }
        sender = str((row.payload or {}).get("sender") or loc.gettext(SENDER_UNKNOWN))
        if row.kind == "reminder":
            button = BroadcastButton(loc.gettext(P.BUTTON_CONTINUE), "resume")
            return Outgoing(text=loc.gettext(REMINDER, sender=sender), button=button, **common)
        if row.kind == "invitation":
            code = str(row.payload["code"])
            text = loc.gettext(INVITATION, code=isolate(code) if loc.rtl else code, sender=sender)
            button = BroadcastButton(loc.gettext(BUTTON_START_SURVEY), "start", code)
            return Outgoing(text=text, button=button, **common)
        return Outgoing(text=str((row.payload or {}).get("text", "")), **common)

    async def _send(self, c: _Claimed, result: DrainResult) -> None:
        row = c.row
        if c.undeliverable:
            # The row id, never the recipient: it leads the operator to the row, not the worker.
            log.error("broadcast message %d: the address cannot be decrypted; not sent", row.id)
            await self._finish(row.id, "failed")
            result.undeliverable += 1
            metrics.BROADCASTS_UNDELIVERABLE.labels(row.kind).inc()
            return
        if c.address is None:
            await self._finish(row.id, "skipped")
            result.skipped += 1
            return
        sender = self.senders[row.channel]
        sent_at = await self._pace(row.channel)
        if not await self._mark_attempt(row.id):
            return  # our claim expired and another sender holds the row now
        try:
            try:
                await sender.send(self.render(row, c.address))
            finally:
                if sent_at is not None:  # when the platform answered, not when we let it go
                    sent_at[1] = max(sent_at[1], asyncio.get_running_loop().time())
        except RecipientBlocked:
            await self._finish(row.id, "blocked")
            result.blocked += 1
            return
        except Exception as exc:
            log.warning("broadcast message failed (%s)", type(exc).__name__)
            metrics.SEND_FAILURES.labels(row.channel, row.kind).inc()
            if delivery_uncertain(exc) and row.kind in WORKER_KINDS:
                await self._finish(row.id, "in_doubt")
                result.in_doubt += 1
            elif row.attempts >= MAX_ATTEMPTS:
                await self._finish(row.id, "failed")
                result.failed += 1
            else:
                await self._release([row.id])
                result.retried += 1
            return
        await self._finish(row.id, "sent")
        result.sent += 1
        metrics.MESSAGES_SENT.labels(row.channel, row.kind).inc()

    async def _mark_attempt(self, row_id: int) -> bool:
        """Committed before the hand-over: from here on, a crash leaves the message in doubt
        rather than sending it again."""
        async with self.db.transaction() as s:
            marked = await s.execute(
                update(BroadcastMessage)
                .where(
                    BroadcastMessage.id == row_id,
                    BroadcastMessage.claimed_by == self.holder,
                    BroadcastMessage.status == "sending",
                )
                .values(attempted_at=self.clock())
            )
        return bool(rowcount(marked))

    async def _finish(self, row_id: int, status: str) -> None:
        async with self.db.transaction() as s:
            await s.execute(
                update(BroadcastMessage)
                .where(BroadcastMessage.id == row_id, BroadcastMessage.claimed_by == self.holder)
                .values(
                    status=status,
                    sent_at=self.clock() if status == "sent" else None,
                    claimed_until=None,
                )
            )
            if status == "blocked":
                row = await s.get(BroadcastMessage, row_id)
                if row is not None and not row.recipient.startswith(MEMBER_PREFIX):
                    # Nobody can reach this worker any more: keep nothing to reach them with.
                    await s.execute(
                        delete(ContactAddress).where(ContactAddress.key == row.recipient)
                    )

    async def _release(self, ids: list[int]) -> None:
        """Give claimed rows back (a graceful stop, or a retry after a definite failure)."""
        async with self.db.transaction() as s:
            await s.execute(
                update(BroadcastMessage)
                .where(BroadcastMessage.id.in_(ids), BroadcastMessage.claimed_by == self.holder)
                .values(status="pending", claimed_until=None, attempted_at=None)
            )

    async def progress_counts(self, round_id: int | None = None) -> dict[str, int]:
        """Messages per status (for `wagecheck round broadcasts`)."""
        async with self.db.transaction() as s:
            q = select(BroadcastMessage.status, func.count()).group_by(BroadcastMessage.status)
            if round_id is not None:
                q = q.where(BroadcastMessage.round_id == round_id)
            return {status: n for status, n in (await s.execute(q)).all()}
