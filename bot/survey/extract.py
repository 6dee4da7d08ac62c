"""A Babel extractor for the YAML data files, so `pybabel extract` collects survey texts.

Translators then see survey questions in the same .po files as the bot's own sentences, with a
comment saying where each text is used and how long a button label may be.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

import yaml

from bot.survey.definition import (
    WHATSAPP_BUTTON_TITLE_MAX,
    WHATSAPP_LIST_ROW_TITLE_MAX,
    WHATSAPP_MAX_BUTTONS,
)

SURVEY_KEYS = ("title", "thanks", "declined")
QUESTION_KEYS = ("text", "hint")

Message = tuple[int, str, str, list[str]]


def _scalar(node: yaml.MappingNode, key: str) -> yaml.ScalarNode | None:
    for k, v in node.value:
        if k.value == key and isinstance(v, yaml.ScalarNode):
            return v
    return None


def _child(node: yaml.MappingNode, key: str) -> yaml.Node | None:
    return next((v for k, v in node.value if k.value == key), None)


def _survey_messages(root: yaml.MappingNode) -> Iterator[Message]:
    sid = (_scalar(root, "id") or yaml.ScalarNode("", "?")).value
    for key in SURVEY_KEYS:
        node = _scalar(root, key)
        if node is not None:
            yield node.start_mark.line + 1, "", node.value, [f"survey {sid}: {key}"]
    questions = _child(root, "questions")
    if not isinstance(questions, yaml.SequenceNode):
        return
    for q in questions.value:
        if not isinstance(q, yaml.MappingNode):
            continue
        qid = (_scalar(q, "id") or yaml.ScalarNode("", "?")).value
        for key in QUESTION_KEYS:
            node = _scalar(q, key)
            if node is not None:
                yield (
                    node.start_mark.line + 1,
                    "",
                    node.value,
                    [f"survey {sid}, question {qid}: {key}. Keep {{placeholders}} as they are."],
                )
        choices = _child(q, "choices")
        if isinstance(choices, yaml.SequenceNode):
            buttons = len(choices.value) + (1 if _scalar(q, "optional") else 0)
            limit = (
                WHATSAPP_BUTTON_TITLE_MAX
                if buttons <= WHATSAPP_MAX_BUTTONS
                else WHATSAPP_LIST_ROW_TITLE_MAX
            )
            for choice in choices.value:
                label = _scalar(choice, "label") if isinstance(choice, yaml.MappingNode) else None
                if label is not None:
                    yield (
                        label.start_mark.line + 1,
                        "",
                        label.value,
                        [f"survey {sid}, question {qid}: button label, at most {limit} characters"],
                    )


def _wage_table_messages(root: yaml.MappingNode) -> Iterator[Message]:
    regions = _child(root, "regions")
    if isinstance(regions, yaml.MappingNode):
        for key, region in regions.value:
            name = _scalar(region, "name") if isinstance(region, yaml.MappingNode) else None
            if name is not None:
                yield name.start_mark.line + 1, "", name.value, [f"region {key.value}"]


def extract_survey(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: dict[str, Any]
) -> Iterator[Message]:
    """Babel extraction method `wagecheck_survey` (registered in pyproject.toml)."""
    root = yaml.compose(fileobj.read().decode("utf-8"))
    if not isinstance(root, yaml.MappingNode):
        return
    if _child(root, "questions") is not None:
        yield from _survey_messages(root)
    elif _child(root, "minimum_wages") is not None:
        yield from _wage_table_messages(root)
