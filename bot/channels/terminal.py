"""Take the survey in a terminal, through the same service and engine as every other channel.

Interactive with a prompt, or scripted: with piped standard input each line is one answer and
only the bot's messages go to standard output.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterable
from typing import TextIO

from bot.service import InboundMessage, Outcome, SurveyService
from bot.survey.parsing import parse_choice_index
from bot.survey.state import InputKind, Reply

CHANNEL = "terminal"


def render(reply: Reply) -> str:
    """A reply as terminal text: the message, then numbered buttons."""
    lines = [reply.text]
    lines += [f"  {i}) {b.label}" for i, b in enumerate(reply.buttons, start=1)]
    return "\n".join(lines)


class TerminalChat:
    """One worker's conversation in the terminal."""

    def __init__(
        self,
        service: SurveyService,
        out: TextIO,
        user_id: str | None = None,
        lang: str | None = None,
    ) -> None:
        self.service = service
        self.out = out
        self.user_id = user_id or f"terminal-{secrets.token_hex(8)}"
        self.lang = lang
        self._ids = itertools.count(1)
        self._session = secrets.token_hex(4)
        self._last: Reply | None = None

    def _message(
        self,
        kind: InputKind,
        text: str = "",
        payload: str = "",
        start_code: str | None = None,
        media: str = "",
    ) -> InboundMessage:
        return InboundMessage(
            channel=CHANNEL,
            user_id=self.user_id,
            message_id=f"{self._session}-{next(self._ids)}",
            kind=kind,
            received_at=self.service.clock(),
            text=text,
            payload=payload,
            start_code=start_code,
            media=media,
            client_language=self.lang,
            language_chosen=self.lang is not None,
        )

    async def start(self, code: str | None = None) -> Outcome:
        return await self._send(self._message(kind="start", start_code=code))

    async def say(self, line: str) -> Outcome:
        """Send one typed line; a number picks a button of the last question, as a tap would."""
        last = self._last
        if last is not None and last.buttons and last.expects in ("choice", "multi"):
            index = parse_choice_index(line, len(last.buttons))
            if index is not None:
                return await self._send(
                    self._message(kind="button", payload=last.buttons[index].payload)
                )
        return await self._send(self._message(kind="text", text=line))

    async def _send(self, msg: InboundMessage) -> Outcome:
        outcome = await self.service.handle(msg)
        if outcome.echo:
            print(f"✓ {outcome.echo}", file=self.out)
        for reply in outcome.replies:
            print(render(reply), file=self.out)
            print(file=self.out)
            if reply.buttons or reply.question_id:
                self._last = reply
        self.out.flush()
        return outcome

    async def run(self, lines: Iterable[str], code: str | None = None) -> None:
        """Start, then feed lines until they run out."""
        await self.start(code)
        for line in lines:
            await self.say(line.rstrip("\n"))
