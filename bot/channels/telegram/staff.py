"""Commands for CSO and brand members. Every call checks the role; someone without it gets
exactly the answer an unknown command gets (so the bot does not reveal what exists)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from telegram import LinkPreviewOptions, Update

from bot.enums import Role, RoundStatus
from bot.i18n import Catalogs, Localizer, negotiate_language
from bot.posters import deep_link
from bot.reports.build import verdict_rule
from bot.reports.targets import target
from bot.service import cso_portal, validation
from bot.service.admin import AdminError
from bot.service.members import Membership
from bot.service.rounds import default_help_texts, stale_wage_text, stale_wages_on

if TYPE_CHECKING:
    from bot.channels.telegram.adapter import TelegramChannel
    from bot.storage.models import Round

log = logging.getLogger(__name__)

# Round numbers are small; a longer "number" is refused before it reaches the database (which
# could not hold it as an integer).
MAX_ROUND_DIGITS = 9
REFUSED = "staff.refused"

# Staff replies have their own catalog domain, "staff" (en and ur: CSO staff in Karachi read
# Urdu), marked S_() and extracted by `make extract-staff`; workers' rules (complete Sindhi,
# no Latin letters) do not apply to text for staff, which names commands such as /round.
STAFF_DOMAIN = "staff"
STAFF_LANGUAGES = ("en", "ur")


def S_(message: str) -> str:
    """Mark a staff reply for extraction into the staff domain (translated when sent)."""
    return message


def staff_language(member_language: str | None, client_code: str | None = None) -> str:
    """The member's language (stored at joining), else the Telegram account's; en or ur."""
    return negotiate_language(member_language or client_code, STAFF_LANGUAGES)


STAFF_COMMANDS = (
    "rounds",
    "round",
    "close",
    "extend",
    "helptext",
    "report",
    "subscribe",
    "unsubscribe",
    "join",
    "whoami",
    "login",
)


class StaffCommands:
    """What CSO and brand staff can do in the bot, replying in the member's language."""

    def __init__(self, channel: TelegramChannel) -> None:
        self.channel = channel
        self.app = channel.app
        self._catalogs: Catalogs | None = None

    def tx(self, lang: str) -> Localizer:
        """The staff catalog of `lang` (loaded once)."""
        if self._catalogs is None:
            self._catalogs = Catalogs.load(
                self.app.settings.locales_dir, STAFF_LANGUAGES, domain=STAFF_DOMAIN
            )
        return self._catalogs.get(lang)

    def tx_for(self, m: Membership | None, update: Update | None = None) -> Localizer:
        user = update.effective_user if update is not None else None
        return self.tx(
            staff_language(m.language if m else None, user.language_code if user else None)
        )

    async def _send(self, update: Update, text: str) -> None:
        assert update.effective_chat is not None
        await self.channel.bot.send_message(update.effective_chat.id, text)

    async def join(self, update: Update, code: str) -> None:
        """`/start join_…` or `/join join_…`: link this account to an organisation."""
        user = update.effective_user
        assert user is not None
        membership = await self.channel.members.join(
            "telegram", str(user.id), code, language=user.language_code or "en"
        )
        if membership is None:
            await self._send(
                update,
                self.tx_for(None, update).gettext(
                    S_(
                        "This invite code is not valid (unknown, used or "
                        "expired). Ask your organisation for a new one."
                    )
                ),
            )
            return
        t = self.tx_for(membership, update)
        await self._send(
            update,
            t.gettext(
                S_("Welcome to {organisation} (role: {role})."),
                organisation=membership.org_name,
                role=t.gettext(ROLES.get(membership.role, membership.role)),
            )
            + "\n"
            + _help(membership, t),
        )

    async def handle(self, update: Update, command: str, argument: str) -> bool:
        """Run a staff command if this account may; False means "treat as unknown"."""
        if command not in STAFF_COMMANDS:
            return False
        if command == "join":
            if not argument:
                return False
            await self.join(update, argument)
            return True
        user = update.effective_user
        assert user is not None
        memberships = await self.channel.members.memberships("telegram", str(user.id))
        if not memberships:
            return False
        m = memberships[0]  # one organisation per account is the normal case
        if command == "whoami":
            await self._send(
                update, "\n".join(f"{x.org_name} ({x.org_kind}, {x.role})" for x in memberships)
            )
        elif command == "rounds" and m.is_cso:
            await self._rounds(update, m)
        elif command == "round" and m.is_cso:
            await self._round(update, m, argument)
        elif command == "close" and m.is_cso_admin:
            await self._close(update, m, argument)
        elif command == "extend" and m.is_cso_admin:
            await self._extend(update, m, argument)
        elif command == "helptext" and m.is_cso:
            return await self._helptext(update, m, argument)
        elif command in ("subscribe", "unsubscribe"):
            await self.channel.members.set_subscribed(m.member_id, command == "subscribe")
            t = self.tx_for(m, update)
            await self._send(
                update,
                t.gettext(S_("You will receive the results when a round closes."))
                if command == "subscribe"
                else t.gettext(S_("You will no longer receive results automatically.")),
            )
        elif command == "login":
            await self._login(update, m)
        elif command == "report":
            await self.channel.staff_reports(update, m, argument)
        else:
            # e.g. a brand member typing /close: audited, then answered like an unknown command
            await self.refused(m, command, argument)
            return False
        return True

    async def refused(self, m: Membership, command: str, argument: str) -> None:
        """Audit a staff command this member may not use (another organisation's round, a
        role without the command). The argument is cut short: it is typed text."""
        await self.channel.members.audit(
            m.member_id, REFUSED, f"/{command} {argument[:40]}".strip(), ok=False
        )

    async def _login(self, update: Update, m: Membership) -> None:
        """`/login`: a one-time link to the web portal (10 minutes, single use), sent without
        a link preview so that nothing fetches it before the member does."""
        token = await self.app.accounts.create_login_link(m.member_id)
        url = f"{self.app.settings.web_base_url.rstrip('/')}/login/link/{token}"
        assert update.effective_chat is not None
        await self.channel.bot.send_message(
            update.effective_chat.id,
            self.tx_for(m, update).gettext(
                S_(
                    "Your log-in link for the WageCheck portal ({organisation}). It works "
                    "once, for 10 minutes; do not forward it."
                ),
                organisation=m.org_name,
            )
            + f"\n{url}",
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        )

    async def _own_round(self, m: Membership, argument: str, command: str) -> Round | None:
        """The round numbered `argument` if this member's organisation runs it; another
        organisation's round is refused and audited."""
        if not argument.isdecimal() or len(argument) > MAX_ROUND_DIGITS:
            return None
        try:
            rnd = await self.app.admin.get_round(int(argument))
        except AdminError:  # no such round
            return None
        if rnd.cso_id != m.org_id:
            await self.refused(m, command, argument)
            return None
        return rnd

    async def _rounds(self, update: Update, m: Membership) -> None:
        t = self.tx_for(m, update)
        rounds = (await cso_portal.cso_rounds(self.app.db, m.org_id))[:10]  # newest first
        if not rounds:
            await self._send(update, t.gettext(S_("Your organisation has no rounds yet.")))
            return
        lines = []
        for rnd in rounds:
            done = sum(c.complete for c in rnd.factories)
            lines.append(
                t.gettext(
                    S_(
                        "#{number} {name} — {status}, {complete} complete answers "
                        "from {factories} factories"
                    ),
                    number=rnd.id,
                    name=rnd.name,
                    status=t.gettext(STATUSES.get(rnd.status, rnd.status)),
                    complete=done,
                    factories=len(rnd.factories),
                )
            )
        await self._send(
            update, "\n".join(lines) + "\n\n" + t.gettext(S_("Details: /round <number>"))
        )

    async def _round(self, update: Update, m: Membership, argument: str) -> None:
        t = self.tx_for(m, update)
        rnd = await self._own_round(m, argument, "round")
        if rnd is None:
            await self._send(
                update, t.gettext(S_("Usage: /round <number> (a round of your organisation)."))
            )
            return
        counts = await self.app.admin.counts(rnd.id)
        rule = verdict_rule(self.app)
        closes = rnd.closes_at.date().isoformat() if rnd.closes_at else t.gettext(S_("not set"))
        lines = [
            f"#{rnd.id} {rnd.name}",
            t.gettext(
                S_("Status: {status}; closes: {closes}"),
                status=t.gettext(STATUSES.get(rnd.status, rnd.status)),
                closes=closes,
            ),
            "",
        ]
        for c in counts:
            rate = (
                t.gettext(
                    S_(", {percent} of {headcount}"),
                    percent=f"{c.complete / c.headcount:.0%}",
                    headcount=c.headcount,
                )
                if c.headcount
                else ""
            )
            link = (
                f"\n  {self.channel_link(c.access_code)}"
                if rnd.status == RoundStatus.OPEN and self.channel.username
                else ""
            )
            lines.append(
                t.gettext(
                    S_("{code} {name}: {complete} complete, {started} started"),
                    code=c.code,
                    name=c.name,
                    complete=c.complete,
                    started=c.started,
                )
                + f"{rate}{link}"
            )
            lines.append(
                "  " + target(c.headcount, self.app.settings.k_brand, rule).text(c.complete)
            )
        lines += await self._round_notes(rnd)
        await self._send(update, "\n".join(lines))

    async def _round_notes(self, rnd: Round) -> list[str]:
        """Under a round's details: whether its help text is the default, and, while it may
        still open, that the wage table has no line for this fiscal year yet."""
        notes = ["", _help_status(rnd)]
        if rnd.status in (RoundStatus.DRAFT, RoundStatus.SCHEDULED, RoundStatus.OPEN):
            regions = await self.app.admin.round_regions(rnd.id)
            stale = stale_wages_on(self.app.wages, regions, self.app.clock())
            if stale:
                notes += [
                    "",
                    "Note: the wage table has no minimum for this fiscal year (from 1 July) yet "
                    "in " + "; ".join(stale_wage_text(s) for s in stale) + ". Workers are told "
                    "the latest notified minimum, and the reports say it may be out of date. "
                    "Opening such a round needs a confirmation (portal, or "
                    "`wagecheck round open --accept-stale-wages`).",
                ]
        return notes

    async def _helptext(self, update: Update, m: Membership, argument: str) -> bool:
        """`/helptext <number>`: where the round's workers get help, per language;
        `/helptext <number> <en|ur|sd> <text>` sets it (CSO admins), `… <lang> -` clears it."""
        number, _, rest = argument.strip().partition(" ")
        lang, _, text = rest.strip().partition(" ")
        rnd = await self._own_round(m, number, "helptext")
        if rnd is None:
            await self._send(
                update,
                "Usage: /helptext <number> — show where a round's workers get help\n"
                "/helptext <number> <en|ur|sd> <text> — set it (- for the default)",
            )
            return True
        if lang:
            if not m.is_cso_admin:
                await self.refused(m, "helptext", argument)
                return False
            admin = self.app.admin.acting_as(f"telegram member {m.member_id}")
            try:
                rnd = await admin.set_help_text(rnd.id, lang, None if text.strip() == "-" else text)
            except AdminError as exc:
                await self._send(update, str(exc))
                return True
        texts = rnd.help_text or {}
        lines = [f"#{rnd.id} {rnd.name}: where workers get help"]
        for code in ("en", "ur", "sd"):
            lines.append(f"{code}: {texts.get(code, '(the default)')}")
        lines += await self._round_notes(rnd)
        await self._send(update, "\n".join(lines))
        return True

    def channel_link(self, code: str) -> str:
        assert self.channel.username is not None
        return deep_link(self.channel.username, code)

    async def _close(self, update: Update, m: Membership, argument: str) -> None:
        t = self.tx_for(m, update)
        rnd = await self._own_round(m, argument, "close")
        if rnd is None:
            await self._send(
                update, t.gettext(S_("Usage: /close <number> (a round of your organisation)."))
            )
            return
        admin = self.app.admin.acting_as(f"telegram member {m.member_id}")
        try:
            purged = await admin.close_round(rnd.id)
        except AdminError as exc:
            await self._send(update, str(exc))
            return
        await self._send(
            update,
            t.gettext(
                S_("Round #{number} is closed. {addresses} contact addresses were deleted."),
                number=rnd.id,
                addresses=purged["addresses_purged"],
            ),
        )
        # Closing queued the reports in the broadcast outbox; send them now.
        await self.channel.send_broadcasts(rnd.id, kinds=("report",))

    async def _extend(self, update: Update, m: Membership, argument: str) -> None:
        """`/extend <number> <days>`: close a round that many days later than planned."""
        t = self.tx_for(m, update)
        number, _, days = argument.partition(" ")
        rnd = await self._own_round(m, number, "extend")
        try:
            extra = validation.days(days, 90, "an extension")
        except AdminError:
            extra = None
        if rnd is None or extra is None:
            await self._send(
                update, t.gettext(S_("Usage: /extend <number> <days> (1 to 90 days)."))
            )
            return
        base = rnd.closes_at or self.app.clock()
        admin = self.app.admin.acting_as(f"telegram member {m.member_id}")
        try:
            rnd = await admin.extend_round(rnd.id, base + timedelta(days=extra))
        except AdminError as exc:
            await self._send(update, str(exc))
            return
        closes = rnd.closes_at.strftime("%Y-%m-%d %H:%M UTC") if rnd.closes_at else "?"
        await self._send(
            update,
            t.gettext(S_("Round #{number} now closes {closes}."), number=rnd.id, closes=closes),
        )


def _help_status(rnd: Round) -> str:
    """Which languages of the round get the default help text, and what it says."""
    missing = [lang for lang in ("en", "ur", "sd") if lang not in (rnd.help_text or {})]
    if not missing:
        return "Help text: set in en, ur and sd."
    defaults = "\n".join(f"{r}: {t}" for r, t in default_help_texts(rnd).items())
    return (
        f"Help text: the default is used for {', '.join(missing)}. Check it, and set your "
        f"helpline with /helptext {rnd.id} ur <text> (and sd, en). The default:\n{defaults}"
    )


# Words the replies fill in: a round's status and a member's role.
STATUSES: dict[str, str] = {
    RoundStatus.DRAFT: S_("draft"),
    RoundStatus.SCHEDULED: S_("scheduled"),
    RoundStatus.OPEN: S_("open"),
    RoundStatus.CLOSED: S_("closed"),
    RoundStatus.PUBLISHED: S_("published"),
}
ROLES: dict[str, str] = {Role.ADMIN: S_("admin"), Role.VIEWER: S_("viewer")}


def _help(m: Membership, t: Localizer) -> str:
    lines = []
    if m.is_cso:
        lines += [
            S_("/rounds — your rounds and response counts"),
            S_("/round <number> — one round, with the links for the posters"),
        ]
        if m.role == Role.ADMIN:
            lines += [
                S_("/close <number> — close a round"),
                S_("/extend <number> <days> — close it later"),
                S_("/helptext <number> <en|ur|sd> <text> — where its workers get help"),
            ]
        lines.append(S_("/report <number> — the results of a closed round"))
    else:
        lines.append(S_("/report — results for your factories (closed rounds)"))
    lines += [
        S_("/subscribe — receive results when a round closes"),
        S_("/login — a link to the web portal"),
    ]
    return "\n".join(t.gettext(line) for line in lines)
