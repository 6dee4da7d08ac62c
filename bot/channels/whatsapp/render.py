"""A channel-neutral Reply as WhatsApp Cloud API messages.

Up to 3 choices become reply buttons, 4 to 10 an interactive list, anything else plain text.
The survey validation keeps every label within WhatsApp's limits in every language; the
trimming here only guards against a survey that skipped it.

Multiple choice: WhatsApp cannot change a message once sent, so a tick cannot appear in place
as it does on Telegram. Each option is a row (or button) that ticks or unticks it; after every
tick the question is sent again with "✓" before the chosen options and "Chosen: …" under the
text, so the newest message always shows the whole choice, and "Done" records it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.channels.whatsapp import texts
from bot.i18n import Localizer
from bot.survey.definition import (
    WHATSAPP_BODY_MAX,
    WHATSAPP_BUTTON_TITLE_MAX,
    WHATSAPP_LIST_ROW_TITLE_MAX,
    WHATSAPP_MAX_BUTTONS,
    WHATSAPP_MAX_LIST_ROWS,
)
from bot.survey.state import Button, Reply

TEXT_MAX = 4096  # a text message's body
BUTTON_TEXT_MAX = 20  # the button that opens a list
ROW_DESCRIPTION_MAX = 72
TICK = "✓ "
ELLIPSIS = "…"


def messages(reply: Reply, loc: Localizer) -> list[dict[str, Any]]:
    """The messages (type and content, without the recipient) that show `reply`."""
    buttons = list(reply.buttons)
    text = reply.text
    if reply.expects == "multi":
        chosen = [b.label[len(TICK) :] for b in buttons if b.label.startswith(TICK)]
        if chosen:
            text += "\n\n" + loc.gettext(texts.CHOSEN, choices=loc.join(chosen))
    if not buttons or len(buttons) > WHATSAPP_MAX_LIST_ROWS:
        return [text_message(t) for t in _chunks(text_with_options(text, buttons), TEXT_MAX)]
    *before, body = _chunks(text, WHATSAPP_BODY_MAX)
    out = [text_message(t) for t in before]
    if len(buttons) <= WHATSAPP_MAX_BUTTONS:
        out.append(button_message(body, buttons))
    else:
        out.append(list_message(body, buttons, loc.gettext(texts.CHOOSE)))
    return out


def text_message(body: str) -> dict[str, Any]:
    return {"type": "text", "text": {"body": body, "preview_url": False}}


def button_message(body: str, buttons: list[Button]) -> dict[str, Any]:
    """Reply buttons (at most 3)."""
    return {
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": body},
            "action": {
                "buttons": [
                    {
                        "type": "reply",
                        "reply": {
                            "id": b.payload,
                            "title": _fit(b.label, WHATSAPP_BUTTON_TITLE_MAX),
                        },
                    }
                    for b in buttons
                ]
            },
        },
    }


def list_message(body: str, buttons: list[Button], button_text: str) -> dict[str, Any]:
    """A list of up to 10 rows behind one button; a label too long for a row title goes whole
    into the row's description."""
    rows = []
    for b in buttons:
        row = {"id": b.payload, "title": _fit(b.label, WHATSAPP_LIST_ROW_TITLE_MAX)}
        if row["title"] != b.label:
            row["description"] = _fit(b.label, ROW_DESCRIPTION_MAX)
        rows.append(row)
    return {
        "type": "interactive",
        "interactive": {
            "type": "list",
            "body": {"text": body},
            "action": {"button": _fit(button_text, BUTTON_TEXT_MAX), "sections": [{"rows": rows}]},
        },
    }


def template_message(
    name: str, language: str, *, body_params: Sequence[str] = (), quick_reply: str | None = None
) -> dict[str, Any]:
    """An approved template, with its {{1}}… values and the payload of its quick-reply button."""
    components: list[dict[str, Any]] = []
    if body_params:
        components.append(
            {"type": "body", "parameters": [{"type": "text", "text": p} for p in body_params]}
        )
    if quick_reply is not None:
        components.append(
            {
                "type": "button",
                "sub_type": "quick_reply",
                "index": "0",
                "parameters": [{"type": "payload", "payload": quick_reply}],
            }
        )
    template: dict[str, Any] = {"name": name, "language": {"code": language}}
    if components:
        template["components"] = components
    return {"type": "template", "template": template}


def text_with_options(text: str, buttons: list[Button]) -> str:
    """The text with numbered options, for when buttons cannot be shown: workers may type the
    number of an option."""
    lines = [text, ""] if buttons else [text]
    lines += [f"{i}. {b.label}" for i, b in enumerate(buttons, start=1)]
    return "\n".join(lines)


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def _chunks(text: str, limit: int) -> list[str]:
    """Split at paragraph (else line) breaks into pieces of at most `limit` characters; the
    last piece is the one that carries the buttons."""
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n\n", 0, limit)
        cut = cut if cut > 0 else rest.rfind("\n", 0, limit)
        cut = cut if cut > 0 else limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    pieces.append(rest)
    return pieces
