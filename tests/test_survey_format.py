"""Tests for the survey definition format: the shipped survey, errors that point a CSO at the
line to fix, skip-logic conditions and the channel limits every question must fit."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.i18n import Catalogs
from bot.survey.definition import (
    ID_PATTERN,
    TELEGRAM_CALLBACK_DATA_MAX_BYTES,
    Choice,
    Condition,
    Question,
    Survey,
    SurveyError,
    load_survey,
    parse_survey,
)
from bot.survey.engine import answer_payload, toggle_payload
from bot.survey.limits import channel_limit_problems, check_channel_limits

SETUP_TYPES = {"language", "consent", "factory"}

# A small valid survey; each test appends to it or changes one line.
BASE = """\
format: 1
id: test-survey
version: 1
title: "Test"
languages: [en, ur, sd]
thanks: "Thanks"
declined: "Declined"
questions:
  - id: language
    type: language
    text: "Please choose your language."
  - id: factory
    type: factory
    text: "Which factory do you work at?"
  - id: job
    type: single
    text: "What is your job?"
    choices:
      - {id: helper, label: "Helper"}
      - {id: operator, label: "Machine operator"}
  - id: full_month
    type: yes_no
    text: "Did you work the full month?"
  - id: pay
    type: number
    text: "How much pay did you get?"
    min: 1000
    max: 500000
"""


def line_of(text: str, snippet: str, occurrence: int = 1) -> int:
    """The 1-based number of the line holding the n-th occurrence of snippet."""
    hits = [n for n, line in enumerate(text.splitlines(), 1) if snippet in line]
    return hits[occurrence - 1]


def error_of(text: str) -> str:
    with pytest.raises(SurveyError) as info:
        parse_survey(text, "x.yaml")
    return str(info.value)


def with_question(yaml_question: str, base: str = BASE) -> str:
    return base + yaml_question


# ---------------------------------------------------------------------------- shipped survey
SHIPPED_IDS = {
    "language": [],
    "consent": [],
    "factory": [],
    "job": ["helper", "operator", "checker", "other"],
    "employment": ["permanent", "contractor", "piece_rate", "daily"],
    "pay_month": [],
    "full_month": [],
    "pay": [],
    "pay_rise": [],
    "payslip": [],
    "payment_method": ["cash", "bank", "wallet"],
    "deductions": [],
    "gender": ["woman", "man", "unsaid"],
    "comment": [],
    "contact_opt_in": [],
}


def test_shipped_survey_loads_with_its_id_and_version(survey: Survey) -> None:
    assert survey.id == "sindh-minimum-wage"
    assert survey.version == 1
    assert survey.key == "sindh-minimum-wage@1"
    assert set(survey.languages) == {"en", "ur", "sd"}
    assert survey.default_language in survey.languages


def test_shipped_survey_asks_at_most_twelve_questions_besides_the_set_up(survey: Survey) -> None:
    asked = [q for q in survey.questions if q.type not in SETUP_TYPES]
    assert 8 <= len(asked) <= 12
    assert [q.type for q in survey.questions[:3]] == ["language", "consent", "factory"]


def test_shipped_survey_keeps_its_question_and_choice_ids(survey: Survey) -> None:
    # Answers are stored under these ids: renaming one needs a new survey version.
    assert {q.id: [c.id for c in q.choices] for q in survey.questions} == SHIPPED_IDS
    assert list(SHIPPED_IDS) == [q.id for q in survey.questions]
    for q in survey.questions:
        assert re.fullmatch(ID_PATTERN, q.id)
        assert all(re.fullmatch(ID_PATTERN, c.id) for c in q.choices)


def test_shipped_survey_has_the_roles_the_wage_check_needs(survey: Survey) -> None:
    assert {
        role: getattr(survey.with_role(role), "id", None)
        for role in ("grade", "pay_month", "pay", "full_month")
    } == {"grade": "job", "pay_month": "pay_month", "pay": "pay", "full_month": "full_month"}
    pay = survey.question("pay")
    assert pay.when == [Condition(question="full_month", equals="yes")]
    assert pay.min is not None and pay.max is not None
    assert pay.min <= (pay.plausible_min or pay.min) <= (pay.plausible_max or pay.max) <= pay.max
    assert [q.id for q in survey.questions if q.contact_opt_in] == ["contact_opt_in"]
    comment = survey.question("comment")
    assert comment.optional and comment.cso_only


def test_shipped_survey_fits_every_channel_in_every_language(
    survey: Survey, catalogs: Catalogs
) -> None:
    assert channel_limit_problems(survey, catalogs) == []


def test_small_survey_used_by_these_tests_is_valid() -> None:
    parsed = parse_survey(BASE, "x.yaml")
    assert parsed.key == "test-survey@1"
    assert [q.id for q in parsed.questions] == ["language", "factory", "job", "full_month", "pay"]


# ------------------------------------------------------------------- errors name file and line
QUESTION_ERRORS = [
    pytest.param(
        with_question("  - id: q9\n    type: slider\n    text: x\n"),
        "q9",
        ["- id: q9", "type: slider"],
        "type",
        id="unknown question type",
    ),
    pytest.param(
        with_question(
            "  - id: q9\n    type: single\n    text: x\n    choices:\n"
            "      - {id: only, label: Only}\n"
        ),
        "q9",
        ["- id: q9", "choices:"],
        "at least 2 choices",
        id="one choice",
    ),
    pytest.param(
        with_question("  - id: job\n    type: yes_no\n    text: again\n"),
        "job",
        [("- id: job", 2)],
        "twice",
        id="duplicate question id",
    ),
    pytest.param(
        BASE.replace(
            '    text: "Did you work the full month?"\n',
            '    text: "Did you work the full month?"\n    when: {question: pay, equals: "1"}\n',
        ),
        "full_month",
        ["- id: full_month", "when:"],
        "'pay'",
        id="when refers to a later question",
    ),
    pytest.param(
        with_question(
            "  - id: q9\n    type: yes_no\n    text: x\n    when: {question: nope, equals: 'yes'}\n"
        ),
        "q9",
        ["- id: q9", "when:"],
        "'nope'",
        id="when refers to an unknown question",
    ),
    pytest.param(
        with_question("  - id: q9\n    type: number\n    text: x\n    min: 10\n    max: 5\n"),
        "q9",
        ["- id: q9", "min: 10", "max: 5"],
        "min <= max",
        id="min above max",
    ),
    pytest.param(
        with_question(
            "  - id: q9\n    type: number\n    text: x\n    min: 10\n    max: 50\n"
            "    plausible_max: 60\n"
        ),
        "q9",
        ["- id: q9", "plausible_max"],
        "plausible range",
        id="plausible beyond max",
    ),
    pytest.param(
        with_question(
            "  - id: q9\n    type: number\n    text: x\n    min: 10\n    max: 50\n"
            "    plausible_min: 5\n"
        ),
        "q9",
        ["- id: q9", "plausible_min"],
        "plausible range",
        id="plausible below min",
    ),
    pytest.param(
        with_question("  - id: q9\n    type: text\n    text: x\n"),
        "q9",
        ["- id: q9"],
        "optional",
        id="free text not optional",
    ),
    pytest.param(
        with_question("  - id: q9\n    type: yes_no\n    text: x\n    optinal: true\n"),
        "q9",
        ["optinal"],
        "optinal",
        id="unknown field",
    ),
    pytest.param(
        with_question(
            "  - id: q9\n    type: single\n    text: x\n    choices:\n"
            "      - {id: a, label: A}\n      - {id: a, label: B}\n"
        ),
        "q9",
        ["- id: q9", "choices:"],
        "repeat",
        id="duplicate choice ids",
    ),
    pytest.param(
        with_question(
            "  - id: q9\n    type: yes_no\n    text: x\n    choices:\n"
            "      - {id: a, label: A}\n      - {id: b, label: B}\n"
        ),
        "q9",
        ["- id: q9", "choices:"],
        "choices",
        id="choices on a yes_no question",
    ),
    pytest.param(
        with_question(
            "  - id: q9\n    type: single\n    text: x\n    contact_opt_in: true\n"
            "    choices:\n      - {id: a, label: A}\n      - {id: b, label: B}\n"
        ),
        "q9",
        ["- id: q9", "contact_opt_in"],
        "contact_opt_in",
        id="opt-in on a choice",
    ),
    pytest.param(
        with_question("  - id: q9\n    type: month\n    text: x\n"),
        "q9",
        ["- id: q9"],
        "months_back",
        id="month without months_back",
    ),
    pytest.param(
        with_question("  - id: Pay-2\n    type: yes_no\n    text: x\n"),
        "Pay-2",
        ["- id: Pay-2"],
        "pattern",
        id="badly formed id",
    ),
]


@pytest.mark.parametrize(("text", "question", "line_markers", "words"), QUESTION_ERRORS)
def test_error_names_the_file_the_line_and_the_question(
    text: str, question: str, line_markers: list[str | tuple[str, int]], words: str
) -> None:
    message = error_of(text)
    lines = {line_of(text, *(m if isinstance(m, tuple) else (m,))) for m in line_markers}
    located = re.findall(r"^x\.yaml:(\d+):", message, re.MULTILINE)
    assert located, message
    assert int(located[0]) in lines, f"expected line {sorted(lines)}: {message}"
    assert f"'{question}'" in message
    assert words in message


def test_load_survey_names_the_path_of_the_broken_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    text = with_question("  - id: q9\n    type: text\n    text: x\n")
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SurveyError) as info:
        load_survey(path)
    assert str(info.value).startswith(f"{path}:{line_of(text, '- id: q9')}:")


def test_errors_of_several_fields_are_listed_together() -> None:
    text = with_question(
        "  - id: q9\n    type: yes_no\n    text: x\n    colour: red\n"
        "  - id: q10\n    type: slider\n    text: y\n"
    )
    message = error_of(text)
    assert "'q9'" in message and "'q10'" in message
    assert len(message.splitlines()) == 2


def test_text_that_is_not_yaml_is_refused_with_the_file_name() -> None:
    assert error_of("questions: [\n").startswith("x.yaml: not valid YAML")
    assert error_of("- just\n- a list\n") == "x.yaml: a survey file must be a YAML mapping"


def test_a_survey_without_a_factory_step_is_refused() -> None:
    text = BASE.replace(
        '  - id: factory\n    type: factory\n    text: "Which factory do you work at?"\n', ""
    )
    assert "factory" in error_of(text)


def test_the_language_step_must_come_first() -> None:
    text = (
        BASE.replace(
            '  - id: language\n    type: language\n    text: "Please choose your language."\n', ""
        )
        + '  - id: language\n    type: language\n    text: "Please choose your language."\n'
    )
    assert "language step must come first" in error_of(text)


# -------------------------------------------------------------------------------- conditions
@pytest.mark.parametrize(
    ("condition", "answers", "holds"),
    [
        ({"equals": "yes"}, {"q": "yes"}, True),
        ({"equals": "yes"}, {"q": "no"}, False),
        ({"equals": "38000"}, {"q": 38000}, True),  # numbers compare as digits
        ({"any_of": ["operator", "checker"]}, {"q": "checker"}, True),
        ({"any_of": ["operator", "checker"]}, {"q": "helper"}, False),
        ({"not_any_of": ["cash"]}, {"q": "bank"}, True),
        ({"not_any_of": ["cash"]}, {"q": "cash"}, False),
        # multiple choice: a list answer matches if any chosen id matches
        ({"equals": "cash"}, {"q": ["cash", "bank"]}, True),
        ({"equals": "wallet"}, {"q": ["cash", "bank"]}, False),
        ({"any_of": ["wallet", "bank"]}, {"q": ["cash", "bank"]}, True),
        ({"any_of": ["wallet"]}, {"q": ["cash", "bank"]}, False),
        ({"not_any_of": ["cash"]}, {"q": ["cash", "bank"]}, False),
        ({"not_any_of": ["wallet"]}, {"q": ["cash", "bank"]}, True),
        ({"not_any_of": ["wallet"]}, {"q": []}, True),
        # unanswered (or skipped) never holds, not even not_any_of
        ({"equals": "yes"}, {}, False),
        ({"any_of": ["yes"]}, {"other": "yes"}, False),
        ({"not_any_of": ["yes"]}, {}, False),
    ],
)
def test_condition_holds(
    condition: dict[str, object], answers: dict[str, object], holds: bool
) -> None:
    assert Condition.model_validate({"question": "q", **condition}).holds(answers) is holds


@pytest.mark.parametrize(
    "tests", [{}, {"equals": "yes", "any_of": ["no"]}, {"any_of": ["a"], "not_any_of": ["b"]}]
)
def test_a_condition_needs_exactly_one_test(tests: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        Condition.model_validate({"question": "q", **tests})


def test_question_applies_only_when_every_condition_holds() -> None:
    q = Question.model_validate(
        {
            "id": "overtime",
            "type": "yes_no",
            "text": "x",
            "when": [
                {"question": "job", "any_of": ["operator", "checker"]},
                {"question": "payment_method", "not_any_of": ["cash"]},
            ],
        }
    )
    assert q.applies({"job": "operator", "payment_method": ["bank"]})
    assert not q.applies({"job": "operator", "payment_method": ["cash", "bank"]})
    assert not q.applies({"job": "helper", "payment_method": ["bank"]})
    assert not q.applies({"job": "operator"})
    assert Question.model_validate({"id": "free", "type": "yes_no", "text": "x"}).applies({})


def test_a_single_when_mapping_is_read_as_a_list_of_one() -> None:
    parsed = parse_survey(
        with_question(
            "  - id: q9\n    type: yes_no\n    text: x\n    when: {question: job, equals: helper}\n"
        )
    )
    assert parsed.question("q9").when == [Condition(question="job", equals="helper")]


# ---------------------------------------------------------------------------- channel limits
def choice_question(
    qid: str, labels: list[str], kind: str = "single", optional: bool = False
) -> str:
    rows = "".join(f'      - {{id: c{i}, label: "{label}"}}\n' for i, label in enumerate(labels))
    extra = "    optional: true\n" if optional else ""
    return f"  - id: {qid}\n    type: {kind}\n    text: x\n{extra}    choices:\n{rows}"


def problems_of(yaml_question: str, catalogs: Catalogs) -> list[str]:
    return channel_limit_problems(parse_survey(with_question(yaml_question)), catalogs)


def problems_about(problems: list[str], qid: str, lang: str) -> list[str]:
    return [p for p in problems if p.startswith(f"question '{qid}' [{lang}]:")]


def test_eleven_options_are_too_many_for_a_whatsapp_list(catalogs: Catalogs) -> None:
    problems = problems_of(choice_question("q9", [f"Option {n}" for n in range(11)]), catalogs)
    for lang in ("en", "ur", "sd"):
        assert any("11 options" in p and "10" in p for p in problems_about(problems, "q9", lang))


def test_ten_options_fit_a_whatsapp_list(catalogs: Catalogs) -> None:
    assert problems_of(choice_question("q9", [f"Option {n}" for n in range(10)]), catalogs) == []


@pytest.mark.parametrize(("kind", "optional"), [("multiple", False), ("single", True)])
def test_done_and_skip_buttons_count_towards_the_ten(
    catalogs: Catalogs, kind: str, optional: bool
) -> None:
    problems = problems_of(
        choice_question("q9", [f"Option {n}" for n in range(10)], kind, optional), catalogs
    )
    assert any("11 options" in p for p in problems_about(problems, "q9", "en"))


@pytest.mark.parametrize(("length", "reported"), [(24, False), (25, True), (30, True)])
def test_label_of_a_list_question_may_have_24_characters(
    catalogs: Catalogs, length: int, reported: bool
) -> None:
    label = "L" * length
    problems = problems_of(choice_question("q9", [label, "Two", "Three", "Four"]), catalogs)
    about = problems_about(problems, "q9", "en")
    assert bool(about) is reported
    if reported:
        assert about == [
            f"question 'q9' [en]: label {label!r} has {length} characters, WhatsApp allows 24 here"
        ]
        # Untranslated, the label is shown in English in every language, so each is named.
        assert problems_about(problems, "q9", "ur") and problems_about(problems, "q9", "sd")


@pytest.mark.parametrize(("length", "reported"), [(20, False), (21, True)])
def test_label_of_a_three_button_question_may_have_20_characters(
    catalogs: Catalogs, length: int, reported: bool
) -> None:
    label = "B" * length
    problems = problems_of(choice_question("q9", [label, "Two", "Three"]), catalogs)
    about = problems_about(problems, "q9", "en")
    assert bool(about) is reported
    if reported:
        assert f"has {length} characters, WhatsApp allows 20" in about[0]


@pytest.mark.parametrize(("length", "reported"), [(22, False), (23, True)])
def test_tick_of_a_multiple_choice_counts_in_the_label_length(
    catalogs: Catalogs, length: int, reported: bool
) -> None:
    # Three options and Done are four buttons: a list, 24 characters, "✓ " included.
    problems = problems_of(
        choice_question("q9", ["M" * length, "Two", "Three"], "multiple"), catalogs
    )
    assert bool(problems_about(problems, "q9", "en")) is reported


class _Translations(gettext.NullTranslations):
    def __init__(self, messages: dict[str, str]) -> None:
        super().__init__()
        self._messages = messages

    def gettext(self, message: str) -> str:
        return self._messages.get(message, message)


def test_label_too_long_only_in_translation_is_reported_for_that_language() -> None:
    catalogs = Catalogs(
        {
            "en": gettext.NullTranslations(),
            "ur": _Translations({"Bank account": "ب" * 25}),
            "sd": gettext.NullTranslations(),
        }
    )
    problems = problems_of(
        choice_question("q9", ["Cash", "Bank account", "Wallet", "Other"]), catalogs
    )
    assert len(problems) == 1
    assert problems[0].startswith("question 'q9' [ur]: label")
    assert "25 characters" in problems[0]


def test_question_text_longer_than_a_whatsapp_message_is_reported(catalogs: Catalogs) -> None:
    problems = problems_of(f'  - id: q9\n    type: yes_no\n    text: "{"w" * 1025}"\n', catalogs)
    assert any("1025 characters" in p for p in problems_about(problems, "q9", "en"))


def test_longest_allowed_ids_keep_every_payload_within_64_bytes(catalogs: Catalogs) -> None:
    qid, cid = "q" * 24, "c" * 24
    assert re.fullmatch(ID_PATTERN, qid) and re.fullmatch(ID_PATTERN, cid)
    text = with_question(
        f"  - id: {qid}\n    type: multiple\n    text: x\n    optional: true\n"
        f"    choices:\n      - {{id: {cid}, label: A}}\n"
        f"      - {{id: b, label: B}}\n"
    )
    assert channel_limit_problems(parse_survey(text), catalogs) == []
    longest = max(
        len(answer_payload(qid, cid)),
        len(toggle_payload(qid, cid)),
        len(answer_payload(qid, "_done")),
        len(answer_payload(qid, "dont_know")),
    )
    assert longest == 2 + 24 + 1 + 24 == 51 <= TELEGRAM_CALLBACK_DATA_MAX_BYTES


@pytest.mark.parametrize("where", ["question", "choice"])
def test_id_one_character_too_long_is_refused_at_load(where: str) -> None:
    long_id = "x" * 25
    text = with_question(
        choice_question("q9", ["A", "B"]).replace(
            "id: q9" if where == "question" else "id: c0", f"id: {long_id}"
        )
    )
    message = error_of(text)
    assert "pattern" in message
    assert re.match(rf"x\.yaml:{line_of(text, long_id)}:", message)


def test_payload_over_64_bytes_is_reported_when_an_id_bypasses_the_pattern(
    catalogs: Catalogs,
) -> None:
    # The pattern alone keeps ids short; the limit check is the second line of defence (a
    # survey built in code, or a future looser pattern).
    parsed = parse_survey(with_question(choice_question("q9", ["A", "B"])))
    q = parsed.question("q9")
    long_choice = Choice.model_construct(id="c" * 60, label="A", grade=None)
    broken = parsed.model_copy(
        update={
            "questions": [
                *parsed.questions[:-1],
                q.model_copy(update={"choices": [long_choice, q.choices[1]]}),
            ]
        }
    )
    problems = problems_about(channel_limit_problems(broken, catalogs), "q9", "sd")
    assert problems == [
        f"question 'q9' [sd]: payload {answer_payload('q9', 'c' * 60)!r} is 65 "
        "bytes; Telegram allows 64 ASCII bytes"
    ]


def test_month_offered_far_back_is_refused_and_payloads_name_the_month() -> None:
    # Month payloads carry "YYYY-MM" (fixed length); months_back is bounded so dates stay real.
    with pytest.raises(SurveyError, match="months_back"):
        parse_survey(
            with_question("  - id: q9\n    type: month\n    text: x\n    months_back: [1000]\n")
        )
    parsed = parse_survey(
        with_question("  - id: q9\n    type: month\n    text: x\n    months_back: [1, 24]\n")
    )
    assert parsed.question("q9").months_back == [1, 24]


def test_check_channel_limits_raises_naming_the_file(catalogs: Catalogs) -> None:
    parsed = parse_survey(with_question(choice_question("q9", ["L" * 30, "B", "C", "D"])))
    with pytest.raises(SurveyError) as info:
        check_channel_limits(parsed, catalogs, "surveys/x.yaml")
    assert str(info.value).startswith("surveys/x.yaml: question 'q9' [")
