"""Reports in Telegram: `/report` for members, and automatic delivery to subscribed members
when a round closes. Every file passes the reports package's disclosure control."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from telegram import InputFile, Update
from telegram.error import Forbidden

from bot.channels.telegram.staff import S_
from bot.reports import ReportError, build_report, render
from bot.reports.build import audit_generation
from bot.reports.files import file_name
from bot.reports.model import Audience
from bot.service import brand_portal
from bot.service.members import Membership

if TYPE_CHECKING:
    from bot.channels.telegram.adapter import TelegramChannel

log = logging.getLogger(__name__)

FORMATS = ("pdf", "xlsx")
MAX_ROUND_DIGITS = 9  # a longer "round number" is no round (and no database integer)
LATEST_ROUNDS = 3  # `/report` without a number: a brand's most recent closed rounds


def report_language(member_language: str | None) -> str:
    """Brand-facing reports exist in English and Dutch."""
    return "nl" if (member_language or "").lower().startswith("nl") else "en"


async def send_report(
    channel: TelegramChannel,
    chat_id: int,
    round_id: int,
    audience: Audience,
    lang: str,
    *,
    actor: str,
) -> bool:
    """Build, render and send one report; False when this audience may not have it. Each
    file sent is audited ("report.generate", `actor`: the member who asked, or the delivery
    to a subscribed member)."""
    try:
        report = await build_report(channel.app, round_id, audience)
    except ReportError as exc:  # not this audience's (DisclosureError), or no such round
        log.info("report refused: %s", type(exc).__name__)
        return False
    for fmt in FORMATS:
        data = render(report, fmt, lang)
        await audit_generation(channel.app, actor, round_id, audience, fmt, lang)
        await channel.bot.send_document(
            chat_id, InputFile(data, filename=file_name(round_id, audience, fmt, lang))
        )
    return True


async def staff_report(
    channel: TelegramChannel, update: Update, m: Membership, argument: str
) -> None:
    """`/report [N]`: the member's own report of a round (CSO) or of their factories (brand)."""
    assert update.effective_chat is not None
    chat_id = update.effective_chat.id
    audience = Audience(kind="cso" if m.is_cso else "brand", name=m.org_name)
    lang = report_language(m.language)
    t = channel.staff.tx_for(m, update)
    if argument.isdecimal():
        rounds = [int(argument)] if len(argument) <= MAX_ROUND_DIGITS else []
    elif m.is_cso:
        await channel.bot.send_message(
            chat_id, t.gettext(S_("Usage: /report <round number> (see /rounds)."))
        )
        return
    else:
        rounds = await brand_portal.latest_round_ids(channel.app, m.org_id, LATEST_ROUNDS)
    actor = f"member {m.member_id}"
    sent = [
        r for r in rounds if await send_report(channel, chat_id, r, audience, lang, actor=actor)
    ]
    if not sent and argument:
        await channel.staff.refused(m, "report", argument)
    if not sent:
        await channel.bot.send_message(
            chat_id,
            t.gettext(
                S_(
                    "No results to send: results are only available for closed rounds, "
                    "and only for your organisation's factories."
                )
            ),
        )


async def deliver_round_results(channel: TelegramChannel, round_id: int) -> int:
    """After a round closed: send each subscribed member their organisation's report."""
    delivered = 0
    for member in await channel.app.members.round_subscribers(round_id, "telegram"):
        try:
            if await send_report(
                channel,
                int(member.address),
                round_id,
                Audience("cso" if member.org_kind == "cso" else "brand", member.org_name),
                report_language(member.language),
                actor=f"delivery to member {member.member_id}",
            ):
                delivered += 1
        except Forbidden:
            log.info("a subscribed member blocked the bot; skipped")
    return delivered
