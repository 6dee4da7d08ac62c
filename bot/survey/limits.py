"""Channel limits as part of survey validation: every choice must fit WhatsApp and Telegram,
in every language the survey offers."""

from __future__ import annotations

from datetime import date

from bot.i18n import ENDONYMS, Catalogs
from bot.survey import phrases as P
from bot.survey.definition import (
    TELEGRAM_CALLBACK_DATA_MAX_BYTES,
    WHATSAPP_BODY_MAX,
    WHATSAPP_BUTTON_TITLE_MAX,
    WHATSAPP_LIST_ROW_TITLE_MAX,
    WHATSAPP_MAX_BUTTONS,
    WHATSAPP_MAX_LIST_ROWS,
    Question,
    Survey,
    SurveyError,
)
from bot.survey.engine import answer_payload, toggle_payload

# The longest month label a month question can show ("September 2026" and its translations).
_LONG_MONTH = date(2026, 9, 1)
_TICK = "✓ "


def _buttons(q: Question, survey: Survey, catalogs: Catalogs, lang: str) -> list[tuple[str, str]]:
    """(payload, label) of every button the engine can show for q in a language."""
    loc = catalogs.get(lang)
    if q.type == "language":
        return [(answer_payload(q.id, lang), ENDONYMS[lang]) for lang in survey.languages]
    if q.type == "consent":
        labels = [("yes", P.BUTTON_AGREE), ("no", P.BUTTON_DECLINE)]
    elif q.type in ("yes_no", "factory"):
        labels = [("yes", P.BUTTON_YES), ("no", P.BUTTON_NO)]
        if q.dont_know:
            labels.append(("dont_know", P.BUTTON_DONT_KNOW))
    elif q.type in ("single", "multiple"):
        labels = [(c.id, c.label) for c in q.choices]
    elif q.type == "month":
        return [(answer_payload(q.id, "2026-09"), loc.month(_LONG_MONTH)) for _ in q.months_back]
    elif q.type == "info":
        labels = [("_ok", P.BUTTON_CONTINUE)]
    else:
        labels = []
    out = []
    for value, label in labels:
        text = loc.gettext(label)
        if q.type == "multiple":
            out.append((toggle_payload(q.id, value), _TICK + text))
        else:
            out.append((answer_payload(q.id, value), text))
    if q.type == "multiple":
        out.append((answer_payload(q.id, "_done"), loc.gettext(P.BUTTON_DONE)))
    if q.optional and q.type not in ("language", "consent", "info", "factory"):
        out.append((answer_payload(q.id, "_skip"), loc.gettext(P.BUTTON_SKIP)))
    return out


def channel_limit_problems(survey: Survey, catalogs: Catalogs) -> list[str]:
    """Every way a question breaks a channel limit, as readable sentences."""
    problems = []
    for q in survey.questions:
        for lang in survey.languages:
            buttons = _buttons(q, survey, catalogs, lang)
            where = f"question {q.id!r} [{lang}]"
            text = catalogs.get(lang).gettext(q.text)
            if len(text) > WHATSAPP_BODY_MAX:
                problems.append(
                    f"{where}: text has {len(text)} characters, WhatsApp allows {WHATSAPP_BODY_MAX}"
                )
            if not buttons:
                continue
            if len(buttons) > WHATSAPP_MAX_LIST_ROWS:
                problems.append(
                    f"{where}: {len(buttons)} options; WhatsApp lists allow "
                    f"{WHATSAPP_MAX_LIST_ROWS}"
                )
            limit = (
                WHATSAPP_BUTTON_TITLE_MAX
                if len(buttons) <= WHATSAPP_MAX_BUTTONS
                else WHATSAPP_LIST_ROW_TITLE_MAX
            )
            for payload, label in buttons:
                if len(label) > limit:
                    problems.append(
                        f"{where}: label {label!r} has {len(label)} characters, "
                        f"WhatsApp allows {limit} here"
                    )
                size = len(payload.encode())
                if size > TELEGRAM_CALLBACK_DATA_MAX_BYTES or not payload.isascii():
                    problems.append(
                        f"{where}: payload {payload!r} is {size} bytes; Telegram "
                        f"allows {TELEGRAM_CALLBACK_DATA_MAX_BYTES} ASCII bytes"
                    )
    return problems


def check_channel_limits(survey: Survey, catalogs: Catalogs, source: str = "<survey>") -> None:
    """Raise SurveyError naming the file and the questions that do not fit a channel."""
    problems = channel_limit_problems(survey, catalogs)
    if problems:
        raise SurveyError("\n".join(f"{source}: {p}" for p in problems))
