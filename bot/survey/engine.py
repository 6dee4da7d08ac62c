"""The survey engine: survey + state + one input (+ the time) -> new state, replies, events.

Pure: no database, no network, no clock. Every channel, the demo and the tests drive it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale

from bot.i18n import ENDONYMS, Catalogs, Localizer, isolate, negotiate_language
from bot.survey import phrases as P
from bot.survey.definition import Question, Survey
from bot.survey.parsing import (
    Command,
    clean_text,
    match_command,
    parse_choice_index,
    parse_choice_indices,
    parse_number,
    parse_yes_no,
    redact_contacts,
)
from bot.survey.state import (
    AnswerGiven,
    AnswerRetracted,
    AnswersCleared,
    Button,
    ChatCleared,
    ChatClearing,
    ConversationState,
    Event,
    FactoryRef,
    Input,
    LanguageChosen,
    Phase,
    Reply,
    ResponseCompleted,
    ResponseDeleted,
    ResponseStarted,
    Sprint,
)
from bot.wages import UNSKILLED, WageTable, staleness

SETUP_TYPES = frozenset({"language", "consent", "factory"})
SKIP, DONE, OK, RETRY = "_skip", "_done", "_ok", "_retry"
YES_NO = {"yes": "yes", "no": "no"}
# The two buttons of each "are you sure?" (delete, restart after finishing).
CONFIRM_BUTTONS = {
    "delete": (P.BUTTON_DELETE, P.BUTTON_KEEP),
    "restart": (P.BUTTON_RESTART, P.BUTTON_KEEP_ANSWERS),
}
# Inputs that are not answers: a polite note, then the same question again.
NOTICES = {
    "media": P.MEDIA_NOT_UNDERSTOOD,
    "unknown_command": P.UNKNOWN_COMMAND,
    "edited": P.EDITED_MESSAGE,
}
# WhatsApp's body limit; a note and a question are joined only below it.
MAX_MERGED_CHARS = 1024
# Shorter typed fragments could match several labels by accident.
MIN_PARTIAL_MATCH = 4
# Typed text longer than this is never a button label, a language or a month (even padded with
# invisible marks): it is not cleaned and compared again for each of them, so that a long
# message costs no more than a short one.
MAX_LABEL_INPUT_CHARS = 1024


@dataclass(frozen=True)
class EngineOptions:
    """Named limits instead of magic numbers."""

    # A worker returning after this long is welcomed back before the question is repeated.
    resume_after: timedelta = timedelta(hours=6)
    # After this many unusable answers in a row, the re-ask mentions "help".
    invalid_before_help_hint: int = 2
    # Months offered by month questions are computed in this time zone.
    time_zone: str = "Asia/Karachi"
    example_code: str = "K7M4QP"


def answer_payload(question_id: str, value: str) -> str:
    """The button payload that answers `question_id` with `value` (ASCII, within 64 bytes)."""
    return f"a:{question_id}:{value}"


def toggle_payload(question_id: str, value: str) -> str:
    return f"t:{question_id}:{value}"


class _Step:
    """Mutable working copy for one sprint; keeps the engine's methods short."""

    def __init__(
        self,
        state: ConversationState,
        loc: Localizer,
        now: datetime,
        clearing: ChatClearing = "none",
        help_text: Mapping[str, str] | None = None,
    ) -> None:
        self.state = state
        self.loc = loc
        self.now = now
        self.clearing = clearing
        self.help_text = help_text or {}
        self.replies: list[Reply] = []
        self.events: list[Event] = []
        self.echo: str | None = None

    def say(self, text: str, **kw: Any) -> None:
        self.replies.append(Reply(text=text, lang=self.loc.lang, rtl=self.loc.rtl, **kw))


class Engine:
    """Runs one survey. Build once at start-up; `start` and `resume` are pure functions."""

    def __init__(
        self,
        survey: Survey,
        wages: WageTable,
        catalogs: Catalogs,
        options: EngineOptions | None = None,
    ) -> None:
        self.survey = survey
        self.wages = wages
        self.catalogs = catalogs
        self.options = options or EngineOptions()
        self._tz = ZoneInfo(self.options.time_zone)
        self._index = {q.id: i for i, q in enumerate(survey.questions)}

    # ------------------------------------------------------------------ public API
    def new_state(
        self, factory: FactoryRef | None = None, lang: str | None = None
    ) -> ConversationState:
        """A fresh conversation, optionally for a factory (deep link) and a language hint."""
        # Until the worker chooses: the phone's language if we have it, else the survey default.
        hinted = negotiate_language(lang, self.survey.languages) if lang else None
        chosen = hinted if hinted in self.survey.languages else self.survey.default_language
        return ConversationState(survey=self.survey.key, lang=chosen, factory=factory)

    def start(
        self,
        now: datetime,
        factory: FactoryRef | None = None,
        client_language: str | None = None,
        *,
        help_text: Mapping[str, str] | None = None,
    ) -> Sprint:
        """Begin a conversation and ask the first question."""
        state = self.new_state(factory, client_language)
        return self.resume(state, Input(kind="start", factory=factory), now, help_text=help_text)

    def expects_factory_code(self, state: ConversationState | None) -> bool:
        """Whether the next text should be looked up as a factory code by the host."""
        if state is None or state.phase in ("done", "declined"):
            return True
        q = self._current(state)
        # Before the survey proper (the language, the consent, the factory question) a poster's
        # code is welcome: a worker who opened the chat with a bare /start types it there.
        return (
            state.phase == "asking"
            and q is not None
            and q.type in SETUP_TYPES
            and state.factory is None
            and not state.started
        )

    def resume(
        self,
        state: ConversationState,
        inp: Input,
        now: datetime,
        *,
        help_text: Mapping[str, str] | None = None,
    ) -> Sprint:
        """Continue a conversation with one input. `help_text`: where the round's workers get
        help, by language, as its CSO set it (shown at the end and on "help"; a language
        without one gets the default text for the factory's region)."""
        state = state.model_copy(deep=True)
        st = _Step(state, self.catalogs.get(state.lang), now, inp.chat_clearing, help_text)
        returning = (
            state.last_seen is not None
            and now - state.last_seen > self.options.resume_after
            and state.phase in ("asking", "confirm_number", "paused")
            and state.step is not None
        )
        # Only the hour is kept: enough for "welcome back", less revealing next to answers.
        state.last_seen = now.replace(minute=0, second=0, microsecond=0)
        if inp.kind == "start" and (inp.factory is not None or inp.unknown_code):
            self._on_start(st, inp)
        elif inp.kind == "start" and state.step is None and state.phase not in ("done", "declined"):
            self._choose_language_from(st, inp)
            self._ask_next(st, after=None)
        elif inp.kind in NOTICES:
            st.say(st.loc.gettext(NOTICES[inp.kind]))
            self._reask(st)
        elif inp.kind == "start":
            if returning:
                st.say(st.loc.gettext(P.WELCOME_BACK))
            self._reask(st)
        else:
            command = self._command_of(inp)
            if command is not None:
                self._on_command(st, command)
            else:
                welcome = returning and state.phase != "paused"
                self._on_answer(st, inp)
                if welcome:
                    # Said after the answer, so that it is in the language just chosen (an
                    # answer to the language question) like everything after it.
                    st.replies.insert(
                        0, Reply(st.loc.gettext(P.WELCOME_BACK), lang=st.loc.lang, rtl=st.loc.rtl)
                    )
        return Sprint(state=st.state, replies=_merge(st.replies), events=st.events, echo=st.echo)

    # ------------------------------------------------------------------ navigation
    def _current(self, state: ConversationState) -> Question | None:
        return self.survey.question(state.step) if state.step else None

    def _skipped_setup(self, state: ConversationState, q: Question) -> bool:
        if q.type == "language":
            return state.lang_chosen
        if q.type == "factory":
            return state.factory is not None and state.factory_confirmed
        if q.type == "consent":
            return state.answers.get(q.id) == "yes"
        return False

    def _ask_next(self, st: _Step, after: str | None) -> None:
        start = 0 if after is None else self._index[after] + 1
        state = st.state
        for q in self.survey.questions[start:]:
            if q.type in SETUP_TYPES:
                if self._skipped_setup(state, q):
                    continue
            elif not q.applies(state.answers):
                continue
            if q.type not in SETUP_TYPES and not state.started:
                self._start_response(st)
            state.step, state.phase = q.id, "asking"
            self._ask(st, q)
            return
        self._complete(st)

    def _start_response(self, st: _Step) -> None:
        state = st.state
        assert state.factory is not None, "a survey reaches its questions only via a factory"
        state.started = True
        st.events.append(ResponseStarted(factory=state.factory, lang=state.lang))

    def _complete(self, st: _Step) -> None:
        state = st.state
        state.phase, state.step = "done", None
        opt_in_q = next((q for q in self.survey.questions if q.contact_opt_in), None)
        opt_in = opt_in_q is not None and state.answers.get(opt_in_q.id) == "yes"
        if state.redo:
            # The new answers replace the finished ones now, all at once, in one transaction.
            st.events.append(AnswersCleared())
            st.events.extend(
                AnswerGiven(q_id, state.answers[q_id])
                for q_id in state.history
                if q_id in state.answers
            )
            state.redo = False
        if state.started:
            st.events.append(ResponseCompleted(contact_opt_in=opt_in))
        st.say(st.loc.gettext(self.survey.thanks, **self._params(st)))
        info = self._minimum_info(st)
        if info:
            st.say(info)
        # Where to get help, after the minimum (right after "less than this minimum").
        st.say(self._help_text(st))
        self._offer_clearing(st)

    def _help_text(self, st: _Step) -> str:
        """Where to get help, in the worker's language: the round's own text, else the default
        for the factory's region (the catalog's; English where a language lacks it)."""
        own = st.help_text.get(st.loc.lang)
        if own:
            return own
        region = st.state.factory.region if st.state.factory is not None else None
        return st.loc.gettext(P.default_help(region))

    def _offer_clearing(self, st: _Step) -> None:
        """The last message: where the bot can delete the chat, a button that does; where only
        the worker can (WhatsApp), how to, said once."""
        if st.clearing == "bot":
            st.say(
                st.loc.gettext(P.CLEAR_CHAT_OFFER),
                buttons=(Button(f"c:{Command.CLEAR.value}", st.loc.gettext(P.BUTTON_CLEAR_CHAT)),),
                expects="choice",
            )
        elif st.clearing == "worker" and not st.state.clear_advised:
            st.state.clear_advised = True
            st.say(st.loc.gettext(P.CLEAR_CHAT_WHATSAPP))

    def _reask(self, st: _Step) -> None:
        state = st.state
        if state.phase == "done":
            st.say(st.loc.gettext(P.ALREADY_DONE))
        elif state.phase == "declined" and state.factory is not None:
            self._on_start(st, Input(kind="start", factory=state.factory))
        elif state.phase == "declined":
            st.say(st.loc.gettext(P.NOT_STARTED))
        elif state.phase == "confirm_delete":
            self._ask_delete(st)
        elif state.phase == "confirm_restart":
            self._ask_restart(st)
        elif state.phase == "confirm_number":
            self._ask_confirm_number(st, self._current(state))
        elif state.step is None:
            self._ask_next(st, after=None)
        else:
            q = self._current(state)
            assert q is not None
            if state.phase == "paused":
                _restore(state)
                self._reask(st)
                return
            self._ask(st, q)

    # ------------------------------------------------------------------ asking
    def _params(self, st: _Step) -> dict[str, str]:
        state, loc = st.state, st.loc
        params: dict[str, str] = {}
        if state.factory is not None:
            params["factory"] = state.factory.name
            raise_entry = self.wages.latest_raise(
                state.factory.region, st.now.astimezone(self._tz).date()
            )
            if raise_entry is not None:
                params["last_raise"] = loc.month(raise_entry.in_force_from)
                params["last_raise_amount"] = loc.money(raise_entry.amount)
        month_q = self.survey.with_role("pay_month")
        if month_q is not None and month_q.id in state.answers:
            params["month"] = loc.month(_month_date(state.answers[month_q.id]))
        return params

    def _text(self, st: _Step, q: Question) -> str:
        params = self._params(st)
        text = st.loc.gettext(q.text, **params)
        if q.hint:
            text += "\n" + st.loc.gettext(q.hint, **params)
        return text

    def _ask(self, st: _Step, q: Question, replaces_previous: bool = False) -> None:
        state, loc = st.state, st.loc
        buttons: list[Button] = []
        expects = "choice"
        text = self._text(st, q)
        if q.type == "language":
            text = self._in_every_language(state.model_copy(update={"lang_chosen": False}), q.text)
            buttons = [
                Button(answer_payload(q.id, lang), ENDONYMS[lang]) for lang in self.survey.languages
            ]
        elif q.type == "consent":
            buttons = [
                Button(answer_payload(q.id, "yes"), loc.gettext(P.BUTTON_AGREE)),
                Button(answer_payload(q.id, "no"), loc.gettext(P.BUTTON_DECLINE)),
            ]
        elif q.type == "info":
            buttons = [Button(answer_payload(q.id, OK), loc.gettext(P.BUTTON_CONTINUE))]
        elif q.type == "factory":
            if state.factory is not None:
                text = loc.gettext(P.ASK_FACTORY_CONFIRM, factory=state.factory.name)
                buttons = self._yes_no_buttons(q, loc)
            else:
                text = loc.gettext(P.ASK_FACTORY_CODE, example=_ltr(loc, self.options.example_code))
                expects = "text"
        elif q.type == "single":
            buttons = [Button(answer_payload(q.id, c.id), loc.gettext(c.label)) for c in q.choices]
        elif q.type == "multiple":
            ticked = set(state.pending or [])
            buttons = [
                Button(
                    toggle_payload(q.id, c.id),
                    ("✓ " if c.id in ticked else "") + loc.gettext(c.label),
                )
                for c in q.choices
            ]
            buttons.append(Button(answer_payload(q.id, DONE), loc.gettext(P.BUTTON_DONE)))
            expects = "multi"
        elif q.type == "yes_no":
            buttons = self._yes_no_buttons(q, loc)
        elif q.type == "month":
            months = [self._month_back(back, st.now) for back in q.months_back]
            # The payload names the month itself: a button pressed on the 1st of the next
            # month must not record a different month than the one its label shows.
            buttons = [Button(answer_payload(q.id, f"{m:%Y-%m}"), loc.month(m)) for m in months]
        elif q.type == "number":
            expects = "number"
        elif q.type == "text":
            expects = "text"
        if q.optional and q.type not in ("language", "consent", "info", "factory"):
            buttons.append(Button(answer_payload(q.id, SKIP), loc.gettext(P.BUTTON_SKIP)))
        st.say(
            text,
            buttons=tuple(buttons),
            expects=expects,
            question_id=q.id,
            replaces_previous=replaces_previous,
        )

    def _yes_no_buttons(self, q: Question, loc: Localizer) -> list[Button]:
        buttons = [
            Button(answer_payload(q.id, "yes"), loc.gettext(P.BUTTON_YES)),
            Button(answer_payload(q.id, "no"), loc.gettext(P.BUTTON_NO)),
        ]
        if q.dont_know:
            buttons.append(
                Button(answer_payload(q.id, "dont_know"), loc.gettext(P.BUTTON_DONT_KNOW))
            )
        return buttons

    def _ask_confirm_number(self, st: _Step, q: Question | None) -> None:
        assert q is not None
        value = (
            st.loc.money(st.state.pending) if q.unit == "PKR" else st.loc.number(st.state.pending)
        )
        st.say(
            st.loc.gettext(P.CONFIRM_NUMBER, value=value),
            buttons=(
                Button(answer_payload(q.id, OK), st.loc.gettext(P.BUTTON_CORRECT)),
                Button(answer_payload(q.id, RETRY), st.loc.gettext(P.BUTTON_RETYPE)),
            ),
            expects="choice",
            question_id=q.id,
        )

    def _ask_delete(self, st: _Step) -> None:
        self._ask_confirmation(st, "delete", P.CONFIRM_DELETE)

    def _ask_restart(self, st: _Step) -> None:
        self._ask_confirmation(st, "restart", P.CONFIRM_RESTART)

    def _ask_confirmation(self, st: _Step, action: str, question: str) -> None:
        """ "Are you sure?" with its two buttons (payloads x:<action>:yes / x:<action>:no)."""
        yes, no = CONFIRM_BUTTONS[action]
        st.say(
            st.loc.gettext(question),
            buttons=(
                Button(f"x:{action}:yes", st.loc.gettext(yes)),
                Button(f"x:{action}:no", st.loc.gettext(no)),
            ),
            expects="choice",
        )

    def _confirmation(self, st: _Step, inp: Input, action: str) -> str | None:
        """The answer to `_ask_confirmation`: "yes", "no", or None (not understood); by
        button, by its label typed, or by a yes/no word."""
        if inp.kind == "button" and inp.payload.startswith(f"x:{action}:"):
            return {"yes": "yes", "no": "no"}.get(inp.payload.rsplit(":", 1)[1])
        yes, no = CONFIRM_BUTTONS[action]
        return self._typed_label(st, inp, {"yes": yes, "no": no}, YES_NO)

    def _month_back(self, back: int, now: datetime) -> date:
        today = now.astimezone(self._tz).date()
        index = today.year * 12 + today.month - 1 - back
        return date(index // 12, index % 12 + 1, 1)

    def _minimum_info(self, st: _Step) -> str | None:
        """The minimum of the worker's own grade for the month they told us about, and, when
        they gave a full month's pay, whether that pay reached it and by how much it fell
        short: a fact, in their language, never a verdict on anyone."""
        state, loc = st.state, st.loc
        month_q = self.survey.with_role("pay_month")
        if state.factory is None or month_q is None or month_q.id not in state.answers:
            return None
        month = _month_date(state.answers[month_q.id])
        grade = self._grade(state)
        minimum = self.wages.minimum_for(state.factory.region, grade, month)
        if minimum is None:
            return None
        region = self.wages.regions[state.factory.region].name
        # No line yet for the fiscal year of that month: say it is the latest notified one.
        age = staleness(self.wages, state.factory.region, month)
        phrase, since = P.MINIMUM_INFO, {}
        if age.stale and age.latest is not None:
            phrase, since = P.MINIMUM_INFO_STALE, {"since": loc.month(age.latest.in_force_from)}
        lines = [
            loc.gettext(
                phrase,
                region=loc.gettext(region),
                month=loc.month(month),
                minimum=loc.money(minimum.amount),
                grade=loc.gettext(P.GRADE_WORDS.get(minimum.grade_used, minimum.grade_used)),
                **since,
            )
        ]
        if minimum.grade_used != grade:
            lines.append(
                loc.gettext(P.MINIMUM_FALLBACK, grade=loc.gettext(P.GRADE_WORDS.get(grade, grade)))
            )
        pay = self._full_month_pay(state)
        if pay is not None and pay < minimum.amount:
            lines.append(loc.gettext(P.PAY_BELOW_MINIMUM, gap=loc.money(minimum.amount - pay)))
        elif pay is not None:
            lines.append(loc.gettext(P.PAY_AT_LEAST_MINIMUM))
        return "\n\n".join(lines)

    def _grade(self, state: ConversationState) -> str:
        """The wage grade of the job the worker named; unskilled when none (every worker is
        owed at least that), as the reports compare."""
        q = self.survey.with_role("grade")
        if q is None or q.id not in state.answers:
            return UNSKILLED
        choice = next((c for c in q.choices or () if c.id == state.answers[q.id]), None)
        return choice.grade if choice is not None and choice.grade else UNSKILLED

    def _full_month_pay(self, state: ConversationState) -> int | None:
        """The pay the worker gave for a full month, if they did."""
        full_q, pay_q = self.survey.with_role("full_month"), self.survey.with_role("pay")
        if pay_q is None or not isinstance(state.answers.get(pay_q.id), int):
            return None
        if full_q is not None and state.answers.get(full_q.id) != "yes":
            return None
        return int(state.answers[pay_q.id])

    # ------------------------------------------------------------------ commands
    def _command_of(self, inp: Input) -> Command | None:
        if inp.kind == "button" and inp.payload.startswith("c:"):
            try:
                return Command(inp.payload[2:])
            except ValueError:
                return None
        if inp.kind == "text":
            return match_command(inp.text)
        return None

    def _on_command(self, st: _Step, command: Command) -> None:
        state = st.state
        if command is Command.HELP:
            st.say(st.loc.gettext(P.HELP) + "\n\n" + self._help_text(st))
            self._reask(st)
        elif command is Command.BACK:
            self._go_back(st)
        elif command is Command.RESTART and state.phase == "done" and state.started:
            # A finished survey is never wiped by one word: ask first (_on_restart_answer).
            state.phase = "confirm_restart"
            self._ask_restart(st)
        elif command is Command.RESTART:
            if _records(state):
                st.events.append(AnswersCleared())
            self._start_again(st, redo=state.redo)
        elif command is Command.LANGUAGE:
            lang_q = next((q for q in self.survey.questions if q.type == "language"), None)
            if lang_q is None:
                self._reask(st)
                return
            if state.step != lang_q.id or state.resume_phase is None:
                _interrupt(state)
            state.step, state.phase = lang_q.id, "asking"
            self._ask(st, lang_q)
        elif command is Command.STOP:
            if state.phase in ("done", "declined"):
                self._reask(st)  # nothing is being asked, so there is nothing to pause
                return
            _interrupt(state)
            state.phase, state.remind = "paused", False
            st.say(
                st.loc.gettext(P.PAUSED),
                buttons=(Button("x:remind:yes", st.loc.gettext(P.BUTTON_REMIND)),),
                expects="choice",
            )
        elif command is Command.DELETE:
            if not state.started and not state.answers:
                st.say(st.loc.gettext(P.NOTHING_TO_DELETE))
                self._reask(st)
                return
            _interrupt(state)
            state.phase = "confirm_delete"
            self._ask_delete(st)
        elif command is Command.CLEAR:
            self._clear_chat(st)

    def _clear_chat(self, st: _Step) -> None:
        """Remove the chat's messages from the phone where the bot can; else say how, or that
        there is nothing to clear. Stored answers do not change."""
        state = st.state
        if st.clearing == "bot":
            st.events.append(ChatCleared())
            st.say(st.loc.gettext(P.CHAT_CLEARED))
            if state.phase not in ("done", "declined", "paused"):
                # Nothing new appears until the worker writes again.
                _interrupt(state)
                state.phase = "paused"
                st.say(st.loc.gettext(P.CONTINUE_LATER))
            return
        if st.clearing == "worker":
            state.clear_advised = True
            st.say(st.loc.gettext(P.CLEAR_CHAT_WHATSAPP))
        else:
            st.say(st.loc.gettext(P.NOTHING_TO_CLEAR))
        if state.phase not in ("done", "declined"):
            self._reask(st)

    def _start_again(self, st: _Step, redo: bool) -> None:
        """From the first question; `redo`: the finished answers stay stored meanwhile."""
        state = st.state
        fresh = self.new_state(state.factory, state.lang)
        fresh.lang_chosen, fresh.last_seen = state.lang_chosen, state.last_seen
        fresh.clear_advised = state.clear_advised
        if redo:
            fresh.started = fresh.redo = True
            fresh.factory_confirmed = state.factory_confirmed
        st.state = fresh
        st.say(st.loc.gettext(P.RESTARTED))
        self._ask_next(st, after=None)

    def _on_restart_answer(self, st: _Step, inp: Input) -> None:
        value = self._confirmation(st, inp, "restart")
        if value == "yes":
            self._start_again(st, redo=True)
        elif value == "no":
            st.state.phase = "done"
            st.say(st.loc.gettext(P.RESTART_CANCELLED))
        else:
            st.say(st.loc.gettext(P.INVALID_YES_NO))
            self._ask_restart(st)

    def _go_back(self, st: _Step) -> None:
        state = st.state
        if state.phase == "done" or not state.history:
            if state.phase != "done":
                st.say(st.loc.gettext(P.NOTHING_TO_GO_BACK_TO))
            self._reask(st)
            return
        previous = state.history.pop()
        state.answers.pop(previous, None)
        state.pending = state.resume_step = state.resume_phase = None
        if _records(state):
            st.events.append(AnswerRetracted(previous))
        state.step, state.phase = previous, "asking"
        q = self._current(state)
        assert q is not None
        self._ask(st, q)

    # ------------------------------------------------------------------ answers
    def _on_start(self, st: _Step, inp: Input) -> None:
        state = st.state
        if (
            inp.factory is not None
            and state.started
            and state.factory == inp.factory
            and state.phase != "done"
        ):
            self._reask(st)  # the same link again: just carry on
            return
        if (
            inp.factory is not None
            and state.started
            and state.phase in ("done", "confirm_restart")
            and state.factory is not None
            and state.factory.round_id == inp.factory.round_id
        ):
            # A poster of the same round after finishing: the finished answers are not wiped
            # by a scan; "restart" (asked first) answers again.
            state.phase = "done"
            self._reask(st)
            return
        lang = state.lang if state.lang_chosen else (inp.client_language or state.lang)
        fresh = self.new_state(inp.factory, lang)
        fresh.lang_chosen = state.lang_chosen
        fresh.last_seen = state.last_seen
        st.state = fresh
        self._choose_language_from(st, inp)
        st.loc = self.catalogs.get(fresh.lang)
        if inp.unknown_code:
            st.say(self._in_every_language(fresh, P.UNKNOWN_FACTORY_CODE))
        self._ask_next(st, after=None)

    def _in_every_language(self, state: ConversationState, message: str) -> str:
        """Before the worker chose a language, say it in every language of the survey."""
        if state.lang_chosen:
            return self.catalogs.get(state.lang).gettext(message)
        lines = [self.catalogs.get(lang).gettext(message) for lang in self.survey.languages]
        return "\n".join(dict.fromkeys(lines))

    def _choose_language_from(self, st: _Step, inp: Input) -> None:
        lang = inp.client_language
        if inp.language_chosen and lang in self.survey.languages and not st.state.lang_chosen:
            st.state.lang, st.state.lang_chosen = lang, True
            st.loc = self.catalogs.get(lang)
            st.events.append(LanguageChosen(lang))

    def _on_answer(self, st: _Step, inp: Input) -> None:
        state = st.state
        current = self._current(state)
        if (
            inp.factory is not None
            and state.factory is None
            and not state.started
            and current is not None
            and current.type in ("language", "consent")
        ):
            # A poster's code typed at the language or consent question (the factory question
            # takes it as its answer).
            self._on_start(st, Input(kind="start", factory=inp.factory))
            return
        if state.phase == "paused" and (
            inp.payload == "x:remind:yes"
            or self._typed_label(st, inp, {"yes": P.BUTTON_REMIND}) == "yes"
        ):
            state.remind = True
            st.say(st.loc.gettext(P.REMIND_LATER))
            return
        if state.phase == "confirm_restart":
            self._on_restart_answer(st, inp)
            return
        if state.phase == "paused":
            _restore(state)
            st.say(st.loc.gettext(P.WELCOME_BACK))
            self._reask(st)
            return
        if state.phase == "confirm_delete":
            self._on_delete_answer(st, inp)
            return
        if state.phase in ("done", "declined"):
            if state.phase == "declined" and state.factory is not None:
                self._on_start(st, Input(kind="start", factory=state.factory))
            else:
                self._reask(st)
            return
        q = self._current(state)
        if q is None:
            self._ask_next(st, after=None)
            return
        if inp.kind == "button" and not self._payload_is_for(inp.payload, q):
            # An old button: harmless. One of a question already answered says so, then the
            # current question comes again (junk payloads get only the question).
            parts = inp.payload.split(":")
            if len(parts) == 3 and parts[0] == "a" and parts[1] in state.history:
                st.say(st.loc.gettext(P.ALREADY_ANSWERED))
            self._reask(st)
            return
        if state.phase == "confirm_number":
            self._on_number_confirmation(st, q, inp)
            return
        handler = getattr(self, f"_answer_{q.type}")
        value_or_error = handler(st, q, inp)
        if isinstance(value_or_error, _Invalid):
            self._invalid(st, q, value_or_error.message)

    def _payload_is_for(self, payload: str, q: Question) -> bool:
        parts = payload.split(":")
        return len(parts) == 3 and parts[1] == q.id

    def _invalid(self, st: _Step, q: Question, message: str) -> None:
        st.state.invalid_streak += 1
        if st.state.invalid_streak > self.options.invalid_before_help_hint:
            message += "\n" + st.loc.gettext(P.STILL_STUCK)
        st.say(message)
        self._ask(st, q)

    def _button_value(self, inp: Input, q: Question) -> str | None:
        if inp.kind == "button" and self._payload_is_for(inp.payload, q):
            return inp.payload.split(":")[2]
        return None

    def _typed_label(
        self, st: _Step, inp: Input, labels: dict[str, str], yes_no: dict[str, str] | None = None
    ) -> str | None:
        """A typed answer naming a button: its label (in the worker's language or English);
        else, given `yes_no` (word meaning -> value), a yes/no word; else a word of one label."""
        if inp.kind != "text" or len(inp.text) > MAX_LABEL_INPUT_CHARS:
            return None
        typed = clean_text(inp.text).casefold()
        for value, label in labels.items():
            if typed in (st.loc.gettext(label).casefold(), label.casefold()):
                return value
        if yes_no is not None:
            word = parse_yes_no(inp.text)
            if word in yes_no:
                return yes_no[word]
        # A word from one label only ("contractor" for "Through a contractor") is clear enough,
        # but only after the yes/no words: Sindhi "ناهي" (no) is part of "خبر ناهي" (don't know).
        if len(typed) >= MIN_PARTIAL_MATCH:
            hits = {
                value
                for value, label in labels.items()
                if typed in st.loc.gettext(label).casefold() or typed in label.casefold()
            }
            if len(hits) == 1:
                return hits.pop()
        return None

    def _accept(self, st: _Step, q: Question, value: Any, echo: str | None) -> None:
        state = st.state
        state.invalid_streak = 0
        state.pending = None
        if q.type in SETUP_TYPES:
            if q.type == "consent":
                state.answers[q.id] = value
        else:
            if value is not None:
                state.answers[q.id] = value
                if _records(state):
                    st.events.append(AnswerGiven(q.id, value))
            state.history.append(q.id)
        if not q.echo and value is not None and echo is not None:
            echo = st.loc.gettext(P.SAVED)  # a sensitive answer: the chat does not repeat it
        st.echo = echo
        if q.type == "language" and state.resume_phase is not None:
            _restore(state)
            if state.phase in ("done", "declined"):
                st.say(st.loc.gettext(P.LANGUAGE_SET))
            self._reask(st)
            return
        self._ask_next(st, after=q.id)

    def _typed_number(self, st: _Step, q: Question, inp: Input) -> str | None:
        """A yes/no or free-text question's button chosen by its number, as shown (numbered on
        WhatsApp and in the terminal): "2" for the second, digits in any script."""
        buttons = self._yes_no_buttons(q, st.loc) if q.type == "yes_no" else []
        values = [b.payload.split(":")[2] for b in buttons] + ([SKIP] if q.optional else [])
        if inp.kind != "text" or not values:
            return None
        index = parse_choice_index(inp.text, len(values))
        return values[index] if index is not None else None

    def _skip(self, st: _Step, q: Question, inp: Input) -> bool:
        if not q.optional:
            return False
        value = self._button_value(inp, q)
        if (
            value == SKIP
            or self._typed_label(st, inp, {SKIP: P.BUTTON_SKIP}) == SKIP
            or (q.type in ("yes_no", "text") and self._typed_number(st, q, inp) == SKIP)
        ):
            self._accept(st, q, None, st.loc.gettext(P.BUTTON_SKIP))
            return True
        return False

    # One handler per question type; each accepts or returns _Invalid.
    def _answer_language(self, st: _Step, q: Question, inp: Input) -> _Invalid | None:
        value = self._button_value(inp, q)
        if value is None and inp.kind == "text" and len(inp.text) <= MAX_LABEL_INPUT_CHARS:
            typed = clean_text(inp.text).casefold()
            index = parse_choice_index(inp.text, len(self.survey.languages))
            for lang in self.survey.languages:
                if typed in _language_names(lang):
                    value = lang
            if value is None and index is not None:
                value = self.survey.languages[index]
        if value not in self.survey.languages:
            return _Invalid(st.loc.gettext(P.INVALID_CHOICE))
        state = st.state
        state.lang, state.lang_chosen = value, True
        st.loc = self.catalogs.get(value)
        st.events.append(LanguageChosen(value))
        self._accept(st, q, value, ENDONYMS[value])
        return None

    def _answer_consent(self, st: _Step, q: Question, inp: Input) -> _Invalid | None:
        value = self._button_value(inp, q) or self._typed_label(
            st, inp, {"yes": P.BUTTON_AGREE, "no": P.BUTTON_DECLINE}, YES_NO
        )
        if value == "yes":
            self._accept(st, q, "yes", st.loc.gettext(P.BUTTON_AGREE))
        elif value == "no":
            st.state.phase, st.state.step = "declined", None
            st.echo = st.loc.gettext(P.BUTTON_DECLINE)
            st.say(st.loc.gettext(self.survey.declined))
        else:
            return _Invalid(st.loc.gettext(P.INVALID_YES_NO))
        return None

    def _answer_info(self, st: _Step, q: Question, inp: Input) -> _Invalid | None:
        self._accept(st, q, None, None)
        return None

    def _answer_factory(self, st: _Step, q: Question, inp: Input) -> _Invalid | None:
        state = st.state
        if state.factory is None:
            if inp.factory is None:
                return _Invalid(st.loc.gettext(P.UNKNOWN_FACTORY_CODE))
            state.factory, state.factory_confirmed = inp.factory, True
            self._accept(st, q, None, st.loc.gettext(P.FACTORY_NOW, factory=inp.factory.name))
            return None
        value = self._button_value(inp, q) or (
            parse_yes_no(inp.text) if inp.kind == "text" else None
        )
        if value == "yes":
            state.factory_confirmed = True
            self._accept(st, q, None, st.loc.gettext(P.FACTORY_NOW, factory=state.factory.name))
        elif value == "no":
            state.factory = None
            st.echo = st.loc.gettext(P.BUTTON_NO)
            self._ask(st, q)
        else:
            return _Invalid(st.loc.gettext(P.INVALID_YES_NO))
        return None

    def _answer_single(self, st: _Step, q: Question, inp: Input) -> _Invalid | None:
        if self._skip(st, q, inp):
            return None
        ids = [c.id for c in q.choices]
        value = self._button_value(inp, q) or self._typed_label(
            st, inp, {c.id: c.label for c in q.choices}
        )
        if value is None and inp.kind == "text":
            index = parse_choice_index(inp.text, len(ids))
            value = ids[index] if index is not None else None
        if value not in ids:
            return _Invalid(st.loc.gettext(P.INVALID_CHOICE))
        label = next(c.label for c in q.choices if c.id == value)
        self._accept(st, q, value, st.loc.gettext(label))
        return None

    def _answer_multiple(self, st: _Step, q: Question, inp: Input) -> _Invalid | None:
        if self._skip(st, q, inp):
            return None
        state = st.state
        ids = [c.id for c in q.choices]
        labels = {c.id: c.label for c in q.choices}
        if inp.kind == "button" and inp.payload.startswith("t:"):
            value = inp.payload.split(":")[2]
            if value in ids:
                ticked = list(state.pending or [])
                ticked.remove(value) if value in ticked else ticked.append(value)
                state.pending = [i for i in ids if i in ticked]
                self._ask(st, q, replaces_previous=True)
                return None
        chosen: list[str] | None = None
        if (
            self._button_value(inp, q) == DONE
            or self._typed_label(st, inp, {DONE: P.BUTTON_DONE}) == DONE
        ):
            chosen = list(state.pending or [])
            if not chosen:
                return _Invalid(st.loc.gettext(P.INVALID_MULTI))
        elif inp.kind == "text":
            indices = parse_choice_indices(inp.text, len(ids))
            single = self._typed_label(st, inp, labels)
            if indices:
                chosen = [ids[i] for i in indices]
            elif single:
                chosen = [single]
        if not chosen:
            return _Invalid(st.loc.gettext(P.INVALID_MULTI))
        self._accept(st, q, chosen, st.loc.join([st.loc.gettext(labels[c]) for c in chosen]))
        return None

    def _answer_yes_no(self, st: _Step, q: Question, inp: Input) -> _Invalid | None:
        if self._skip(st, q, inp):
            return None
        labels = {"yes": P.BUTTON_YES, "no": P.BUTTON_NO, "dont_know": P.BUTTON_DONT_KNOW}
        words = {**YES_NO, "dont_know": "dont_know"}
        value = (
            self._button_value(inp, q)
            or self._typed_label(st, inp, labels, words)
            or self._typed_number(st, q, inp)
        )
        allowed = ("yes", "no", "dont_know") if q.dont_know else ("yes", "no")
        if value is None or value not in allowed:
            return _Invalid(st.loc.gettext(P.INVALID_YES_NO))
        self._accept(st, q, value, st.loc.gettext(labels[value]))
        return None

    def _answer_month(self, st: _Step, q: Question, inp: Input) -> _Invalid | None:
        if self._skip(st, q, inp):
            return None
        options = {f"{m:%Y-%m}": m for m in (self._month_back(b, st.now) for b in q.months_back)}
        value = self._button_value(inp, q)
        if value is None and inp.kind == "text" and len(inp.text) <= MAX_LABEL_INPUT_CHARS:
            typed = clean_text(inp.text).casefold()
            for key, month in options.items():
                if typed == st.loc.month(month).casefold():
                    value = key
            index = parse_choice_index(inp.text, len(options))
            if value is None and index is not None:
                value = list(options)[index]
        if value not in options:
            return _Invalid(st.loc.gettext(P.INVALID_CHOICE))
        month = options[value]
        self._accept(st, q, month.strftime("%Y-%m"), st.loc.month(month))
        return None

    def _answer_number(self, st: _Step, q: Question, inp: Input) -> _Invalid | None:
        if self._skip(st, q, inp):
            return None
        assert q.min is not None and q.max is not None
        fmt = st.loc.money if q.unit == "PKR" else st.loc.number
        example = fmt(q.example if q.example is not None else q.min)
        value = parse_number(inp.text) if inp.kind == "text" else None
        if value is None:
            return _Invalid(st.loc.gettext(P.INVALID_NUMBER, example=example))
        if value < q.min:
            return _Invalid(st.loc.gettext(P.NUMBER_TOO_SMALL, min=fmt(q.min)))
        if value > q.max:
            return _Invalid(st.loc.gettext(P.NUMBER_TOO_LARGE, max=fmt(q.max)))
        lo = q.plausible_min if q.plausible_min is not None else q.min
        hi = q.plausible_max if q.plausible_max is not None else q.max
        if not lo <= value <= hi:
            st.state.phase, st.state.pending = "confirm_number", value
            self._ask_confirm_number(st, q)
            return None
        self._accept(st, q, value, fmt(value))
        return None

    def _on_number_confirmation(self, st: _Step, q: Question, inp: Input) -> None:
        state = st.state
        labels = {OK: P.BUTTON_CORRECT, RETRY: P.BUTTON_RETYPE}
        value = self._button_value(inp, q) or self._typed_label(
            st, inp, labels, {"yes": OK, "no": RETRY}
        )
        if value == OK:
            fmt = st.loc.money if q.unit == "PKR" else st.loc.number
            state.phase = "asking"
            self._accept(st, q, state.pending, fmt(state.pending))
        elif value == RETRY:
            state.phase, state.pending = "asking", None
            self._ask(st, q)
        elif inp.kind == "text" and parse_number(inp.text) is not None:
            state.phase, state.pending = "asking", None
            result = self._answer_number(st, q, inp)  # a new amount typed instead of yes/no
            if isinstance(result, _Invalid):
                self._invalid(st, q, result.message)
        else:
            st.say(st.loc.gettext(P.INVALID_YES_NO))
            self._ask_confirm_number(st, q)

    def _answer_text(self, st: _Step, q: Question, inp: Input) -> _Invalid | None:
        if self._skip(st, q, inp):
            return None
        text = clean_text(inp.text) if inp.kind == "text" else ""
        if not text:
            return _Invalid(st.loc.gettext(P.TEXT_EMPTY))
        if len(text) > q.max_chars:
            return _Invalid(st.loc.gettext(P.TEXT_TOO_LONG, max=st.loc.number(q.max_chars)))
        text = redact_contacts(text)  # the echo shows the worker what was kept
        self._accept(st, q, text, "…" if len(text) > 40 else text)
        return None

    def _on_delete_answer(self, st: _Step, inp: Input) -> None:
        state = st.state
        value = self._confirmation(st, inp, "delete")
        if value == "yes":
            st.events.append(ResponseDeleted())
            fresh = self.new_state(state.factory, state.lang)
            fresh.lang_chosen, fresh.last_seen = state.lang_chosen, state.last_seen
            fresh.phase = "declined"  # nothing more is asked until the worker writes again
            fresh.clear_advised = state.clear_advised
            st.state = fresh
            st.say(st.loc.gettext(P.DELETED))
            # The chat would still show the answers: delete it too, or say how.
            if st.clearing == "bot":
                st.events.append(ChatCleared())
                st.say(st.loc.gettext(P.CHAT_CLEARED))
            elif st.clearing == "worker":
                fresh.clear_advised = True
                st.say(st.loc.gettext(P.CLEAR_CHAT_WHATSAPP))
        elif value == "no":
            _restore(state)
            st.say(st.loc.gettext(P.DELETE_CANCELLED))
            self._reask(st)
        else:
            st.say(st.loc.gettext(P.INVALID_YES_NO))
            self._ask_delete(st)


@cache
def _language_names(lang: str) -> frozenset[str]:
    """What a worker may type to pick a language: its code, own name, English name."""
    english = Locale.parse(lang).get_display_name("en") or lang
    return frozenset({lang, ENDONYMS[lang].casefold(), english.casefold()})


def _records(state: ConversationState) -> bool:
    """Whether answers go to the database as they are given: not before the response started,
    nor while a finished survey is answered again (they replace the old ones at the end)."""
    return state.started and not state.redo


def _interrupt(state: ConversationState) -> None:
    """Remember what was being asked before a pause, a delete question or a language change."""
    if state.resume_phase is None:
        state.resume_step, state.resume_phase = state.step, state.phase


def _restore(state: ConversationState) -> None:
    """Go back to what was being asked before the interruption."""
    phase: Phase = state.resume_phase or "asking"
    if phase == "confirm_restart":
        phase = "done"  # the question is asked again only on "restart"
    elif phase in ("paused", "confirm_delete") or (
        phase == "confirm_number" and state.pending is None
    ):
        phase = "asking"
    if state.resume_phase is not None:
        state.step = state.resume_step
    state.phase = phase
    state.resume_step = state.resume_phase = None


def _merge(replies: list[Reply]) -> list[Reply]:
    """Join a plain note ("That is too small.") with the question after it: one message, not two.

    Fewer messages matter: Telegram allows about one message a second per chat.
    """
    merged: list[Reply] = []
    for reply in replies:
        previous = merged[-1] if merged else None
        if (
            previous is not None
            and not previous.buttons
            and previous.question_id is None
            and len(previous.text) + len(reply.text) + 2 <= MAX_MERGED_CHARS
        ):
            merged[-1] = replace(reply, text=f"{previous.text}\n\n{reply.text}")
        else:
            merged.append(reply)
    return merged


@dataclass(frozen=True)
class _Invalid:
    message: str


def _month_date(value: str) -> date:
    year, month = value.split("-")
    return date(int(year), int(month), 1)


def _ltr(loc: Localizer, text: str) -> str:
    return isolate(text) if loc.rtl else text


__all__ = ["Engine", "EngineOptions", "Phase", "answer_payload", "toggle_payload"]
