"""The survey definition format: pydantic models, validated on load (see docs/survey-format.md)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

FORMAT_VERSION = 1

# Limits every choice question must fit, in every language (docs/domain.md, "Channel limits").
WHATSAPP_MAX_BUTTONS = 3
WHATSAPP_BUTTON_TITLE_MAX = 20
WHATSAPP_MAX_LIST_ROWS = 10
WHATSAPP_LIST_ROW_TITLE_MAX = 24
WHATSAPP_BODY_MAX = 1024
TELEGRAM_CALLBACK_DATA_MAX_BYTES = 64
# The engine prefixes a question's payload with "a:<question id>:"; keep room for it.
CALLBACK_PREFIX = "a:"

ID_PATTERN = r"^[a-z][a-z0-9_]{0,23}$"
MAX_MONTHS_BACK = 24


class SurveyError(ValueError):
    """A survey file is invalid; the message names the file, the question and the problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Choice(_Strict):
    """One option of a choice question: a stable ASCII id and an English label (the msgid)."""

    id: Annotated[str, Field(pattern=ID_PATTERN)]
    label: str
    # Maps a job to a legal wage grade (only meaningful on the job question).
    grade: str | None = None


class Condition(_Strict):
    """Skip logic: the question is asked only when an earlier answer matches."""

    question: str
    equals: str | None = None
    any_of: list[str] | None = None
    not_any_of: list[str] | None = None

    @field_validator("equals", "any_of", "not_any_of", mode="before")
    @classmethod
    def _yaml_words(cls, value: Any) -> Any:
        # YAML reads an unquoted yes/no as a boolean; in a condition it means the answer.
        def word(v: Any) -> Any:
            return ("yes" if v else "no") if isinstance(v, bool) else v

        return [word(v) for v in value] if isinstance(value, list) else word(value)

    @model_validator(mode="after")
    def _one_test(self) -> Condition:
        tests = [t for t in (self.equals, self.any_of, self.not_any_of) if t is not None]
        if len(tests) != 1:
            raise ValueError("a condition needs exactly one of equals, any_of, not_any_of")
        return self

    def holds(self, answers: dict[str, Any]) -> bool:
        """True when the earlier answer satisfies this condition (unanswered never satisfies)."""
        if self.question not in answers:
            return False
        value = answers[self.question]
        values = set(value) if isinstance(value, list) else {str(value)}
        if self.equals is not None:
            return self.equals in values
        if self.any_of is not None:
            return bool(values & set(self.any_of))
        assert self.not_any_of is not None
        return not (values & set(self.not_any_of))


QuestionType = Literal[
    "language",
    "consent",
    "info",
    "factory",
    "single",
    "multiple",
    "yes_no",
    "month",
    "number",
    "text",
]


class Question(_Strict):
    """One step of the survey. Which fields apply depends on `type` (docs/survey-format.md)."""

    id: Annotated[str, Field(pattern=ID_PATTERN)]
    type: QuestionType
    text: str
    hint: str | None = None
    optional: bool = False
    when: list[Condition] = Field(default_factory=list)
    # single / multiple
    choices: list[Choice] = Field(default_factory=list)
    # yes_no
    dont_know: bool = False
    # number
    unit: str | None = None
    min: int | None = None
    max: int | None = None
    plausible_min: int | None = None
    plausible_max: int | None = None
    example: int | None = None
    # month: how many months back the offered options go (1 = last month); two years at most
    months_back: list[Annotated[int, Field(ge=0, le=MAX_MONTHS_BACK)]] = Field(default_factory=list)
    # text
    max_chars: int = 500
    cso_only: bool = False
    # yes_no: a "yes" keeps the contact address for the next round's invitation
    contact_opt_in: bool = False
    # the answer that holds the wage grade (job question) / the month the pay is about
    role: Literal["grade", "pay_month", "pay", "full_month"] | None = None
    # false: a sensitive answer is not repeated back ("✓ saved"), so the chat does not show it
    echo: bool = True

    @field_validator("when", mode="before")
    @classmethod
    def _when_as_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _fields_fit_type(self) -> Question:
        t = self.type
        if t in ("single", "multiple"):
            if len(self.choices) < 2:
                raise ValueError("a choice question needs at least 2 choices")
            ids = [c.id for c in self.choices]
            if len(set(ids)) != len(ids):
                raise ValueError(f"choice ids repeat: {ids}")
        elif self.choices:
            raise ValueError(f"'choices' does not apply to a {t} question")
        if t == "number":
            if self.min is None or self.max is None or self.min > self.max:
                raise ValueError("a number question needs min <= max")
            lo = self.plausible_min if self.plausible_min is not None else self.min
            hi = self.plausible_max if self.plausible_max is not None else self.max
            if not (self.min <= lo <= hi <= self.max):
                raise ValueError("the plausible range must lie within min..max")
        if t == "month" and (not self.months_back or min(self.months_back) < 0):
            raise ValueError("a month question needs months_back, e.g. [1, 2]")
        if t == "text" and not self.optional:
            raise ValueError("free text must be optional")
        if self.contact_opt_in and t != "yes_no":
            raise ValueError("contact_opt_in applies to yes_no questions only")
        return self

    def applies(self, answers: dict[str, Any]) -> bool:
        """Whether skip logic lets this question be asked, given the answers so far."""
        return all(c.holds(answers) for c in self.when)


class Survey(_Strict):
    """A versioned survey definition."""

    format: Literal[1] = 1
    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,47}$")]
    version: Annotated[int, Field(ge=1)]
    title: str
    languages: list[Literal["en", "ur", "sd"]]
    default_language: Literal["en", "ur", "sd"] = "en"
    thanks: str
    declined: str
    questions: list[Question]

    @model_validator(mode="after")
    def _consistent(self) -> Survey:
        ids = [q.id for q in self.questions]
        seen: set[str] = set()
        for q in self.questions:
            if q.id in seen:
                raise ValueError(f"question {q.id!r}: id used twice")
            for cond in q.when:
                if cond.question not in seen:
                    raise ValueError(
                        f"question {q.id!r}: 'when' refers to {cond.question!r}, "
                        "which is not an earlier question"
                    )
            seen.add(q.id)
        for kind in ("language", "consent", "factory"):
            if sum(q.type == kind for q in self.questions) > 1:
                raise ValueError(f"at most one {kind} step")
        # Answers are evidence about one factory, so every survey identifies it.
        if not any(q.type == "factory" for q in self.questions):
            raise ValueError("a survey needs a factory step (type: factory)")
        if (
            ids
            and self.questions[0].type != "language"
            and "language" in {q.type for q in self.questions}
        ):
            raise ValueError("the language step must come first")
        return self

    def check_grades(self, grades: tuple[str, ...] | list[str], source: str) -> None:
        """Every `grade` on a choice must be a grade of the wage table."""
        for q in self.questions:
            for c in q.choices:
                if c.grade is not None and c.grade not in grades:
                    raise SurveyError(
                        f"{source}: question {q.id!r} choice {c.id!r}: unknown grade "
                        f"{c.grade!r} (the wage table knows {', '.join(grades)})"
                    )

    def question(self, question_id: str) -> Question:
        """The question with this id (KeyError if none)."""
        for q in self.questions:
            if q.id == question_id:
                return q
        raise KeyError(question_id)

    def with_role(self, role: str) -> Question | None:
        """The question that carries a given role (grade, pay, pay_month, full_month)."""
        return next((q for q in self.questions if q.role == role), None)

    @property
    def key(self) -> str:
        """`id@version`, the identity answers are recorded against."""
        return f"{self.id}@{self.version}"


def _line_of(node: yaml.Node, path: tuple[Any, ...]) -> int | None:
    """Follow a pydantic error location through the YAML node tree to find its line."""
    line = node.start_mark.line + 1
    for part in path:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if k.value == part:
                    node, line = v, v.start_mark.line + 1
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def parse_survey(text: str, source: str = "<string>") -> Survey:
    """Parse and validate survey YAML; raise SurveyError naming file, line and question."""
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SurveyError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or node is None:
        raise SurveyError(f"{source}: a survey file must be a YAML mapping")
    try:
        survey = Survey.model_validate(data)
    except ValidationError as exc:
        problems = []
        questions = data.get("questions") or []
        for err in exc.errors():
            loc = tuple(err["loc"])
            # Survey-wide checks name the question in their message; point at that question.
            named = re.search(r"question '([^']+)'", str(err["msg"]))
            if not loc and named and isinstance(questions, list):
                index = next(
                    (
                        i
                        for i, q in enumerate(questions)
                        if isinstance(q, dict) and q.get("id") == named.group(1)
                    ),
                    None,
                )
                if index is not None:
                    # The last question with that id is the offending one for duplicates.
                    index = max(
                        i
                        for i, q in enumerate(questions)
                        if isinstance(q, dict) and q.get("id") == named.group(1)
                    )
                    loc = ("questions", index)
            where = ""
            if len(loc) >= 2 and loc[0] == "questions" and isinstance(loc[1], int):
                if loc[1] < len(questions) and isinstance(questions[loc[1]], dict):
                    where = f" question {questions[loc[1]].get('id', loc[1])!r}"
            line = _line_of(node, loc)
            field = ".".join(str(p) for p in loc)
            problems.append(f"{source}:{line}:{where} {field}: {err['msg']}")
        raise SurveyError("\n".join(problems)) from None
    return survey


def load_survey(path: str | Path) -> Survey:
    """Load a survey file from disk."""
    path = Path(path)
    return parse_survey(path.read_text(encoding="utf-8"), str(path))
