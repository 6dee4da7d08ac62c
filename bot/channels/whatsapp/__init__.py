"""The WhatsApp channel: a thin adapter between the WhatsApp Cloud API (webhooks in, Graph API
messages out) and the survey service, plus reminders and invitations under the 24-hour rule."""

from bot.channels.whatsapp.adapter import CHANNEL, WhatsAppChannel, incoming
from bot.channels.whatsapp.graph import GraphClient, GraphError, Recipient
from bot.channels.whatsapp.outreach import OutreachError, invite, remind, within_window
from bot.channels.whatsapp.runner import serve, signature_ok, webhook_app

__all__ = [
    "CHANNEL",
    "GraphClient",
    "GraphError",
    "OutreachError",
    "Recipient",
    "WhatsAppChannel",
    "incoming",
    "invite",
    "remind",
    "serve",
    "signature_ok",
    "webhook_app",
    "within_window",
]
