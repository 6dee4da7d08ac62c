"""Turn Telegram updates into InboundMessages for the survey service, and replies back into
Bot API calls. Nothing here decides what to ask: the engine does."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import Application, ApplicationBuilder, ExtBot

from bot.bootstrap import App
from bot.channels.telegram import texts
from bot.channels.telegram.broadcast import RESUME, START_PREFIX, TelegramSender
from bot.channels.telegram.ratelimit import ChatRateLimiter
from bot.channels.telegram.results import deliver_round_results, staff_report
from bot.channels.telegram.staff import StaffCommands
from bot.i18n import WORKER_LANGUAGES, negotiate_language
from bot.service import InboundMessage, Outcome
from bot.service.members import INVITE_PREFIX, Membership
from bot.survey.state import Button, ChatCleared, InputKind, Reply

log = logging.getLogger(__name__)

CHANNEL = "telegram"
# What a worker may send that is not text, by the Message attribute that carries it. A shared
# contact's phone number is never read.
MEDIA_KINDS = (
    "voice",
    "audio",
    "video",
    "video_note",
    "photo",
    "sticker",
    "animation",
    "document",
    "location",
    "venue",
    "contact",
    "poll",
    "dice",
)
WORKER_COMMANDS = frozenset(texts.COMMANDS)
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]


async def bot_username(app: App) -> str | None:
    """The bot's username (for deep links and posters): from the settings, else asked from
    the Bot API with the token; None without either."""
    s = app.settings
    if s.telegram_bot_username:
        return s.telegram_bot_username.lstrip("@")
    if s.telegram_token is None:
        return None
    bot = Bot(s.telegram_token.get_secret_value(), base_url=f"{s.telegram_api_url.rstrip('/')}/bot")
    async with bot:
        return bot.username


def build_application(app: App) -> Application:
    """A python-telegram-bot Application for our bot, pointed at the configured Bot API server."""
    s = app.settings
    if s.telegram_token is None:
        raise ValueError("set WAGECHECK_TELEGRAM_TOKEN (from @BotFather) to run the Telegram bot")
    root = s.telegram_api_url.rstrip("/")
    return (
        ApplicationBuilder()
        .token(s.telegram_token.get_secret_value())
        .base_url(f"{root}/bot")
        .base_file_url(f"{root}/file/bot")
        .rate_limiter(
            ChatRateLimiter(
                s.telegram_rate_overall,
                s.telegram_rate_per_chat,
                s.telegram_max_retries,
                in_flight=s.telegram_connections,
            )
        )
        # httpx's pool checks every pooled connection on every request, and each idle one
        # against every other (the work grows with the square of the pool): python-telegram-
        # bot's 256 cost the bot most of its CPU under load, 32 still a sixth
        # (docs/benchmarks.md). The default 16 carry Telegram's 30 messages/s overall, and
        # the callback answers beside them, at up to a third of a second a call; the rate
        # limiter keeps requests beyond them waiting (ratelimit.py), so the pool's own timeout
        # is only a backstop (a request that timed out there was never sent: a definite
        # failure, retried).
        .connection_pool_size(s.telegram_connections)
        .pool_timeout(30.0)
        .updater(None)  # we poll ourselves: see TelegramChannel.poll
        .build()
    )


class TelegramChannel:
    """The adapter. `process(update)` handles one update completely, or raises."""

    def __init__(self, app: App, application: Application) -> None:
        self.app = app
        self.application = application
        self.members = app.members.acting_as("telegram")
        self.staff = StaffCommands(self)
        self.username: str | None = app.settings.telegram_bot_username

    @classmethod
    def build(cls, app: App) -> TelegramChannel:
        return cls(app, build_application(app))

    @property
    def bot(self) -> ExtBot:
        return self.application.bot

    async def start(self) -> None:
        """Initialise the client, learn our username, publish the command menu per language."""
        await self.application.initialize()
        self.username = self.bot.username
        await self.publish_commands()

    async def stop(self) -> None:
        await self.application.shutdown()

    async def staff_reports(self, update: Update, member: Membership, argument: str) -> None:
        await staff_report(self, update, member, argument)

    async def deliver_round_results(self, round_id: int) -> int:
        return await deliver_round_results(self, round_id)

    async def send_broadcasts(
        self, round_id: int | None = None, kinds: tuple[str, ...] | None = None
    ) -> int:
        """Send what the broadcast outbox holds for Telegram (e.g. reports after /close)."""
        broadcaster = self.app.broadcaster([TelegramSender(self)])
        return (await broadcaster.drain(round_id=round_id, kinds=kinds)).sent

    async def publish_commands(self) -> None:
        """setMyCommands with descriptions in each worker language (private chats only)."""
        scope = BotCommandScopeAllPrivateChats()
        for lang in WORKER_LANGUAGES:
            loc = self.app.catalogs.get(lang)
            commands = [BotCommand(c, loc.gettext(d)) for c, d in texts.COMMANDS.items()]
            await self.bot.set_my_commands(
                commands, scope=scope, language_code=None if lang == "en" else lang
            )

    # ------------------------------------------------------------------ dispatch
    async def process(self, update: Update) -> None:
        """Handle one update; raises if it could not be handled (so it is delivered again)."""
        if update.callback_query is not None:
            await self._on_callback(update, update.callback_query)
            return
        message = update.effective_message
        if message is None or update.effective_chat is None or update.effective_user is None:
            return  # other update kinds (chat member changes, ...) need nothing from us
        if update.effective_chat.type != "private":
            await self._in_group(update, message)
            return
        if update.edited_message is not None:
            await self._worker(update, kind="edited")
            return
        text = message.text
        if text is None:
            media = next((k for k in MEDIA_KINDS if getattr(message, k, None)), "other")
            await self._worker(update, kind="media", media=media)
            return
        if text.startswith("/"):
            await self._on_command(update, text)
            return
        await self._worker(update, kind="text", text=text)

    async def _on_command(self, update: Update, text: str) -> None:
        command, _, argument = text[1:].partition(" ")
        command = command.split("@", 1)[0].lower()
        argument = argument.strip()
        if command == "start" and argument.startswith(INVITE_PREFIX):
            await self.staff.join(update, argument)
        elif command == "start":
            await self._worker(update, kind="start", start_code=argument or None)
        elif command in WORKER_COMMANDS:
            await self._worker(update, kind="text", text=f"/{command}")
        elif await self.staff.handle(update, command, argument):
            pass  # an authorised staff command, answered by StaffCommands
        else:
            # Unknown, or a staff command from someone without the role: the same answer.
            await self._worker(update, kind="unknown_command")

    async def _in_group(self, update: Update, message: Message) -> None:
        if message.text and message.text.startswith("/"):
            lang = negotiate_language(
                update.effective_user.language_code if update.effective_user else None
            )
            await self.bot.send_message(
                message.chat_id, self.app.catalogs.get(lang).gettext(texts.PRIVATE_ONLY)
            )

    # ------------------------------------------------------------------ workers
    async def _worker(
        self,
        update: Update,
        *,
        kind: InputKind,
        text: str = "",
        payload: str = "",
        start_code: str | None = None,
        media: str = "",
        pressed: Message | None = None,
    ) -> None:
        user = update.effective_user
        assert user is not None
        chat_id = update.effective_chat.id if update.effective_chat else user.id
        # The worker's own message, so that "delete" and "clear" can remove it later (a
        # pressed button is the bot's message, already noted when it was sent).
        incoming = update.message.message_id if update.message is not None else None
        outcome = await self.app.service.handle(
            InboundMessage(
                channel=CHANNEL,
                user_id=str(user.id),
                message_id=str(update.update_id),
                kind=kind,
                received_at=self.app.clock(),
                text=text,
                payload=payload,
                start_code=start_code,
                media=media,
                client_language=user.language_code,
                outbox=True,
                chat_clearing="bot",
                chat_message_id=incoming,
            )
        )
        if not outcome.duplicate and any(isinstance(e, ChatCleared) for e in outcome.events):
            await self.clear_chat(chat_id, str(user.id))
            pressed = None  # deleted with the rest
        await self.deliver(chat_id, outcome, pressed, user_id=str(user.id))

    async def clear_chat(self, chat_id: int, user_id: str) -> int:
        """Delete the chat's messages that Telegram still lets the bot delete (48 hours, both
        sides, deleteMessages in calls of 100); returns how many ids were asked. What fails
        stays: the reply tells the worker how to clear the rest themselves."""
        asked = 0
        for batch in await self.app.service.chat.take(CHANNEL, user_id):
            try:
                await self.bot.delete_messages(chat_id, batch)
                asked += len(batch)
            except TelegramError as exc:
                log.info("deleting chat messages failed: %s", type(exc).__name__)
        return asked

    async def _on_callback(self, update: Update, query: CallbackQuery) -> None:
        # Answer first so the phone stops its spinner, whatever happens next.
        try:
            await query.answer()
        except BadRequest:
            pass  # too old to answer; the button press itself still counts
        message = query.message if isinstance(query.message, Message) else None
        if message is None or message.chat.type != "private" or not query.data:
            return
        if query.data == RESUME:  # "Continue" under a reminder: ask the question again
            await self._worker(update, kind="start")
        elif query.data.startswith(START_PREFIX):  # "Start the survey" under an invitation
            await self._worker(update, kind="start", start_code=query.data[len(START_PREFIX) :])
        else:
            await self._worker(update, kind="button", payload=query.data, pressed=message)

    async def deliver(
        self,
        chat_id: int,
        outcome: Outcome,
        pressed: Message | None,
        *,
        user_id: str | None = None,
    ) -> None:
        """Send the replies (service.outbox.send_replies: they leave the outbox once Telegram
        accepted them, or the send is in doubt; a definite failure leaves the rest for the
        redelivery).

        One message per answer: after a button press the pressed question is edited *into*
        the first reply (its text and buttons, the recorded answer on top: "✓ Helper\n\n<next
        question>"), so the chat holds one live question, not the questionnaire. That edit is
        the reply's send: an uncertain failure is not retried, a definite one leaves the
        replies for the redelivery, and an edit Telegram refuses (BadRequest: too old, not
        found) falls back to sending. A new message goes out where an edit cannot carry the
        reply: the first message, a reply to typed text (the question is no longer the last
        message), a pressed message without text, and every reply after the first. The last
        answer's thank-you is an edit too: the chat ends with that one message. The ids of new
        messages are noted for the worker's "clear" (`user_id`)."""
        replies = list(outcome.replies)
        sent_ids: list[int] = []
        echo = outcome.echo if outcome.echo and not outcome.duplicate else None
        target = pressed if pressed is not None and pressed.text is not None else None
        show_answer = None
        if target is not None and echo is not None and not replies:
            # Nothing to ask next: the pressed question shows the answer, without its buttons.
            text = f"{target.text}\n\n✓ {echo}"

            async def show_answer() -> None:
                await self._edit(target, text, None)

        elif echo is not None and replies:
            # On top of the reply (a tick's re-render keeps the question as it is).
            if not (replies[0].replaces_previous and pressed is not None):
                replies[0] = replace(replies[0], text=f"✓ {echo}\n\n{replies[0].text}")
        editable = [target]  # the pressed question, until a reply has taken its place

        async def send(reply: Reply) -> bool:
            markup = keyboard(reply.buttons)
            message, editable[0] = editable[0], None
            if reply.replaces_previous and pressed is not None:
                await self._edit(pressed, reply.text, markup)  # a tick: in place, or nothing
                return True
            try:
                if message is None or not await self._edit_into(message, reply.text, markup):
                    new = await self.bot.send_message(chat_id, reply.text, reply_markup=markup)
                    sent_ids.append(new.message_id)
            except Forbidden:
                log.info("worker blocked the bot; reply dropped")
                return False
            return True

        try:
            await self.app.service.outbox.send_replies(outcome, replies, send, show_answer)
        finally:
            if user_id is not None:
                await self.app.service.chat.remember(CHANNEL, user_id, sent_ids)

    async def _edit_into(
        self, message: Message, text: str, markup: InlineKeyboardMarkup | None
    ) -> bool:
        """Edit `message` to carry a reply; False when Telegram refused the edit for good
        (the caller sends the reply instead). Other failures propagate, like a send's."""
        try:
            await self.bot.edit_message_text(
                text, chat_id=message.chat_id, message_id=message.message_id, reply_markup=markup
            )
        except BadRequest as exc:
            if "not modified" in str(exc).lower():
                return True  # it already shows exactly this reply: sending would repeat it
            log.info("edit refused, sending instead: %s", type(exc).__name__)
            return False
        return True

    async def _edit(self, message: Message, text: str, markup: InlineKeyboardMarkup | None) -> None:
        try:
            await self.bot.edit_message_text(
                text, chat_id=message.chat_id, message_id=message.message_id, reply_markup=markup
            )
        except BadRequest as exc:
            # "message is not modified" or too old to edit: nothing more to show.
            log.info("edit skipped: %s", type(exc).__name__)


def keyboard(buttons: Sequence[Button]) -> InlineKeyboardMarkup | None:
    """One button per row: labels are long in Urdu and Sindhi, and easier to hit on a phone."""
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.payload)] for b in buttons]
    )


def language_of(update: Update) -> str:
    user = update.effective_user
    return negotiate_language(user.language_code if user else None)


__all__ = [
    "CHANNEL",
    "Reply",
    "TelegramChannel",
    "build_application",
    "keyboard",
    "language_of",
]
