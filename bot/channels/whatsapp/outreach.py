"""Writing to a worker first: reminders and invitations, and WhatsApp's 24-hour rule.

Within 24 hours of the worker's last message a business may send anything; after that only a
template Meta approved. When the worker last wrote comes from data we keep anyway:
`conversations.updated_at` holds the hour of the last message (rounded down, so that no exact
time sits next to the answers). The message itself came up to an hour later, so the window is
treated as 23 hours from that hour: never a normal message that WhatsApp would refuse.

The scheduler and the command line call `remind` and `invite` with a contact address key (the
key of `contact_addresses`, which is also the conversation's key).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from bot.channels.whatsapp import render, texts
from bot.channels.whatsapp.adapter import CHANNEL, RESUME, START_PREFIX, WhatsAppChannel
from bot.channels.whatsapp.graph import Recipient
from bot.i18n import isolate
from bot.service.contacts import SENDER_UNKNOWN, Contact
from bot.survey import phrases as P
from bot.survey.state import Button

WINDOW = timedelta(hours=24)
SAFE_WINDOW = WINDOW - timedelta(hours=1)

Kind = Literal["message", "template"]


class OutreachError(LookupError):
    """No WhatsApp address under that key (never kept, or purged when its round closed)."""


@dataclass(frozen=True)
class Template:
    """An approved template: its name and WhatsApp language code ("ur", "en_US", ...)."""

    name: str
    language: str

    @classmethod
    def parse(cls, value: str, setting: str) -> Template:
        name, sep, language = value.partition(":")
        if not (sep and name and language):
            raise ValueError(f"{setting}: {value!r} should be template_name:language_code")
        return cls(name, language)


def within_window(last_message_hour: datetime | None, now: datetime) -> bool:
    """Whether a normal message is allowed, given the hour of the worker's last message."""
    if last_message_hour is None:
        return False
    return now - last_message_hour < SAFE_WINDOW


def template_for(templates: dict[str, str], lang: str, setting: str) -> Template:
    """The template configured for a survey language (English when that one has none)."""
    value = templates.get(lang) or templates.get("en")
    if not value:
        raise ValueError(f"{setting} names no template for {lang!r} (nor for 'en')")
    return Template.parse(value, setting)


async def remind(channel: WhatsAppChannel, key: str, *, now: datetime | None = None) -> Kind:
    """Remind a worker who stopped halfway; pressing "Continue" asks the question again."""
    contact, to, last = await _address(channel, key)
    return await send_reminder(channel, to, contact.language, last, contact.sender, now=now)


async def invite(
    channel: WhatsAppChannel, key: str, code: str, *, now: datetime | None = None
) -> Kind:
    """Invite a worker who asked to hear about the next survey; `code` is the poster code of
    the new round at their factory. "Start" (or sending the code) begins that survey."""
    contact, to, last = await _address(channel, key)
    return await send_invitation(channel, to, contact.language, code, last, contact.sender, now=now)


async def send_reminder(
    channel: WhatsAppChannel,
    to: Recipient,
    lang: str,
    last_message_hour: datetime | None,
    sender: str = "",
    *,
    now: datetime | None = None,
) -> Kind:
    """The reminder to `to`: a message inside the window, else the approved template (whose
    one variable is `sender`, the CSO's short name)."""
    loc = channel.app.catalogs.get(lang)
    sender = sender or loc.gettext(SENDER_UNKNOWN)
    if within_window(last_message_hour, now or channel.app.clock()):
        button = Button(RESUME, loc.gettext(P.BUTTON_CONTINUE))
        text = loc.gettext(texts.REMINDER, sender=sender)
        await channel.graph.send(to, render.button_message(text, [button]))
        return "message"
    setting = "WAGECHECK_WHATSAPP_REMINDER_TEMPLATES"
    template = template_for(channel.app.settings.whatsapp_reminder_templates, lang, setting)
    await channel.graph.send(
        to,
        render.template_message(
            template.name, template.language, body_params=[sender], quick_reply=RESUME
        ),
    )
    return "template"


async def send_invitation(
    channel: WhatsAppChannel,
    to: Recipient,
    lang: str,
    code: str,
    last_message_hour: datetime | None,
    sender: str = "",
    *,
    now: datetime | None = None,
) -> Kind:
    """The invitation to `to`: a message inside the window, else the approved template (its
    variables: `sender`, then the code)."""
    loc = channel.app.catalogs.get(lang)
    sender = sender or loc.gettext(SENDER_UNKNOWN)
    payload = f"{START_PREFIX}{code}"
    if within_window(last_message_hour, now or channel.app.clock()):
        shown = isolate(code) if loc.rtl else code
        text = loc.gettext(texts.INVITATION, code=shown, sender=sender)
        button = Button(payload, loc.gettext(texts.BUTTON_START))
        await channel.graph.send(to, render.button_message(text, [button]))
        return "message"
    setting = "WAGECHECK_WHATSAPP_INVITATION_TEMPLATES"
    template = template_for(channel.app.settings.whatsapp_invitation_templates, lang, setting)
    await channel.graph.send(
        to,
        render.template_message(
            template.name, template.language, body_params=[sender, code], quick_reply=payload
        ),
    )
    return "template"


async def last_message_hour(channel: WhatsAppChannel, key: str) -> datetime | None:
    """The hour of the worker's last message, if we have one."""
    return await channel.app.contacts.last_message_hour(key)


async def _address(
    channel: WhatsAppChannel, key: str
) -> tuple[Contact, Recipient, datetime | None]:
    contact = await channel.app.contacts.find(key, CHANNEL)
    if contact is None:
        raise OutreachError("no WhatsApp contact address under this key")
    return contact, Recipient.from_address(contact.address), await last_message_hour(channel, key)


__all__ = [
    "SAFE_WINDOW",
    "WINDOW",
    "OutreachError",
    "Template",
    "invite",
    "last_message_hour",
    "remind",
    "send_invitation",
    "send_reminder",
    "template_for",
    "within_window",
]
